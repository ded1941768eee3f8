"""Webhooks: the endpoints, and the outbox of what is owed to them.

The outbox is a set of `WebhookDelivery` nodes in the same database as the memories. An
EventBus recorder (`record`) writes them inside each memory write's own transaction, so a write
and the deliveries it owes are stored together or not at all: a crash or restart loses nothing,
and a receiver that is down simply finds its deliveries waiting. The dispatcher
(webhook_dispatch.py) sends them and reports each result back here.

Every event of one memory reaches one endpoint in the order it happened: a delivery is sent
only once every earlier delivery (lower `seq`) for the same memory and endpoint is gone.
A webhook that fails for good is marked failed; its deliveries wait (new ones keep being
recorded) until an operator enables it again or removes it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from .. import validation as v
from ..backends.base import Backend
from ..errors import NotFoundError, ValidationError
from ..events import EVENT_TYPES, MemoryEvent, event_types
from ..schema import WEBHOOK, WEBHOOK_DELIVERY

ACTIVE, FAILED, PENDING = "active", "failed", "pending"
MIN_SECRET_CHARS = 16
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class Webhook:
    """An endpoint as `list` shows it: never its secret."""

    id: str
    url: str
    events: tuple[str, ...]
    status: str  # "active" or "failed"
    created_at: datetime
    pending: int  # deliveries waiting to be sent
    failed: int  # deliveries that made the webhook fail; sent again once it is enabled
    delivered: int
    last_delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Delivery:
    """One event owed to one endpoint, as the dispatcher sends it."""

    id: str
    webhook: str
    event_id: str
    event_type: str
    memory_id: str
    seq: int
    payload: str  # the exact request body, fixed when the event was recorded
    attempts: int
    retry_since: int  # ms: when the current run of attempts began (max age counts from here)


def check_url(value: object, field: str = "url") -> str:
    url = v.text(field, value).strip()
    if len(url) > MAX_URL_CHARS:
        raise ValidationError(field, f"is {len(url)} characters; at most {MAX_URL_CHARS}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValidationError(field, f"{url!r} is not an http:// or https:// URL")
    try:
        host, _ = parts.hostname, parts.port  # a bad port raises here
    except ValueError:
        raise ValidationError(field, f"{url!r} has an invalid port") from None
    if not host:
        raise ValidationError(field, f"{url!r} names no host")
    if any(c.isspace() for c in url):
        raise ValidationError(field, "must not contain whitespace")
    return url


def check_secret(value: object) -> str:
    secret = v.text("secret", value)
    if len(secret) < MIN_SECRET_CHARS or any(c.isspace() for c in secret):
        raise ValidationError("secret", f"use at least {MIN_SECRET_CHARS} characters and no spaces "
                                        "(leave it out to have one generated)")
    return secret


class SequenceClock:
    """Delivery sequence numbers: increasing within a process and across restarts (it starts
    above the highest stored one), close to commit order between processes (microseconds)."""

    def __init__(self, start: int = 0):
        self._last = start
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._last = max(self._last + 1, time.time_ns() // 1000)
            return self._last


class WebhookService:
    def __init__(self, backend: Backend):
        self.backend = backend
        self._clock: SequenceClock | None = None

    # -- configuration ----------------------------------------------------------------------

    def add(self, url: str, events: Iterable[str] | None = None, secret: str | None = None) -> tuple[Webhook, str]:
        """A new endpoint for `events` (None: every event type) and its signing secret (the one
        given, or a generated one, which is the only time it is shown)."""
        url = check_url(url)
        chosen = event_types(events, "events")
        if not chosen:
            raise ValidationError("events", f"name at least one event type ({', '.join(EVENT_TYPES)})")
        secret = check_secret(secret) if secret is not None else "whsec_" + secrets.token_urlsafe(32)
        row = {"id": secrets.token_hex(8), "url": url, "events": ",".join(t for t in EVENT_TYPES if t in chosen),
               "secret": secret, "status": ACTIVE, "created_at": v.now_ms(), "failed_at": None,
               "last_error": None, "retry_at": 0, "delivered_count": 0, "last_delivered_at": None}
        self.backend.create_nodes(WEBHOOK, [row])
        return self.get(row["id"]), secret

    def list(self) -> list[Webhook]:
        rows = self.backend.execute(
            "MATCH (w:Webhook) RETURN w.id AS id, w.url AS url, w.events AS events, w.status AS status, "
            "w.created_at AS created_at, w.failed_at AS failed_at, w.last_error AS last_error, "
            "w.delivered_count AS delivered, w.last_delivered_at AS last_delivered_at ORDER BY created_at"
        )
        counts: dict[tuple[str, str], int] = {}
        for r in self.backend.execute("MATCH (d:WebhookDelivery) RETURN d.webhook AS webhook, d.status AS status, "
                                      "count(d) AS n"):
            counts[(r["webhook"], r["status"])] = int(r["n"])
        return [_webhook(r, counts.get((r["id"], PENDING), 0), counts.get((r["id"], FAILED), 0)) for r in rows]

    def get(self, webhook_id: str) -> Webhook:
        webhook_id = v.text("id", webhook_id)
        found = [w for w in self.list() if w.id == webhook_id]
        if not found:
            raise NotFoundError("webhook", webhook_id)
        return found[0]

    def remove(self, webhook_id: str) -> None:
        """Delete an endpoint and every delivery still owed to it."""
        webhook_id = self.get(webhook_id).id

        def unit() -> None:
            self.backend.execute("MATCH (d:WebhookDelivery {webhook: $id}) DETACH DELETE d", {"id": webhook_id})
            self.backend.execute("MATCH (w:Webhook {id: $id}) DETACH DELETE w", {"id": webhook_id})

        self.backend.atomically(unit)

    def enable(self, webhook_id: str) -> Webhook:
        """Make a failed endpoint active again: its waiting deliveries are sent, oldest first,
        each with a fresh run of attempts."""
        webhook_id = self.get(webhook_id).id
        now = v.now_ms()

        def unit() -> None:
            self.backend.execute("MATCH (w:Webhook {id: $id}) SET w.status = $active, w.failed_at = NULL, "
                                 "w.retry_at = 0", {"id": webhook_id, "active": ACTIVE})
            self.backend.execute(
                "MATCH (d:WebhookDelivery {webhook: $id}) SET d.status = $pending, d.attempts = 0, "
                "d.next_attempt = $now, d.retry_since = $now",
                {"id": webhook_id, "pending": PENDING, "now": now})

        self.backend.atomically(unit)
        return self.get(webhook_id)

    # -- the outbox: written inside each memory write's transaction -----------------------------

    def record(self, events: Sequence[MemoryEvent]) -> None:
        """The EventBus recorder: a delivery for every (event, endpoint that wants it). Endpoints
        are read in the same transaction, so one added a moment ago gets the very next write."""
        hooks = self.backend.execute("MATCH (w:Webhook) RETURN w.id AS id, w.events AS events")
        if not hooks:
            return
        clock = self._sequence()
        now = v.now_ms()
        rows = []
        for e in events:
            for hook in hooks:
                if e.type in hook["events"].split(","):
                    seq = clock.next()
                    rows.append({
                        "id": uuid.uuid4().hex, "webhook": hook["id"], "event_id": e.id, "event_type": e.type,
                        "memory_id": e.memory_id, "seq": seq, "payload": _payload(e, hook["id"], seq),
                        "status": PENDING, "attempts": 0, "next_attempt": now, "retry_since": now,
                        "created_at": now, "last_error": None,
                    })
        self.backend.create_nodes(WEBHOOK_DELIVERY, rows)

    def _sequence(self) -> SequenceClock:
        if self._clock is None:
            top = self.backend.execute("MATCH (d:WebhookDelivery) RETURN max(d.seq) AS top")
            self._clock = SequenceClock(int(top[0]["top"] or 0) if top else 0)
        return self._clock

    # -- what the dispatcher asks and reports ----------------------------------------------------

    def endpoints(self, now_ms: int) -> dict[str, tuple[str, str]]:
        """Active endpoints not backing off: id -> (url, secret)."""
        rows = self.backend.execute(
            "MATCH (w:Webhook) WHERE w.status = $active AND (w.retry_at IS NULL OR w.retry_at <= $now) "
            "RETURN w.id AS id, w.url AS url, w.secret AS secret", {"active": ACTIVE, "now": now_ms})
        return {r["id"]: (r["url"], r["secret"]) for r in rows}

    def due(self, webhooks: Sequence[str], now_ms: int, limit: int) -> list[Delivery]:
        """Deliveries that may be sent now, lowest `seq` first: for each (endpoint, memory), the
        earliest delivery still owed, if it is pending and its time has come."""
        if not webhooks:
            return []
        heads: dict[tuple[str, str], dict] = {}
        for r in self.backend.execute(
            "MATCH (d:WebhookDelivery) WHERE d.webhook IN $hooks RETURN d.id AS id, d.webhook AS webhook, "
            "d.memory_id AS memory, d.seq AS seq, d.status AS status, d.next_attempt AS next_attempt",
            {"hooks": list(webhooks)},
        ):
            key = (r["webhook"], r["memory"])
            if key not in heads or r["seq"] < heads[key]["seq"]:
                heads[key] = r
        ready = sorted((h for h in heads.values() if h["status"] == PENDING and h["next_attempt"] <= now_ms),
                       key=lambda h: h["seq"])[:limit]
        if not ready:
            return []
        rows = self.backend.execute(
            "MATCH (d:WebhookDelivery) WHERE d.id IN $ids RETURN d.id AS id, d.webhook AS webhook, "
            "d.event_id AS event_id, d.event_type AS event_type, d.memory_id AS memory_id, d.seq AS seq, "
            "d.payload AS payload, d.attempts AS attempts, d.retry_since AS retry_since",
            {"ids": [h["id"] for h in ready]},
        )
        return sorted((Delivery(**r) for r in rows), key=lambda d: d.seq)

    def claim(self, delivery: Delivery, until_ms: int) -> None:
        """Hold a delivery while it is being sent; if this process dies, it is due again at `until_ms`."""
        self.backend.execute("MATCH (d:WebhookDelivery {id: $id}) SET d.next_attempt = $until",
                             {"id": delivery.id, "until": until_ms})

    def delivered(self, delivery: Delivery, now_ms: int) -> None:
        def unit() -> None:
            self.backend.execute("MATCH (d:WebhookDelivery {id: $id}) DETACH DELETE d", {"id": delivery.id})
            self.backend.execute(
                "MATCH (w:Webhook {id: $id}) SET w.delivered_count = w.delivered_count + 1, "
                "w.last_delivered_at = $now, w.retry_at = 0", {"id": delivery.webhook, "now": now_ms})

        self.backend.atomically(unit)

    def retry_later(self, delivery: Delivery, error: str, retry_at_ms: int) -> None:
        """A failed attempt: the delivery, and the endpoint as a whole, wait until `retry_at_ms`
        (a receiver that is down is asked once per backoff, not once per delivery)."""
        def unit() -> None:
            self.backend.execute(
                "MATCH (d:WebhookDelivery {id: $id}) SET d.attempts = d.attempts + 1, d.next_attempt = $at, "
                "d.last_error = $error", {"id": delivery.id, "at": retry_at_ms, "error": error})
            self.backend.execute("MATCH (w:Webhook {id: $id}) SET w.retry_at = $at, w.last_error = $error",
                                 {"id": delivery.webhook, "at": retry_at_ms, "error": error})

        self.backend.atomically(unit)

    def give_up(self, delivery: Delivery, error: str, now_ms: int) -> None:
        """The endpoint fails for good: mark it and this delivery failed. Nothing is dropped."""
        def unit() -> None:
            self.backend.execute(
                "MATCH (d:WebhookDelivery {id: $id}) SET d.attempts = d.attempts + 1, d.status = $failed, "
                "d.last_error = $error", {"id": delivery.id, "failed": FAILED, "error": error})
            self.backend.execute(
                "MATCH (w:Webhook {id: $id}) SET w.status = $failed, w.failed_at = $now, w.last_error = $error",
                {"id": delivery.webhook, "failed": FAILED, "now": now_ms, "error": error})

        self.backend.atomically(unit)


def _payload(e: MemoryEvent, webhook_id: str, seq: int) -> str:
    return json.dumps({
        "id": e.id, "type": e.type, "memory_id": e.memory_id, "memory_type": e.memory_type, "agent": e.agent,
        "previous_id": e.previous_id, "at": v.from_ms(e.at_ms).isoformat(), "at_ms": e.at_ms,
        "sequence": seq, "webhook": webhook_id,
    }, separators=(",", ":"))


def _webhook(r: dict, pending: int, failed: int) -> Webhook:
    return Webhook(
        id=r["id"], url=r["url"], events=tuple(t for t in r["events"].split(",") if t), status=r["status"],
        created_at=v.from_ms(r["created_at"]), pending=pending, failed=failed, delivered=int(r["delivered"] or 0),
        last_delivered_at=v.from_ms(r["last_delivered_at"]), failed_at=v.from_ms(r["failed_at"]),
        last_error=r["last_error"] or None,
    )
