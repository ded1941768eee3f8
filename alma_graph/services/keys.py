"""API keys: who a request acts as.

A key is `alma_<id>_<secret>`. The graph keeps the id, the SHA-256 of the secret, the agent the key
acts as (or none for an admin key) and when it was revoked; the secret itself is shown once, at
creation. Keys live in the graph so that every server process on one database, or a cluster,
sees the same keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from .. import validation as v
from ..errors import AccessDeniedError, AuthenticationError, NotFoundError, ValidationError
from ..schema import API_KEY
from .memories import MemoryService

_TOKEN = re.compile(r"alma_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Identity:
    """What a request may do: act as one agent, or (admin) as any agent it names."""

    agent: str | None
    admin: bool = False
    key_id: str | None = None

    def acting_as(self, requested: str | None, field: str = "agent") -> str:
        """The agent a call acts as, given the agent it names (if any)."""
        if self.agent is not None:
            if requested is not None and requested != self.agent:
                raise AccessDeniedError(field, f"this API key acts as agent {self.agent!r}, not {requested!r}")
            return self.agent
        if requested is None:
            raise ValidationError(field, "is required: this key is not bound to an agent")
        return requested

    def require_admin(self, what: str) -> None:
        if not self.admin:
            raise AccessDeniedError(what, "needs an admin API key (alma-graph keys create --admin)")


ADMIN = Identity(agent=None, admin=True)


@dataclass(frozen=True)
class ApiKey:
    id: str
    agent: str | None
    admin: bool
    label: str
    created_at: datetime
    revoked_at: datetime | None


class KeyService:
    def __init__(self, memories: MemoryService):
        self.memories = memories
        self.backend = memories.store.backend

    def create(self, agent: str | None = None, *, admin: bool = False, label: str = "") -> tuple[ApiKey, str]:
        """A new key and its token (shown once). Exactly one of `agent` and `admin`."""
        if (agent is None) == (not admin):
            raise ValidationError("agent", "name an agent, or ask for an admin key, not both")
        name = None if agent is None else self.memories.agent(agent).name  # the agent must exist
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        row = {
            "id": key_id, "agent": name, "admin": admin, "secret_sha256": _digest(secret),
            "label": v.text("label", label) if label else "", "created_at": v.now_ms(), "revoked_at": None,
        }
        self.backend.create_nodes(API_KEY, [row])
        return _key(row), f"alma_{key_id}_{secret}"

    def verify(self, token: object) -> Identity:
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise AuthenticationError("the API key is malformed; expected alma_<id>_<secret>")
        key_id, secret = match.groups()
        rows = self.backend.execute(
            "MATCH (k:ApiKey {id: $id}) RETURN k.secret_sha256 AS digest, k.agent AS agent, "
            "k.admin AS admin, k.revoked_at AS revoked_at",
            {"id": key_id},
        )
        if not rows or not hmac.compare_digest(rows[0]["digest"], _digest(secret)):
            raise AuthenticationError("the API key is not known")
        if rows[0]["revoked_at"] is not None:
            raise AuthenticationError("the API key was revoked")
        return Identity(agent=rows[0]["agent"], admin=bool(rows[0]["admin"]), key_id=key_id)

    def list(self) -> list[ApiKey]:
        rows = self.backend.execute(
            "MATCH (k:ApiKey) RETURN k.id AS id, k.agent AS agent, k.admin AS admin, k.label AS label, "
            "k.created_at AS created_at, k.revoked_at AS revoked_at ORDER BY created_at"
        )
        return [_key(r) for r in rows]

    def revoke(self, key_id: str) -> None:
        key_id = v.text("key", key_id)
        if not self.backend.execute("MATCH (k:ApiKey {id: $id}) RETURN k.id AS id", {"id": key_id}):
            raise NotFoundError("API key", key_id)
        self.backend.execute(
            "MATCH (k:ApiKey {id: $id}) WHERE k.revoked_at IS NULL SET k.revoked_at = $now",
            {"id": key_id, "now": v.now_ms()},
        )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row: dict) -> ApiKey:
    return ApiKey(id=row["id"], agent=row["agent"], admin=bool(row["admin"]), label=row["label"] or "",
                  created_at=v.from_ms(row["created_at"]), revoked_at=v.from_ms(row["revoked_at"]))
