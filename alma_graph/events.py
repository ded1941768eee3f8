"""Memory events: what every write announces, and the in-process bus that carries them.

Two kinds of listener. Recorders run inside the write's own transaction (the webhook outbox is
one), so an event is stored if and only if its write is: a crash can lose neither half.
Subscribers are callbacks told after the commit, so they never hear of something a reader
cannot see yet; the GraphQL subscriptions bridge them onto the event loop.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .errors import ValidationError

log = logging.getLogger(__name__)

MEMORY_CREATED = "memory.created"
MEMORY_UPDATED = "memory.updated"
MEMORY_INVALIDATED = "memory.invalidated"
MEMORY_DELETED = "memory.deleted"
MEMORY_CONSOLIDATED = "memory.consolidated"
HEURISTIC_FORMED = "heuristic.formed"
ANTIPATTERN_DETECTED = "antipattern.detected"
EVENT_TYPES = (MEMORY_CREATED, MEMORY_UPDATED, MEMORY_INVALIDATED, MEMORY_DELETED, MEMORY_CONSOLIDATED,
               HEURISTIC_FORMED, ANTIPATTERN_DETECTED)


@dataclass(frozen=True)
class MemoryEvent:
    type: str
    memory_id: str
    agent: str
    memory_type: str
    at_ms: int
    # For an update that wrote a new version: the version it replaced.
    previous_id: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


Callback = Callable[[MemoryEvent], None]
Recorder = Callable[[Sequence[MemoryEvent]], None]


def event_types(types: Iterable[str] | None, field_name: str = "types") -> frozenset[str]:
    """The event types asked for, checked; None means all."""
    if types is None:
        return frozenset(EVENT_TYPES)
    if isinstance(types, str):
        types = [types]
    chosen = frozenset(types)
    unknown = chosen - set(EVENT_TYPES)
    if unknown:
        raise ValidationError(field_name, f"unknown event type {sorted(unknown)[0]!r}; expected {', '.join(EVENT_TYPES)}")
    return chosen


class Subscription:
    def __init__(self, bus: EventBus, callback: Callback, types: frozenset[str], agents: frozenset[str] | None):
        self._bus, self.callback, self.types, self.agents = bus, callback, types, agents

    def wants(self, event: MemoryEvent) -> bool:
        return event.type in self.types and (self.agents is None or event.agent in self.agents)

    def close(self) -> None:
        self._bus._remove(self)


class EventBus:
    """Synchronous fan-out to subscribers. A failing subscriber is logged and skipped: a write
    that has committed is never reported as failed because a listener broke."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._recorders: list[Recorder] = []
        self._lock = threading.Lock()

    def add_recorder(self, recorder: Recorder) -> None:
        """`recorder(events)` runs inside each write's transaction; an error in it fails the write."""
        self._recorders.append(recorder)

    def record(self, events: Sequence[MemoryEvent]) -> None:
        if events:
            for recorder in self._recorders:
                recorder(events)

    def subscribe(self, callback: Callback, *, types: Iterable[str] | None = None,
                  agents: Iterable[str] | None = None) -> Subscription:
        if not callable(callback):
            raise ValidationError("callback", "must be callable")
        subscription = Subscription(self, callback, event_types(types),
                                    None if agents is None else frozenset(agents))
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish(self, event: MemoryEvent) -> None:
        with self._lock:
            targets = [s for s in self._subscriptions if s.wants(event)]
        for subscription in targets:
            try:
                subscription.callback(event)
            except Exception:
                log.exception("event subscriber %r failed on %s %s", subscription.callback, event.type, event.memory_id)
