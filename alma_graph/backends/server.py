"""What the server graph databases share: Cypher over a network transport.

A server backend is a dialect (this class's subclasses: DDL, vector and full-text procedures,
how a score reads) over a transport (`Transport`: the Bolt driver, FalkorDB's Redis protocol,
Neptune's HTTPS API). The servers are schemaless, so a node carries its label plus its
families (`Memory`, `Searchable`: see schema.py), which lets "any memory" be one indexed label.

Writes are batched `UNWIND $rows` statements. A database without multi-statement transactions
(FalkorDB) gets compensation instead: when an atomic write fails halfway, the nodes it created
are deleted again (with their edges), so a failed write leaves nothing behind but the in-place
updates that had already run. A crash of the client mid-write can still leave a partial write
there; that is the stated limit of such a database.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import ParseResult, urlparse

import numpy as np

from ..errors import BackendError, ValidationError
from ..schema import FAMILIES, SCHEMA_INFO, NodeKind, RelKind, node_kind
from ..validation import identifier
from .base import Backend, Hit, Row, SearchFilter, SideBySide, T



def index_name(label: str, what: str) -> str:
    """The name of one of our indexes (`alma_heuristic_embedding`): a fixed pattern over checked
    names, so it can be written into DDL and procedure calls, which take no parameters there."""
    return f"alma_{identifier('label', label).lower()}_{identifier('index', what)}"


def check_dimension(dimension: object, maximum: int | None = None) -> int:
    """A vector dimension, checked before it is written into DDL as an integer literal."""
    if (isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1
            or (maximum is not None and dimension > maximum)):
        bound = f" up to {maximum}" if maximum is not None else ""
        raise ValidationError("dimension", f"expected a positive integer{bound}, got {dimension!r}")
    return dimension


def redact(url: str) -> str:
    """The URL without its password (the user name stays, it helps to tell databases apart)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return parsed._replace(netloc=f"{parsed.username}@{parsed.netloc.rpartition('@')[2]}").geturl()


def server_address(url: str, default_port: int, form: str) -> tuple[ParseResult, str, int]:
    """A server URL parsed, with its host (IPv6 bracketed) and port; a URL without a host or
    with a bad port is an error naming `url` (`form` shows the expected shape), password hidden."""
    parsed = urlparse(url)
    try:
        port = parsed.port or default_port
    except ValueError:
        raise ValidationError("url", f"{redact(url)!r} has no valid port number") from None
    if not parsed.hostname:
        raise ValidationError("url", f"{redact(url)!r} names no host ({form})")
    host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return parsed, host, port


class Transport(ABC):
    """How Cypher reaches one server."""

    #: whether `transaction()` makes the statements inside one atomic write
    atomic: bool = True

    @abstractmethod
    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        """Run one statement (inside the current transaction, if one is open on this thread)."""

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Open a transaction on this thread; commit on success, roll back on an exception."""

    #: whether `exclusive()` keeps writers of every client of the database apart
    exclusive_writers: bool = False

    def in_transaction(self) -> bool:
        """Whether this thread has a transaction open (its reads must then run on this thread)."""
        return False

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the database's writer lock, where the transport offers one across clients."""
        yield

    @abstractmethod
    def close(self) -> None: ...


