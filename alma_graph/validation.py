"""Checks on values that come from users before they get anywhere near Cypher.

Values always travel as query parameters; the only user-supplied strings that can end up
inside query text are names (agents, memory types, properties), and those must match a strict
identifier pattern first.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from .errors import ValidationError

IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_TEXT_CHARS = 100_000


def identifier(field: str, value: object) -> str:
    """A label or property name: letters, digits and underscores, starting with a letter."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ValidationError(
            field, f"{value!r} is not a valid name (letters, digits, _; starts with a letter; max 64)"
        )
    return value


def agent_name(field: str, value: object) -> str:
    if not isinstance(value, str) or not AGENT_NAME.match(value):
        raise ValidationError(
            field,
            f"{value!r} is not a valid agent name "
            "(letters, digits, '_', '.', '-'; starts with a letter or digit; max 64)",
        )
    return value


def text(field: str, value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty")
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationError(field, f"is {len(value)} characters; the limit is {MAX_TEXT_CHARS}")
    if "\x00" in value:
        raise ValidationError(field, "contains a NUL character")
    return value


def optional_text(field: str, value: object) -> str | None:
    return None if value is None else text(field, value, allow_empty=True)


def unit_interval(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ValidationError(field, f"expected a number between 0 and 1, got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ValidationError(field, f"must be between 0 and 1, got {value}")
    return float(value)


def positive_int(field: str, value: object, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, f"expected a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValidationError(field, f"must be at most {maximum}, got {value}")
    return value


def metadata(field: str, value: object) -> dict[str, object]:
    """Free-form metadata must be a JSON-serialisable mapping with string keys."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"expected a mapping, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"is not JSON-serialisable: {exc}") from None
    if not all(isinstance(k, str) for k in value):
        raise ValidationError(field, "keys must be strings")
    return dict(value)


def timestamp_ms(field: str, value: object) -> int:
    """Accept a datetime, an ISO-8601 string or epoch seconds; store epoch milliseconds.

    Times are stored as epoch integers because not every backend's temporal types survive
    every transport (FalkorDB over Bolt, for one).
    """
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(round(dt.timestamp() * 1000))
    if isinstance(value, bool):
        raise ValidationError(field, "expected a datetime, ISO-8601 string or epoch seconds")
    if isinstance(value, (int, float)):
        if math.isnan(value) or not -1e11 < value < 1e11:
            raise ValidationError(field, f"{value!r} is not a plausible epoch time in seconds")
        return int(round(value * 1000))
    if isinstance(value, str):
        try:
            return timestamp_ms(field, datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            raise ValidationError(field, f"{value!r} is not an ISO-8601 date/time") from None
    raise ValidationError(field, f"expected a datetime, ISO-8601 string or epoch seconds, got {type(value).__name__}")


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def now_ms() -> int:
    return int(datetime.now(tz=timezone.utc).timestamp() * 1000)
