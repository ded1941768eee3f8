"""The backend protocol: the few things that differ between graph databases.

Everything else — the memory model, the queries, retrieval — is written once above this layer.
A backend runs parameterised Cypher, groups writes in transactions, creates the schema in its
own DDL, and answers vector and full-text searches with its native indexes, the scope filters
inside the query.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from ..errors import TransientBackendError
from ..schema import FAMILIES, NodeKind, RelKind

Row = dict[str, object]
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchFilter:
    """Which nodes a search may return. Applied inside the backend's query, never after it.

    Memories are bi-temporal: world time (valid_from, valid_to: when the fact held) and system
    time (created_at, invalidated_at: when it was learned and when it stopped being believed).
    Episodes have a world time (timestamp) and a created_at.
    """

    agents: tuple[str, ...]
    valid_only: bool = True  # only what is believed: not invalidated (as of `as_of_ms`, when given)
    time_property: str | None = None  # world time since/until test: valid_from, or an episode's timestamp
    since_ms: int | None = None
    until_ms: int | None = None
    exclude_ids: tuple[str, ...] = field(default=())
    # A past moment: only what held in the world then (time_property <= as_of < world_end) and
    # was known then (created_at <= as_of, invalidated after it if at all).
    as_of_ms: int | None = None
    world_end: str | None = None  # where world validity ends: valid_to for memories

    def cypher_where(self, var: str) -> tuple[str, dict[str, object]]:
        """The filter as a Cypher predicate on `var`, with its parameters."""
        clauses = [f"{var}.agent IN $f_agents"]
        params: dict[str, object] = {"f_agents": list(self.agents)}
        as_of = self.as_of_ms is not None
        if self.valid_only:
            clauses.append(f"({var}.invalidated_at IS NULL OR {var}.invalidated_at > $f_as_of)" if as_of
                           else f"{var}.invalidated_at IS NULL")
        if as_of:
            params["f_as_of"] = self.as_of_ms
            clauses.append(f"{var}.created_at <= $f_as_of")
            if self.time_property:
                clauses.append(f"{var}.{self.time_property} <= $f_as_of")
            if self.world_end:
                clauses.append(f"({var}.{self.world_end} IS NULL OR {var}.{self.world_end} > $f_as_of)")
        if self.time_property and self.since_ms is not None:
            clauses.append(f"{var}.{self.time_property} >= $f_since")
            params["f_since"] = self.since_ms
        if self.time_property and self.until_ms is not None:
            clauses.append(f"{var}.{self.time_property} <= $f_until")
            params["f_until"] = self.until_ms
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class Hit:
    id: str
    score: float  # vector: cosine similarity in [-1, 1]; text: the engine's BM25 score


# Procedures of ours that only read, per database: Kuzu; Neo4j; FalkorDB; Memgraph; Neptune Analytics.
_READ_PROCEDURES = frozenset(name.lower() for name in (
    "QUERY_FTS_INDEX", "SHOW_TABLES", "SHOW_INDEXES",
    "db.index.vector.queryNodes", "db.index.fulltext.queryNodes",
    "db.idx.vector.queryNodes", "db.idx.fulltext.queryNodes", "db.indexes",
    "vector_search.search", "text_search.search",
    "neptune.algo.vectors.get", "neptune.algo.vectors.topK.byEmbedding",
))
_READ_START = re.compile(r"\s*(MATCH|OPTIONAL\s+MATCH|UNWIND|WITH|RETURN|CALL|SHOW)\b", re.IGNORECASE)
_WRITING_CLAUSE = re.compile(
    r"\b(CREATE|MERGE|SET|DELETE|DETACH|REMOVE|DROP|COPY|LOAD|ALTER|INSTALL|ATTACH|USE|EXPORT|IMPORT|"
    r"CHECKPOINT|BEGIN|COMMIT|ROLLBACK)\b",
    re.IGNORECASE,
)
_PROCEDURE = re.compile(r"\bCALL\s+([\w.]+)", re.IGNORECASE)


def is_read(cypher: str) -> bool:
    """Whether a statement of ours only reads: it starts like a read, names no writing clause and
    calls only procedures known to read. Used to route reads to cluster followers and to let reads
    share an embedded database; anything else counts as a write, which only costs time. Our
    statements carry every value as a parameter, so keywords never hide inside literals."""
    if not _READ_START.match(cypher) or _WRITING_CLAUSE.search(cypher):
        return False
    return all(name.lower() in _READ_PROCEDURES for name in _PROCEDURE.findall(cypher))


_gathering = threading.local()  # marks the threads that run gathered reads


class SideBySide:
    """Runs a backend's independent reads on a few threads of its own, the first on the caller's."""

    def __init__(self, workers: int, name: str):
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix=name,
                                        initializer=setattr, initargs=(_gathering, "active", True))

    def gather(self, calls: Sequence[Callable[[], T]], *, in_place: bool = False) -> list[T]:
        # In place for a gathered call that gathers again: a pool waiting on itself deadlocks.
        if in_place or len(calls) < 2 or getattr(_gathering, "active", False):
            return [call() for call in calls]
        futures = [self._pool.submit(call) for call in calls[1:]]
        try:
            first = calls[0]()
        finally:
            wait(futures)  # none is left running when the caller sees an error
        return [first, *(f.result() for f in futures)]

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Backend(ABC):
    """One graph database. Subclasses hold only what differs between databases."""

    url: str

    @abstractmethod
    def execute(self, cypher: str, params: Mapping[str, object] | None = None) -> list[Row]:
        """Run one Cypher statement with parameters; rows as dicts keyed by column name."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group the statements run inside into one atomic write."""

    attempts = 4  # runs of one atomic write that hits transient failures
    #: whether `transaction()` isolates concurrent writers from each other (no: FalkorDB, Neptune
    #: Analytics — the store then checks what a rival writer may have done)
    isolated_writes = True

    def atomically(self, work: Callable[[], T]) -> T:
        """Run `work` (reads and writes) as one transaction, running it again from the start
        when the database reports a transient failure (a cluster's leader change, a deadlock):
        the statements of a failed attempt were rolled back, so a second run is safe."""
        # Per thread and backend: whether this thread is inside one of this backend's atomic writes.
        state = self.__dict__.setdefault("_atomic_state", threading.local())
        if getattr(state, "depth", 0):  # part of an outer atomic write, which retries it whole
            return work()
        for attempt in range(1, self.attempts + 1):
            try:
                state.depth = 1
                with self.transaction():
                    return work()
            except TransientBackendError as exc:
                if attempt == self.attempts:
                    raise
                log.warning("transient failure (%s); attempt %d of %d", exc, attempt + 1, self.attempts)
                time.sleep(random.uniform(0.5, 1.5) * 0.05 * 2 ** attempt)  # apart from the rival
            finally:
                state.depth = 0
        raise AssertionError("unreachable")

    def gather(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """The results of independent reads, in order. A database that can run them side by side
        may (see SideBySide); the default runs them one after another."""
        return [call() for call in calls]

    @abstractmethod
    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        """Create whatever of the schema is missing. Never drops or rewrites data."""

    @abstractmethod
    def has_schema(self) -> bool:
        """Whether this database already holds an alma-graph schema."""

    @abstractmethod
    def create_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> None:
        """Insert many nodes of one label in one batch (rows hold every property of the kind)."""

    @abstractmethod
    def create_missing_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> list[object]:
        """Create the nodes whose key no node has yet, leaving the others as they are; the keys
        created. Two writers adding one key at the same time create it once."""

    @abstractmethod
    def create_edges(
        self, rel: str, from_label: str, to_label: str, pairs: Sequence[tuple[str, str, Row]]
    ) -> None:
        """Insert many edges (from key, to key, properties) of one type in one batch."""

    @abstractmethod
    def vector_search(
        self, kind: NodeKind, vector: np.ndarray, k: int, where: SearchFilter
    ) -> list[Hit]:
        """The k nodes of `kind` passing `where` closest to `vector` (cosine), best first."""

    @abstractmethod
    def text_search(self, kind: NodeKind, query: str, k: int, where: SearchFilter) -> list[Hit]:
        """Full-text (BM25) search over the retrieval text, best first."""

    @abstractmethod
    def any_label(self, labels: Sequence[str]) -> str:
        """A node-pattern label expression matching a node with any of `labels` (e.g. ':A|B')."""

    def match_ids(self, pattern: str, var: str, ids: Sequence[str], returns: str,
                  where: str = "", params: Mapping[str, object] | None = None) -> list[Row]:
        """Rows of `MATCH pattern WHERE var.id IN ids [AND where] RETURN returns`.

        The one statement shape the store uses to start from known nodes; a backend whose planner
        turns an `IN` list into a scan can run it another way.
        """
        if not ids:
            return []
        # The filter before the list: Kuzu tests a node's conjuncts in the order written, and
        # `IN` costs a comparison per listed id (a 200-id list over 10k nodes: 9.7 ms first, 1.9 last).
        condition = f"{where} AND " if where else ""
        return self.execute(
            f"MATCH {pattern} WHERE {condition}{var}.id IN $ids RETURN {returns}",
            {**(params or {}), "ids": list(ids)},
        )

    def own_label(self, labels: object) -> str:
        """A node's own label from what `labels(n)` returned: on a database with multi-label
        nodes, a list that also holds the node's families (Memory, Searchable)."""
        return next(label for label in labels if label not in FAMILIES)  # type: ignore[attr-defined]

    def lock_nodes(self, kind: NodeKind, keys: Sequence[object]) -> None:
        """Hold the nodes' write locks until the open transaction ends, where two concurrent
        transactions could otherwise both read them and then both extend them. Embedded Kuzu
        runs one write at a time, so it has nothing to do."""

    def delete_nodes(self, kind: NodeKind, keys: Sequence[object]) -> None:
        """Delete nodes with their edges (and whatever else a backend keeps for them)."""
        if keys:
            self.execute(f"MATCH (n:{kind.label}) WHERE n.{kind.key} IN $keys DETACH DELETE n", {"keys": list(keys)})

    def embeddings(self, label: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored embedding of each node that has one (a database that keeps vectors outside
        node properties reads them its own way)."""
        rows = self.match_ids(f"(n:{label})", "n", ids, "n.id AS id, n.embedding AS e")
        return {r["id"]: np.asarray(r["e"], dtype=np.float32) for r in rows if r["e"] is not None}

    def similarities(self, label: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine similarity of each node's embedding to `vector` (unit vectors: their dot
        product). A server that can compute it saves sending the vectors over the network."""
        return {i: float(np.dot(e, vector)) for i, e in self.embeddings(label, ids).items()}

    def refresh_indexes(self) -> dict[str, str]:
        """Bring search indexes up to date after bulk work; returns what was done per label."""
        return {}

    def index_status(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def close(self) -> None: ...