def plain(value: object) -> object:
    """A parameter value as the drivers take it: numpy arrays and scalars become Python ones."""
    if isinstance(value, np.ndarray):
        return value.astype(float).tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class ServerBackend(Backend):
    """A Cypher server database. Subclasses give the dialect; the transport is handed in."""

    batch_size = 500  # rows per UNWIND statement
    #: whether the database itself keeps several statements atomic (FalkorDB does not)
    multi_statement_transactions = True
    #: how many more hits than asked a vector/full-text query fetches before the scope filter
    overfetch = 4
    #: independent reads of one retrieval sent at once (each waits on the network and the server)
    read_concurrency = 4

    def __init__(self, transport: Transport, url: str):
        self.transport = transport
        self.url = url
        self._dimension: int | None = None
        self._local = threading.local()  # compensation log of the open non-atomic write
        self._write_lock = threading.RLock()
        self._fetch_factor: dict[str, int] = {}  # per search statement, see _filtered
        self._side_by_side = SideBySide(self.read_concurrency, "alma-server-read")

    @property
    def isolated_writes(self) -> bool:  # type: ignore[override]
        atomic = self.multi_statement_transactions and self.transport.atomic
        return atomic or self.transport.exclusive_writers

    # -- statements -------------------------------------------------------------------------

    def execute(self, cypher: str, params: Mapping[str, object] | None = None) -> list[Row]:
        return self.transport.run(cypher, {k: plain(v) for k, v in (params or {}).items()})

    def gather(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        # Inside a write, reads stay on its thread: they must see what it wrote so far.
        writing = getattr(self._local, "created", None) is not None or self.transport.in_transaction()
        return self._side_by_side.gather(calls, in_place=writing)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.multi_statement_transactions and self.transport.atomic:
            with self.transport.transaction():
                yield
            return
        if getattr(self._local, "created", None) is not None:  # nested: the outer one compensates
            yield
            return
        # Without server transactions, writes must at least not interleave: two appending to one
        # session would both extend its tail. This client's threads queue on a lock, and clients
        # on the transport's lock where it has one.
        with self._write_lock, self.transport.exclusive():
            self._local.created = defaultdict(list)
            try:
                yield
            except BaseException as failure:
                created = self._local.created
                try:
                    self._compensate(created)
                except Exception as undo:  # noqa: BLE001 - the caller must learn what is left
                    left = {label: keys for label, keys in created.items() if keys}
                    raise BackendError(
                        f"a write failed ({failure}) and undoing it failed too ({undo}): "
                        f"these nodes it created may remain: {left}"
                    ) from failure
                raise
            finally:
                self._local.created = None

    def _compensate(self, created: dict[str, list[object]]) -> None:
        for label, keys in created.items():
            for start in range(0, len(keys), self.batch_size):
                self.delete_nodes(node_kind(label), keys[start:start + self.batch_size])

    def lock_nodes(self, kind: NodeKind, keys: Sequence[object]) -> None:
        # Writing a node takes its write lock until commit (Neo4j; Memgraph reports the
        # conflict instead, which `atomically` retries). Without server transactions, writers
        # already take turns (see `transaction`).
        if keys and self.multi_statement_transactions and self.transport.atomic:
            self.execute(f"MATCH (n:{kind.label}) WHERE n.{kind.key} IN $keys SET n._lock = true REMOVE n._lock",
                         {"keys": list(keys)})

    # -- schema -----------------------------------------------------------------------------

    def has_schema(self) -> bool:
        return bool(self.execute("MATCH (s:AlmaGraphSchema) RETURN s.key AS key LIMIT 1"))

    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        self._dimension = dimension
        keyed = {(kind.label, kind.key) for kind in nodes}
        keyed |= {(family, "id") for kind in nodes for family in kind.families}
        for label, key in sorted(keyed):
            self.create_key_index(label, key)
        for kind in nodes:
            if kind.has_vector:
                self.create_vector_index(kind.label, dimension)
            if kind.searchable:
                self.create_text_index(kind.label)

    @abstractmethod
    def create_key_index(self, label: str, key: str) -> None:
        """An index (unique where the database can enforce it) on the key; idempotent."""

    @abstractmethod
    def create_vector_index(self, label: str, dimension: int) -> None:
        """The label's native cosine vector index on `embedding`; idempotent."""

    @abstractmethod
    def create_text_index(self, label: str) -> None:
        """The label's native full-text index on `text`; idempotent."""

    # -- writes -----------------------------------------------------------------------------

    def node_assignments(self, kind: NodeKind) -> str:
        """The SET clause that stores `row` on the new node `n` (vectors may need a function)."""
        return "SET n = row"

    def create_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> None:
        labels = ":".join((kind.label, *kind.families))
        self._create(kind, rows, f"UNWIND $rows AS row CREATE (n:{labels}) {self.node_assignments(kind)}")

    def create_missing_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> list[object]:
        if not rows:
            return []
        # Writers adding keys queue on one lock where the server has row locks; where it has not,
        # the one statement decides (FalkorDB runs one query at a time).
        self.lock_nodes(SCHEMA_INFO, ["schema"])
        labels = ":".join((kind.label, *kind.families))
        rows = list({row[kind.key]: row for row in rows}.values())  # one statement would create a repeat twice
        return self._create(kind, rows, (
            f"UNWIND $rows AS row OPTIONAL MATCH (x:{kind.label} {{{kind.key}: row.{kind.key}}}) "
            f"WITH row WHERE x IS NULL CREATE (n:{labels}) {self.node_assignments(kind)} "
            f"RETURN n.{kind.key} AS key"), returns_keys=True)

    def _create(self, kind: NodeKind, rows: Sequence[Row], statement: str, *,
                returns_keys: bool = False) -> list[object]:
        """Run a node-creating statement over `rows` in batches; the keys it created."""
        created = getattr(self._local, "created", None)
        keys: list[object] = []
        for start in range(0, len(rows), self.batch_size):
            batch = [plain({k: v for k, v in row.items() if v is not None})
                     for row in rows[start:start + self.batch_size]]
            result = self.execute(statement, {"rows": batch})
            done = [r["key"] for r in result] if returns_keys else [r[kind.key] for r in batch]
            if created is not None:  # after it ran: a failed statement wrote nothing (atomic alone)
                created[kind.label].extend(done)
            keys += done
        return keys

    def create_edges(self, rel: str, from_label: str, to_label: str,
                     pairs: Sequence[tuple[str, str, Row]]) -> None:
        if not pairs:
            return
        from_key = "name" if from_label == "Agent" else "id"
        to_key = "name" if to_label == "Agent" else "id"
        statement = (
            f"UNWIND $pairs AS p MATCH (a:{from_label} {{{from_key}: p.src}}) "
            f"MATCH (b:{to_label} {{{to_key}: p.dst}}) CREATE (a)-[r:{rel}]->(b) SET r = p.props"
        )
        for start in range(0, len(pairs), self.batch_size):
            batch = [{"src": s, "dst": d, "props": {k: v for k, v in props.items() if v is not None}}
                     for s, d, props in pairs[start:start + self.batch_size]]
            self.execute(statement, {"pairs": batch})

    # -- search -----------------------------------------------------------------------------

    @abstractmethod
    def vector_query(self, label: str, predicate: str) -> str:
        """Cypher returning `id` and `score` of the nearest `$fetch` nodes to `$q` passing
        `predicate` (on `node`), best first."""

    @abstractmethod
    def similarity(self, score: float) -> float:
        """The cosine similarity a vector query's score stands for."""

    @abstractmethod
    def text_query(self, label: str, predicate: str) -> str:
        """Cypher returning `id` and `score` (higher is better) of the best `$fetch` full-text
        matches of `$q` passing `predicate` (on `node`)."""

    def text_terms(self, terms: str) -> str:
        """The words of a query (already reduced to \\w+ words) in the engine's query syntax."""
        return terms

    def vector_search(self, kind: NodeKind, vector: np.ndarray, k: int, where: SearchFilter) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32)
        if self._dimension is not None and query.shape != (self._dimension,):
            raise ValidationError("vector", f"has shape {query.shape}, the database stores {self._dimension}-d vectors")
        hits = self._filtered(kind.label, self.vector_query, where, k, {"q": query.tolist()})
        return [Hit(h.id, self.similarity(h.score)) for h in hits]

    def text_search(self, kind: NodeKind, query: str, k: int, where: SearchFilter) -> list[Hit]:
        terms = self.text_terms(query)
        if not terms:  # nothing the engine indexes (Memgraph: a query of only "_")
            return []
        return self._filtered(kind.label, self.text_query, where, k, {"q": terms})

    def _filtered(self, label: str, make_query, where: SearchFilter, k: int,
                  params: dict[str, object]) -> list[Hit]:
        """The index returns its nearest nodes before the scope filter in the same query drops
        other agents' and invalid ones; fetch more until k pass or the index is exhausted."""
        predicate, filter_params = where.cypher_where("node")
        if where.exclude_ids:
            predicate += " AND NOT node.id IN $f_exclude"
            filter_params["f_exclude"] = list(where.exclude_ids)
        statement = make_query(label, predicate)
        wanted = k + len(where.exclude_ids)
        # Start from the over-fetch the last search of this kind needed (with many agents in
        # one database, most nearest nodes belong to others).
        factor = self._fetch_factor.get(statement, self.overfetch)
        fetch = max(factor * wanted, 20)
        total: int | None = None
        while True:
            rows = self.execute(statement, {**params, **filter_params, "fetch": fetch, "k": int(k)})
            if len(rows) >= k:
                break
            if total is None:
                total = int(self.execute(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"])
            if fetch >= total:
                break
            fetch *= 4
            self._fetch_factor[statement] = max(factor, fetch // wanted)
        return [Hit(r["id"], float(r["score"])) for r in rows[:k]]

    # -- reads ------------------------------------------------------------------------------

    def any_label(self, labels: Sequence[str]) -> str:
        wanted = frozenset(labels)
        if len(wanted) == 1:
            return f":{next(iter(wanted))}"
        for family, members in FAMILIES.items():
            if members == wanted:
                return f":{family}"
        raise BackendError(f"no single label covers {sorted(wanted)} on {type(self).__name__}")

    def close(self) -> None:
        self._side_by_side.close()
        self.transport.close()
