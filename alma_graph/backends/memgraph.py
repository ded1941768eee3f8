"""Memgraph 3.6+ over Bolt (the official `neo4j` driver; gqlalchemy is not needed).

    memgraph://user:password@host:7687/database   -> the driver's bolt://host:7687
    memgraph+s://host:7687                        -> bolt+s:// (TLS)

Credentials, first found: the `auth=` option, `user=`/`password=`, the URL, then the environment
variables `ALMA_GRAPH_MEMGRAPH_USER` and `ALMA_GRAPH_MEMGRAPH_PASSWORD`; without any, no
authentication (Memgraph's default). The URL's path names the database (multi-tenant
Memgraph); any other option is refused.

What differs for Memgraph:
- A uniqueness constraint brings no index in Memgraph, so a key gets both
  (`CREATE INDEX ON :Label(key)`, `CREATE CONSTRAINT ON (n:Label) ASSERT n.key IS UNIQUE`); the
  family labels (Memory, Searchable) get the index only. Memgraph refuses index and constraint
  statements and `SHOW ... INFO` inside explicit transactions, and `execute_query` opens one, so
  these run as auto-commit statements; a vector or text index whose name exists is an error
  there, so `ensure_schema` reads what exists first (`SHOW INDEX INFO`, `SHOW CONSTRAINT INFO`,
  `SHOW VECTOR INDEX INFO`).
- Vector search is Memgraph's USearch index (`CREATE VECTOR INDEX ... WITH CONFIG {"metric": "cos"}`)
  queried with `vector_search.search`, which yields `distance` (1 - cos for "cos") and
  `similarity` (1 - distance): the cosine itself. `capacity` is where the index starts
  (`vector_capacity`); it grows by its resize coefficient (default 2) when full. The vector is
  kept in the index only (32-bit floats), the node holds a reference to it.
- Full-text search is a Tantivy text index on the `text` property (`CREATE TEXT INDEX name ON
  :Label(text)`), queried with `text_search.search(index, query, {limit: n})`, which yields
  `node` and `score` (Tantivy's BM25). The query names the property (`data.text:word`) and
  OR-s the words; they are lower-cased because Tantivy reads upper-case AND, OR, NOT and IN as
  operators (its tokenizer lower-cases indexed text anyway), and split at "_" as the tokenizer
  splits indexed text.
- Indexes are current when a write commits, so `refresh_indexes` has nothing to do.

Versions: the relevance score, the `limit` option and text indexes on chosen properties came
with Memgraph 3.6, which also made text search a regular feature; before 3.6 it needed
`--experimental-enabled=text-search` and yielded no score, which this backend needs.
`CREATE VECTOR INDEX` is Memgraph 3.x syntax (2.x configured vector indexes with startup flags).

Limitations: vector search is approximate (HNSW) and its index works at READ_UNCOMMITTED
isolation; a text index does not see the uncommitted writes of the transaction that queries it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlparse

from ..errors import ValidationError
from ..schema import FAMILIES, NodeKind, RelKind
from ..validation import identifier
from .base import Row
from .bolt import AUTH_OPTIONS, BoltTransport, bolt_auth, reject_unknown
from .server import ServerBackend, check_dimension, index_name, redact

SCHEMES = {"memgraph": "bolt", "memgraph+s": "bolt+s"}
_WORD_PART = re.compile(r"[^\W_]+")  # letters and digits: what Tantivy's tokenizer keeps together
_NAMED_INDEX = re.compile(r"\(name: ([^)]+)\)")  # text indexes in SHOW INDEX INFO: "text (name: x)"


def _properties(value: object) -> tuple[str, ...]:
    """A SHOW ... INFO property column (a name, "a, b", or a list) as a tuple of names."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return ()


@dataclass
class _Existing:
    """The schema objects a Memgraph database already has."""

    indexes: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)  # label-property
    unique: set[tuple[str, tuple[str, ...]]] = field(default_factory=set)
    named: set[str] = field(default_factory=set)  # vector and text indexes


