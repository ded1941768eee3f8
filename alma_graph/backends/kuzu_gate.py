"""Who may use which Kuzu connection, and when.

An embedded Kuzu database is one process's, but two connections read it side by side (a
statement releases the GIL while Kuzu works). Reads share the database, each on a connection of
its own; a write, or a transaction, has the database alone on the writer connection, so no read
ever sees half of a batch and Kuzu's checkpoints never wait on a reader.

Threads are served in arrival order. A thread that reads in a tight loop must not take a
connection back before a thread that has been waiting for one (a plain queue of connections
lets it, and the waiter starves), and a write waiting for the readers to finish must not be
passed by readers that arrived after it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

@dataclass(eq=False)
class Session:
    """A connection and the statements prepared on it (a prepared statement belongs to one)."""

    conn: object
    plans: dict[str, object] = field(default_factory=dict)


class ConnectionGate:
    def __init__(self, writer: Session, readers: Sequence[Session]):
        self.writer = writer
        self.readers = tuple(readers)
        self._free = list(readers)
        self._reading = 0
        self._owner: int | None = None  # the thread holding the writer
        self._waiting: deque[object] = deque()  # tickets, in arrival order
        self._changed = threading.Condition()
        self._mine = threading.local()  # the read session this thread holds, if any

    def holds_any(self) -> bool:
        return self._owner == threading.get_ident() or getattr(self._mine, "session", None) is not None

    def _wait_turn(self, ready) -> None:
        ticket = object()
        self._waiting.append(ticket)
        try:
            while not (self._waiting[0] is ticket and ready()):
                self._changed.wait()
        finally:
            self._waiting.remove(ticket)
            self._changed.notify_all()  # the next in line may go now too

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session to read on: the writer's for the thread holding it, else a read connection
        (the one this thread already holds, if any)."""
        if self._owner == threading.get_ident():
            yield self.writer
            return
        held = getattr(self._mine, "session", None)
        if held is not None:
            yield held
            return
        with self._changed:
            self._wait_turn(lambda: self._free and self._owner is None)
            session = self._free.pop()
            self._reading += 1
        self._mine.session = session
        try:
            yield session
        finally:
            self._mine.session = None
            with self._changed:
                self._free.append(session)
                self._reading -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """The writer session, alone on the database; nested use by the same thread is free."""
        me = threading.get_ident()
        if self._owner == me:
            yield self.writer
            return
        if getattr(self._mine, "session", None) is not None:
            # Waiting for the readers to finish while being one of them would never end.
            raise RuntimeError("a thread reading on a Kuzu read connection cannot start a write")
        with self._changed:
            self._wait_turn(lambda: self._owner is None and self._reading == 0)
            self._owner = me
        try:
            yield self.writer
        finally:
            with self._changed:
                self._owner = None
                self._changed.notify_all()

    def sessions(self) -> tuple[Session, ...]:
        return (self.writer, *self.readers)
