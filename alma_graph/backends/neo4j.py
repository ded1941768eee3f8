"""Neo4j 5.15+ and Neo4j Aura, over Bolt (the official `neo4j` driver).

    neo4j://user:password@host:7687/database      routing: a cluster, Aura (neo4j+s://)
    bolt://user:password@host:7687                one server, no routing (bolt+s://, +ssc)

Credentials, first found: the `auth=` option (a (user, password) pair or a driver token such
as `neo4j.bearer_auth(...)`), `user=`/`password=`, the URL, then the environment variables
`ALMA_GRAPH_NEO4J_USER` and `ALMA_GRAPH_NEO4J_PASSWORD`. The URL's path names the database
(default: the server's home database). Any other option is refused.

What differs for Neo4j:
- Keys are uniqueness constraints (`CREATE CONSTRAINT ... REQUIRE n.key IS UNIQUE`, which
  brings its own range index); the family labels (Memory, Searchable) get plain range indexes.
- Vector search is Neo4j's HNSW index (`CREATE VECTOR INDEX`, Neo4j 5.15+) queried with
  `db.index.vector.queryNodes`. Its cosine score is (1 + cos) / 2, in [0, 1]; `similarity`
  turns it back into the cosine. Vectors are written with `db.create.setNodeVectorProperty`,
  which stores 32-bit floats: half the space of a Cypher list of 64-bit floats.
- Full-text search is a Lucene full-text index (`CREATE FULLTEXT INDEX`, default analyzer:
  lower-cases, keeps stop words), scored with Lucene's BM25. The words of a query are
  lower-cased: Lucene reads upper-case AND, OR, NOT and TO as operators, and the analyzer
  lower-cases indexed text anyway. Words are OR-ed (Lucene's default operator).
- A new index is POPULATING for a while; `ensure_schema` and `refresh_indexes` wait for
  `db.awaitIndexes` (on a cluster, on the member that answers). `index_status` reads `SHOW INDEXES`.
- Server notifications are turned off for this driver: the statements are generated, and Neo4j
  would log a warning on every search that tests a property no node has yet (`invalidated_at`).

Limitations: vector search is approximate (HNSW); vectors whose norm is zero are not indexed
(cosine is undefined for them); an index does not see the uncommitted writes of the
transaction that queries it. `db.index.vector.queryNodes` is deprecated from Neo4j 2026.04 in
favour of the SEARCH clause, which Neo4j 5 lacks; the procedure still works there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from urllib.parse import urlparse

from ..errors import ValidationError
from ..schema import FAMILIES, NodeKind, RelKind
from .base import Row
from .bolt import AUTH_OPTIONS, BoltTransport, bolt_auth, reject_unknown
from .server import ServerBackend, check_dimension, index_name, redact

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
MAX_DIMENSION = 4096  # the largest vector Neo4j's vector-2.0 index takes
_KINDS = {"VECTOR": "vector", "FULLTEXT": "full-text", "RANGE": "range"}


class Neo4jBackend(ServerBackend):
    """Neo4j's dialect: constraints, vector and Lucene full-text indexes, their procedures."""

    index_timeout = 300  # seconds to wait for new indexes to come online

    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        super().ensure_schema(nodes, rels, dimension)
        self._await_indexes()

    def create_key_index(self, label: str, key: str) -> None:
        if label in FAMILIES:
            self.execute(f"CREATE INDEX {index_name(label, key)} IF NOT EXISTS FOR (n:{label}) ON (n.{key})")
        else:
            self.execute(f"CREATE CONSTRAINT {index_name(label, key + '_unique')} IF NOT EXISTS "
                         f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE")

    def create_vector_index(self, label: str, dimension: int) -> None:
        # Parameters inside OPTIONS are documented only for recent versions: a checked int literal.
        dimension = check_dimension(dimension, MAX_DIMENSION)
        self.execute(
            f"CREATE VECTOR INDEX {index_name(label, 'embedding')} IF NOT EXISTS FOR (n:{label}) "
            f"ON (n.embedding) OPTIONS {{indexConfig: {{`vector.dimensions`: {dimension}, "
            "`vector.similarity_function`: 'cosine'}}"
        )

    def create_text_index(self, label: str) -> None:
        self.execute(f"CREATE FULLTEXT INDEX {index_name(label, 'text')} IF NOT EXISTS "
                     f"FOR (n:{label}) ON EACH [n.text]")

    def _await_indexes(self) -> None:
        self.execute("CALL db.awaitIndexes($seconds)", {"seconds": self.index_timeout})

    def node_assignments(self, kind: NodeKind) -> str:
        if "embedding" not in kind.property_names:
            return "SET n = row"
        # A row without a vector passes no further than the WITH: CREATE and SET already ran for it.
        plain = ", ".join(f"n.{name} = row.{name}" for name in kind.property_names if name != "embedding")
        return (f"SET {plain} WITH n, row WHERE row.embedding IS NOT NULL "
                "CALL db.create.setNodeVectorProperty(n, 'embedding', row.embedding)")

    # -- search -----------------------------------------------------------------------------

    def vector_query(self, label: str, predicate: str) -> str:
        return (f"CALL db.index.vector.queryNodes('{index_name(label, 'embedding')}', $fetch, $q) "
                f"YIELD node, score WITH node, score WHERE {predicate} "
                "RETURN node.id AS id, score ORDER BY score DESC LIMIT $k")

    def similarity(self, score: float) -> float:
        return 2.0 * score - 1.0  # the index reports (1 + cos) / 2

    def text_query(self, label: str, predicate: str) -> str:
        return (f"CALL db.index.fulltext.queryNodes('{index_name(label, 'text')}', $q, {{limit: $fetch}}) "
                f"YIELD node, score WITH node, score WHERE {predicate} "
                "RETURN node.id AS id, score ORDER BY score DESC LIMIT $k")

    def text_terms(self, terms: str) -> str:
        return " ".join(word.lower() for word in terms.split())

    # -- index upkeep -----------------------------------------------------------------------

    def _our_indexes(self) -> list[Row]:
        rows = self.execute("SHOW INDEXES YIELD name, type, state, populationPercent, labelsOrTypes "
                            "WHERE name STARTS WITH 'alma_'")
        return sorted(rows, key=lambda row: row["name"])

    def index_status(self) -> dict[str, str]:
        """Per label, the state of each of our indexes (`vector POPULATING 40%, full-text ONLINE`)."""
        states: dict[str, list[str]] = defaultdict(list)
        for row in self._our_indexes():
            state = str(row["state"])
            if state != "ONLINE" and row["populationPercent"] is not None:
                state += f" {float(row['populationPercent']):.0f}%"
            for label in row["labelsOrTypes"] or ():
                states[label].append(f"{_KINDS.get(row['type'], str(row['type']).lower())} {state}")
        return {label: ", ".join(parts) for label, parts in sorted(states.items())}

    def refresh_indexes(self) -> dict[str, str]:
        """Neo4j keeps its indexes current on commit; this only waits for the populating ones."""
        waiting = {label for row in self._our_indexes() if row["state"] != "ONLINE"
                   for label in row["labelsOrTypes"] or ()}
        if not waiting:
            return {}
        self._await_indexes()
        status = self.index_status()
        return {label: f"waited for its indexes: {status.get(label, '')}" for label in sorted(waiting)}


def open_url(url: str, **options: object) -> Neo4jBackend:
    """A Neo4jBackend for `neo4j[+s|+ssc]://` or `bolt[+s|+ssc]://` URLs. Connects lazily: the
    first statement reaches the server."""
    scheme = urlparse(url).scheme
    if scheme not in SCHEMES:
        raise ValidationError("url", f"{redact(url)!r} is not a Neo4j URL ({', '.join(s + '://' for s in SCHEMES)})")
    auth = bolt_auth(url, options, "ALMA_GRAPH_NEO4J")
    reject_unknown(options, "Neo4j", AUTH_OPTIONS)
    transport = BoltTransport.from_url(url, scheme=scheme, auth=auth, notifications_min_severity="OFF")
    return Neo4jBackend(transport, redact(url))
