"""Sending the webhook outbox: signing, retries with backoff, and the background thread.

Each request is a POST of the delivery's JSON body with

    X-Alma-Event-Id:   the event's id (the same on every retry: de-duplicate on it)
    X-Alma-Event-Type: memory.created, ...
    X-Alma-Timestamp:  Unix seconds when this attempt was signed
    X-Alma-Signature:  sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>

Delivery is at least once: a 2xx removes the delivery; anything else, or no answer, is tried
again after an exponential, jittered, capped backoff. A 4xx other than 408 and 429 means the
receiver will not take it, and so does a delivery still failing after `max_attempts` or
`max_age_seconds`: the webhook is then marked failed, visible in `alma-graph webhooks list`
and the GraphQL `webhooks` query, and waits for an operator to enable it again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, fields

import httpx

from ..errors import ValidationError
from .webhooks import Delivery, WebhookService

log = logging.getLogger(__name__)

SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Alma-Signature", "X-Alma-Timestamp"
EVENT_ID_HEADER, EVENT_TYPE_HEADER = "X-Alma-Event-Id", "X-Alma-Event-Type"
_RETRYABLE_4XX = {408, 429}


@dataclass(frozen=True)
class DeliverySettings:
    """How the dispatcher sends. Each field can be set from the environment as
    ALMA_WEBHOOK_<FIELD> (e.g. ALMA_WEBHOOK_BACKOFF_CAP_SECONDS=60), see `from_env`."""

    poll_seconds: float = 1.0  # how often the outbox is looked at when no write wakes it
    timeout_seconds: float = 10.0  # per request
    backoff_base_seconds: float = 1.0  # the first retry waits about this long, then twice as long, ...
    backoff_cap_seconds: float = 600.0
    max_attempts: int = 50  # then the webhook is marked failed
    max_age_seconds: float = 24 * 3600.0  # a delivery still failing this long after its first attempt: failed
    batch: int = 100  # deliveries per look at the outbox

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> DeliverySettings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(f"ALMA_WEBHOOK_{f.name.upper()}")
            if raw is None:
                continue
            try:
                values[f.name] = int(raw) if f.type == "int" else float(raw)
            except ValueError:
                raise ValidationError(f"ALMA_WEBHOOK_{f.name.upper()}", f"expected a number, got {raw!r}") from None
            if values[f.name] <= 0:  # type: ignore[operator]
                raise ValidationError(f"ALMA_WEBHOOK_{f.name.upper()}", "must be positive")
        return cls(**values)  # type: ignore[arg-type]

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt `attempt + 1`: doubling from the base, capped, with "equal
        jitter" (half fixed, half random) so that retries of many receivers spread out."""
        delay = min(self.backoff_cap_seconds, self.backoff_base_seconds * 2 ** min(attempt - 1, 32))
        return delay / 2 + random.uniform(0, delay / 2)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Alma-Signature value for a body sent at `timestamp` (Unix seconds, as a string)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_seconds: float = 300,
           now: float | None = None) -> bool:
    """Whether a request came from this webhook's sender, recently: what a Python receiver calls."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookDispatcher:
    """Sends due deliveries, on a background thread (`start`/`stop`) or in the caller's
    (`deliver_due`). Several dispatchers on one database are safe: a claimed delivery is left
    alone until its claim runs out, and a duplicate is what the event id is for."""

    def __init__(self, service: WebhookService, settings: DeliverySettings | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.service = service
        self.settings = settings or DeliverySettings()
        self._http = httpx.Client(timeout=self.settings.timeout_seconds, follow_redirects=False, transport=transport)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round ----------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Send what is due now; returns the number of requests made."""
        now = _now_ms()
        endpoints = self.service.endpoints(now)
        down: set[str] = set()  # endpoints that failed this round: the rest of their queue waits
        sent = 0
        for delivery in self.service.due(list(endpoints), now, self.settings.batch):
            if delivery.webhook in down or self._stop.is_set():
                continue
            url, secret = endpoints[delivery.webhook]
            if not self._send(delivery, url, secret):
                down.add(delivery.webhook)
            sent += 1
        return sent

    def deliver_until_idle(self, max_rounds: int = 1_000_000) -> int:
        """Rounds of `deliver_due` until nothing is due (a receiver backing off counts as idle)."""
        total = 0
        for _ in range(max_rounds):
            sent = self.deliver_due()
            total += sent
            if not sent:
                break
        return total

    def _send(self, delivery: Delivery, url: str, secret: str) -> bool:
        self.service.claim(delivery, _now_ms() + int((self.settings.timeout_seconds + 30) * 1000))
        body = delivery.payload.encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "alma-graph-webhooks",
                   EVENT_ID_HEADER: delivery.event_id, EVENT_TYPE_HEADER: delivery.event_type,
                   TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}
        retry_after: float | None = None
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error, permanent = f"{type(exc).__name__}: {exc}"[:500], False
        else:
            if response.is_success:
                self.service.delivered(delivery, _now_ms())
                return True
            status = response.status_code
            error = f"HTTP {status} from {url}"
            permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
            retry_after = _retry_after(response)
        self._failed(delivery, error, permanent, retry_after)
        return False

    def _failed(self, delivery: Delivery, error: str, permanent: bool, retry_after: float | None) -> None:
        now = _now_ms()
        attempts = delivery.attempts + 1
        too_old = now - delivery.retry_since >= self.settings.max_age_seconds * 1000
        if permanent or attempts >= self.settings.max_attempts or too_old:
            why = "" if permanent else f" (gave up after {attempts} attempts)"
            log.warning("webhook %s failed: %s%s", delivery.webhook, error, why)
            self.service.give_up(delivery, error + why, now)
            return
        wait = self.settings.backoff(attempts)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.settings.backoff_cap_seconds))
        self.service.retry_later(delivery, error, now + int(wait * 1000))

    # -- the background thread ------------------------------------------------------------------

    def wake(self, *_: object) -> None:
        """Look at the outbox now (a write just committed) instead of at the next poll."""
        self._wake.set()

    def start(self) -> WebhookDispatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alma-webhooks", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a write committing during it wakes the next one
            try:
                sent = self.deliver_due()
            except Exception:  # a database hiccup must not end delivery for the life of the process
                log.exception("webhook delivery round failed; trying again")
                sent = 0
            if not sent:
                self._wake.wait(self.settings.poll_seconds)

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the request in flight (which waits at most the request timeout)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.timeout_seconds + 5 if timeout is None else timeout)
            self._thread = None
        self._http.close()


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else None


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