class MemgraphBackend(ServerBackend):
    """Memgraph's dialect: index DDL outside transactions, USearch and Tantivy procedures."""

    vector_capacity = 1024  # vectors a new index has room for before it first grows

    def __init__(self, transport: BoltTransport, url: str):
        super().__init__(transport, url)
        self.transport: BoltTransport = transport
        self._existing: _Existing | None = None

    def _schema_statement(self, cypher: str) -> list[Row]:
        return self.transport.run_autocommit(cypher, {})

    def _read_existing(self) -> _Existing:
        if self._existing is None:
            found = _Existing()
            for row in self._schema_statement("SHOW INDEX INFO"):
                kind = str(row.get("index type", ""))
                named = _NAMED_INDEX.search(kind)
                if named:
                    found.named.add(named.group(1))
                elif kind == "label+property":
                    found.indexes.add((row["label"], _properties(row["property"])))
            for row in self._schema_statement("SHOW CONSTRAINT INFO"):
                if row.get("constraint type") == "unique":
                    found.unique.add((row["label"], _properties(row["properties"])))
            found.named |= {row["index_name"] for row in self._schema_statement("SHOW VECTOR INDEX INFO")}
            self._existing = found
        return self._existing

    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        self._existing = None  # read afresh: another client may have changed the schema
        try:
            super().ensure_schema(nodes, rels, dimension)
        finally:
            self._existing = None

    def create_key_index(self, label: str, key: str) -> None:
        label, key = identifier("label", label), identifier("key", key)
        existing = self._read_existing()
        if (label, (key,)) not in existing.indexes:
            self._schema_statement(f"CREATE INDEX ON :{label}({key})")
            existing.indexes.add((label, (key,)))
        if label not in FAMILIES and (label, (key,)) not in existing.unique:
            self._schema_statement(f"CREATE CONSTRAINT ON (n:{label}) ASSERT n.{key} IS UNIQUE")
            existing.unique.add((label, (key,)))

    def create_vector_index(self, label: str, dimension: int) -> None:
        name = index_name(label, "embedding")
        existing = self._read_existing()
        if name in existing.named:
            return
        # WITH CONFIG takes parameters only in recent releases: checked int literals.
        self._schema_statement(
            f"CREATE VECTOR INDEX {name} ON :{label}(embedding) WITH CONFIG "
            f'{{"dimension": {check_dimension(dimension)}, '
            f'"capacity": {int(self.vector_capacity)}, "metric": "cos"}}'
        )
        existing.named.add(name)

    def create_text_index(self, label: str) -> None:
        name = index_name(label, "text")
        existing = self._read_existing()
        if name not in existing.named:
            self._schema_statement(f"CREATE TEXT INDEX {name} ON :{label}(text)")
            existing.named.add(name)

    # -- search -----------------------------------------------------------------------------

    def vector_query(self, label: str, predicate: str) -> str:
        return (f"CALL vector_search.search('{index_name(label, 'embedding')}', $fetch, $q) "
                f"YIELD node, similarity WITH node, similarity WHERE {predicate} "
                "RETURN node.id AS id, similarity AS score ORDER BY score DESC LIMIT $k")

    def similarity(self, score: float) -> float:
        return score  # "cos" similarity is 1 - (1 - cos)

    def text_query(self, label: str, predicate: str) -> str:
        return (f"CALL text_search.search('{index_name(label, 'text')}', $q, {{limit: $fetch}}) "
                f"YIELD node, score WITH node, score WHERE {predicate} "
                "RETURN node.id AS id, score ORDER BY score DESC LIMIT $k")

    def text_terms(self, terms: str) -> str:
        # Tantivy's tokenizer splits at "_" too; a query word it split would become a phrase.
        return " OR ".join(f"data.text:{word.lower()}" for word in _WORD_PART.findall(terms))

    # -- index upkeep -----------------------------------------------------------------------

    def index_status(self) -> dict[str, str]:
        """Per label, our vector index's fill (`vector 120 of 1024`) and text index's size."""
        status: dict[str, list[str]] = defaultdict(list)
        for row in self._schema_statement("SHOW VECTOR INDEX INFO"):
            if str(row.get("index_name", "")).startswith("alma_"):
                status[row["label"]].append(f"vector {row.get('size')} of {row.get('capacity')}")
        for row in self._schema_statement("SHOW INDEX INFO"):
            named = _NAMED_INDEX.search(str(row.get("index type", "")))
            if named and named.group(1).startswith("alma_"):
                status[row["label"]].append(f"text {row.get('count')} nodes")
        return {label: ", ".join(parts) for label, parts in sorted(status.items())}


def open_url(url: str, **options: object) -> MemgraphBackend:
    """A MemgraphBackend for `memgraph://` and `memgraph+s://` URLs. Connects lazily: the first
    statement reaches the server."""
    scheme = urlparse(url).scheme
    if scheme not in SCHEMES:
        raise ValidationError("url", f"{redact(url)!r} is not a Memgraph URL (memgraph://, memgraph+s://)")
    auth = bolt_auth(url, options, "ALMA_GRAPH_MEMGRAPH")
    reject_unknown(options, "Memgraph", AUTH_OPTIONS)
    return MemgraphBackend(BoltTransport.from_url(url, scheme=SCHEMES[scheme], auth=auth), redact(url))
