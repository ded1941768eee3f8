"""Embedded Kuzu (or its maintained fork LadybugDB, same API).

What differs from the server databases (figures: benchmarks/kuzu_costs):
- Kuzu has no multi-label nodes, so a memory type is a node table and "any memory" is Kuzu's
  label union `(m:Heuristic:Outcome:...)`.
- Bulk writes go through Arrow tables (`LOAD FROM $table`): passing 384 floats per row as
  Python lists is ~30 times slower.
- Kuzu 0.11 keeps its full-text index right for one-row inserts but not for multi-row ones
  (`LOAD FROM`/`UNWIND ... CREATE` index only part of the terms). A multi-row write goes in one
  row at a time (~1.5-2 ms a row) when that costs less than rebuilding the table's index, and
  otherwise in bulk, marking the index stale: it is rebuilt when the write commits (~10-40 us a
  row of the table; the backend times its own rebuilds). A 20-turn session appended to 90k
  episodes would otherwise wait seconds for a rebuild.
- Kuzu's HNSW index is expensive to keep: building it costs over a millisecond a row and every
  insert into an indexed table ~5 ms, while an exact cosine scan in Cypher is as fast as an
  HNSW query up to ~100k rows and exact. So tables below `vector_index_min_rows` are searched
  exactly (filters as plain parameters); above it the HNSW index is built once and queried
  through a filtered projected graph. Writes into an indexed table pay Kuzu's per-row index
  cost: index DDL is refused inside the explicit transactions that keep a batch atomic, so the
  index cannot be dropped and rebuilt around one.
- Two connections run reads side by side (benchmarks/kuzu_costs: 40 exact scans 1.41x faster on
  two), so reads go to a few read connections and writes to one writer connection, which has the
  database alone (kuzu_gate.py). A retrieval's independent reads run together (`gather`).
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import BackendError, DatabaseLockedError, DependencyMissingError, ValidationError
from ..schema import BOOL, FLOAT, INT, STRING, VECTOR, NodeKind, RelKind
from ..validation import AGENT_NAME
from .base import Backend, Hit, Row, SearchFilter, SideBySide, T, is_read
from .kuzu_gate import ConnectionGate, Session

log = logging.getLogger(__name__)
_REUSED = ("MATCH", "CALL QUERY_")  # statements whose prepared plans are kept
_PLANS_KEPT = 256
_SCAN_ROWS_PER_ID = 1_000  # table rows a scan covers in the time one id lookup costs
# A one-row insert, and a full-text index rebuild per row of the table until one is timed here
# (benchmarks/kuzu_costs).
_ONE_ROW_INSERT_S = 2e-3
_FTS_REBUILD_S_PER_ROW = 10e-6
_WRITES_PER_CHECKPOINT = 256  # small writes between checkpoints (see KuzuBackend._committed)
_PLAIN_NODE = re.compile(r"\(\w+:(\w+)\)")

_KUZU_TYPES = {STRING: "STRING", INT: "INT64", FLOAT: "DOUBLE", BOOL: "BOOLEAN"}
DEFAULT_VECTOR_INDEX_MIN_ROWS = 150_000
DEFAULT_READ_CONNECTIONS = 4


def import_engine():
    """The kuzu module, or ladybug (the maintained fork with the same API) when that is installed."""
    for name in ("kuzu", "ladybug"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise DependencyMissingError("the embedded backend", "kuzu")


def _for_kind(where: SearchFilter, kind: NodeKind) -> SearchFilter:
    """The filter as it applies to `kind`: validity means nothing for a node without
    `invalidated_at` (episodes), and Kuzu, unlike the schemaless servers, refuses to read a column
    a table lacks."""
    if where.valid_only and "invalidated_at" not in kind.property_names:
        where = replace(where, valid_only=False)
    if where.world_end and where.world_end not in kind.property_names:
        where = replace(where, world_end=None)
    return where


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity as Kuzu's array_cosine_similarity computes it: vectors of any length, and
    0 for a zero vector (the embedders' vector for a text without words)."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norms if norms else 0.0


def _fts_index(label: str) -> str:
    return f"{label.lower()}_text_fts"


def _vector_index(label: str) -> str:
    return f"{label.lower()}_embedding_hnsw"


class KuzuBackend(Backend):
    """An embedded Kuzu database in a folder on disk."""

    def __init__(self, path: str | os.PathLike[str], *, vector_index_min_rows: int | None = None,
                 read_connections: int | None = None):
        self.engine = import_engine()
        self.path = Path(path)
        self.url = f"kuzu://{self.path}"
        self.vector_index_min_rows = vector_index_min_rows or int(
            os.environ.get("ALMA_KUZU_VECTOR_INDEX_MIN_ROWS", DEFAULT_VECTOR_INDEX_MIN_ROWS)
        )
        readers = read_connections
        if readers is None:
            setting = os.environ.get("ALMA_KUZU_READ_CONNECTIONS", str(DEFAULT_READ_CONNECTIONS))
            if not setting.strip().isdigit():
                raise ValidationError("ALMA_KUZU_READ_CONNECTIONS", f"must be a whole number, got {setting!r}")
            readers = int(setting)
        if isinstance(readers, bool) or not isinstance(readers, int) or readers < 1:
            raise ValidationError("read_connections", f"must be a whole number of at least 1, got {readers!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self.engine.Database(str(self.path))
        except RuntimeError as exc:
            if "lock" in str(exc).lower():
                raise DatabaseLockedError(
                    f"the database at {self.path} is open in another process (for example "
                    "'alma-graph serve'); stop it, or send this request through that server"
                ) from None
            raise BackendError(f"cannot open Kuzu database at {self.path}: {exc}") from None
        self._gate = ConnectionGate(Session(self.engine.Connection(self._db)),
                                    [Session(self._read_connection(readers)) for _ in range(readers)])
        self._side_by_side = SideBySide(readers, "alma-kuzu-read")
        self._tx_depth = 0
        self._stale_fts: set[str] = set()
        self._fts_rebuild_s_per_row: dict[str, float] = {}  # as last timed, per table
        self._grown: set[str] = set()  # searchable tables written since indexes were last kept up
        self._writes_since_checkpoint = 0
        self._index_cache: dict[str, str] | None = None
        self._rows: dict[str, int] = {}  # nodes per table, as far as this process's writes tell
        self._dimension: int | None = None
        self._graph_ids = itertools.count()
        for extension in ("vector", "fts"):
            self._load_extension(extension)

    def _read_connection(self, readers: int):
        """A connection for reads that run beside others: Kuzu gives every statement all the
        cores by default, and several statements doing that at once oversubscribe the machine,
        so each read connection gets its share of the cores."""
        conn = self.engine.Connection(self._db)
        conn.set_max_threads_for_exec(max(1, (os.cpu_count() or 1) // readers))
        return conn

    def _internal_fault(self, session: Session, exc: RuntimeError) -> bool:
        """A C++ library error rather than one of Kuzu's own (which say '... exception: ...'),
        outside a transaction."""
        in_transaction = session is self._gate.writer and self._tx_depth
        return not in_transaction and "exception" not in str(exc).lower()

    def _load_extension(self, name: str) -> None:
        conn = self._gate.writer.conn  # an extension loads into the database, for every connection
        try:
            conn.execute(f"LOAD EXTENSION {name}")
        except RuntimeError:
            # ladybug downloads extensions on first use; kuzu 0.11 ships them in the wheel.
            try:
                conn.execute(f"INSTALL {name}")
                conn.execute(f"LOAD EXTENSION {name}")
            except RuntimeError as exc:
                raise BackendError(f"cannot load the Kuzu {name} extension: {exc}") from None

    # -- statements -------------------------------------------------------------------------

    @staticmethod
    def _run(session: Session, cypher: str, params: dict[str, object]):
        """Run a statement, reusing the prepared plan of a statement retrieval runs again and
        again: Kuzu 0.11.3 leaks memory on every parameterised statement it prepares (~17-300 KB)
        and spends about a quarter of a small query planning it. UNION statements are never
        reused: a reused prepared UNION ALL crashed Kuzu here."""
        if (not params or not cypher.startswith(_REUSED) or "UNION" in cypher
                or any(hasattr(v, "schema") for v in params.values())):
            return session.conn.execute(cypher, params)
        plans = session.plans
        statement = plans.pop(cypher, None)
        if statement is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # kuzu 0.11 flags prepare()
                statement = session.conn.prepare(cypher)
        plans[cypher] = statement  # most recently used last
        if len(plans) > _PLANS_KEPT:
            plans.pop(next(iter(plans)))
        return session.conn.execute(statement, params)

    def execute(self, cypher: str, params: Mapping[str, object] | None = None) -> list[Row]:
        access = self._gate.reading() if is_read(cypher) else self._gate.writing()
        with access as session:
            try:
                result = self._run(session, cypher, dict(params or {}))
            except RuntimeError as exc:
                if not self._internal_fault(session, exc):
                    raise BackendError(f"Kuzu rejected a query: {exc}") from None
                # Kuzu 0.11.3 sometimes leaves a long-lived connection in a state where queries
                # fail with a bare C++ error (seen: "unordered_map::at" after ~2,000 searches).
                # A statement outside a transaction is atomic, so it is safe to run it once more
                # on a fresh connection.
                log.warning("Kuzu internal error %r; retrying on a new connection", str(exc))
                session.conn = (self.engine.Connection(self._db) if session is self._gate.writer
                                else self._read_connection(len(self._gate.readers)))
                session.plans.clear()
                try:
                    result = self._run(session, cypher, dict(params or {}))
                except RuntimeError as again:
                    raise BackendError(f"Kuzu failed a query: {again}") from None
            results = result if isinstance(result, list) else [result]
            rows: list[Row] = []
            for res in results:
                columns = res.get_column_names()
                while res.has_next():
                    rows.append(dict(zip(columns, res.get_next())))
            if session is self._gate.writer and not self._tx_depth:
                self._committed()
            return rows

    def _committed(self) -> None:
        """Count a committed write; every `_WRITES_PER_CHECKPOINT`-th checkpoints (the caller
        holds the writer, alone on the database). Kuzu keeps a committed update's version data in
        memory until a checkpoint, and checkpoints by itself only once its write-ahead log passes
        16 MB: small writes, such as the access counts every retrieval records, grew a 100k store's
        process by ~100 KB each (benchmarks/scale: memory growth per retrieve)."""
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= _WRITES_PER_CHECKPOINT:
            self._writes_since_checkpoint = 0
            try:
                self._gate.writer.conn.execute("CHECKPOINT")
            except RuntimeError as exc:  # the write itself is committed: say so, do not fail it
                log.warning("Kuzu checkpoint failed (%s); the next one retries", exc)

    def gather(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        # In place for a thread holding a connection: other reads may be queued behind a write
        # that waits for it.
        return self._side_by_side.gather(calls, in_place=self._gate.holds_any())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._gate.writing() as session:
            if self._tx_depth:
                self._tx_depth += 1
                try:
                    yield
                finally:
                    self._tx_depth -= 1
                return
            session.conn.execute("BEGIN TRANSACTION")
            self._tx_depth = 1
            try:
                yield
            except BaseException:
                self._tx_depth = 0
                try:
                    session.conn.execute("ROLLBACK")
                except RuntimeError:
                    pass  # Kuzu already rolled back the transaction the failing statement was in
                self._stale_fts.clear()
                raise
            self._tx_depth = 0
            session.conn.execute("COMMIT")
            self._committed()
            self._maintain_indexes()

    def _maintain_indexes(self) -> None:
        """Index upkeep that Kuzu allows only outside an explicit transaction (the caller holds
        the writer)."""
        if self._stale_fts:
            self._forget_plans()  # plans that used the index being rebuilt
        for label in sorted(self._stale_fts):
            started = time.perf_counter()
            self.execute(f"CALL DROP_FTS_INDEX('{label}', '{_fts_index(label)}')")
            self.execute(f"CALL CREATE_FTS_INDEX('{label}', '{_fts_index(label)}', ['text'])")
            self._fts_rebuild_s_per_row[label] = (time.perf_counter() - started) / max(1, self._rows.get(label, 1))
        self._stale_fts = set()
        grown, self._grown = self._grown, set()
        for label in sorted(grown):
            if (self._rows.get(label, 0) >= self.vector_index_min_rows and not self._has_vector_index(label)
                    and self._count(label) >= self.vector_index_min_rows):
                self._build_vector_index(label)

    def _forget_plans(self) -> None:
        """Drop every connection's prepared statements; only with the writer held, when no
        read is using them."""
        for session in self._gate.sessions():
            session.plans.clear()

    # -- schema -----------------------------------------------------------------------------

    def _type(self, t: str) -> str:
        if t == VECTOR:
            return f"FLOAT[{self._dimension}]"
        return _KUZU_TYPES[t]

    def tables(self) -> set[str]:
        return {r["name"] for r in self.execute("CALL show_tables() RETURN name")}

    def has_schema(self) -> bool:
        return "AlmaGraphSchema" in self.tables()

    def ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        with self._gate.writing():
            self._ensure_schema(nodes, rels, dimension)

    def _ensure_schema(self, nodes: Sequence[NodeKind], rels: Sequence[RelKind], dimension: int) -> None:
        self._dimension = dimension
        for kind in nodes:
            columns = ", ".join(f"{name} {self._type(t)}" for name, t in kind.properties)
            self.execute(
                f"CREATE NODE TABLE IF NOT EXISTS {kind.label}({columns}, PRIMARY KEY ({kind.key}))"
            )
        for rel in rels:
            pairs = ", ".join(f"FROM {a} TO {b}" for a, b in rel.pairs)
            props = "".join(f", {name} {self._type(t)}" for name, t in rel.properties)
            self.execute(f"CREATE REL TABLE IF NOT EXISTS {rel.type}({pairs}{props})")
        existing = self._indexes()
        for kind in nodes:
            if kind.searchable and _fts_index(kind.label) not in existing:
                self.execute(f"CALL CREATE_FTS_INDEX('{kind.label}', '{_fts_index(kind.label)}', ['text'])")
        self._index_cache = None
        self._forget_plans()
        # This process holds the database exclusively, so it can keep each table's size: an empty
        # table is not searched (a Kuzu full-text query costs ~6 ms even on an empty table), and
        # the size decides how nodes are looked up by id (see match_ids).
        self._rows = {k.label: self._count(k.label) for k in nodes}

    def _indexes(self) -> dict[str, str]:
        # Read and kept under one read session: no index build can come between them and leave
        # a stale list behind.
        with self._gate.reading():
            if self._index_cache is None:
                rows = self.execute("CALL SHOW_INDEXES() RETURN index_name AS name, table_name AS t")
                self._index_cache = {r["name"]: r["t"] for r in rows}
            return self._index_cache

    def _has_vector_index(self, label: str) -> bool:
        return _vector_index(label) in self._indexes()

    def _count(self, label: str) -> int:
        return int(self.execute(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"])

    def refresh_indexes(self) -> dict[str, str]:
        """Build the HNSW index of every searchable table that has grown past the threshold."""
        done: dict[str, str] = {}
        for label in self._searchable_labels():
            count = self._count(label)
            if count >= self.vector_index_min_rows and not self._has_vector_index(label):
                self._build_vector_index(label)
                done[label] = f"built HNSW index over {count} rows"
        return done

    def index_status(self) -> dict[str, str]:
        status = {}
        for label in self._searchable_labels():
            mode = "hnsw" if self._has_vector_index(label) else "exact scan"
            status[label] = f"{self._count(label)} rows, vector search by {mode}, full-text index"
        return status

    def _searchable_labels(self) -> list[str]:
        indexes = self._indexes()
        return [t for name, t in indexes.items() if name == _fts_index(t)]

    def _build_vector_index(self, label: str) -> None:
        with self._gate.writing():
            self._index_cache = None
            self._forget_plans()
            self.execute(
                f"CALL CREATE_VECTOR_INDEX('{label}', '{_vector_index(label)}', 'embedding', metric := 'cosine')"
            )

    # -- bulk writes ------------------------------------------------------------------------

    def _arrow_table(self, columns: dict[str, tuple[str, list[object]]]):
        import pyarrow as pa

        arrays = {}
        for name, (t, values) in columns.items():
            if t == VECTOR:
                dim = self._dimension or len(next(v for v in values if v is not None))
                flat = np.asarray(values, dtype=np.float32).reshape(-1)
                arrays[name] = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), dim)
            else:
                arrow_type = {STRING: pa.string(), INT: pa.int64(), FLOAT: pa.float64(), BOOL: pa.bool_()}[t]
                arrays[name] = pa.array(values, arrow_type)
        return pa.table(arrays)

    def create_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = {name: (t, [row.get(name) for row in rows]) for name, t in kind.properties}
        table = self._arrow_table(columns)
        assignments = ", ".join(f"{name}: {name}" for name in kind.property_names)
        statement = f"LOAD FROM $rows CREATE (:{kind.label} {{{assignments}}})"
        with self._gate.writing():
            if kind.searchable and len(rows) > 1 and self._cheaper_one_at_a_time(kind.label, len(rows)):
                with self.transaction():  # all the rows or none
                    for i in range(len(rows)):
                        self.execute(statement, {"rows": table.slice(i, 1)})
            else:
                self.execute(statement, {"rows": table})
                if kind.searchable and len(rows) > 1:
                    self._stale_fts.add(kind.label)
            self._rows[kind.label] = self._rows.get(kind.label, 0) + len(rows)
            if kind.searchable:
                self._grown.add(kind.label)
            if not self._tx_depth:
                self._maintain_indexes()

    def _cheaper_one_at_a_time(self, label: str, count: int) -> bool:
        """Whether inserting `count` rows one by one, which keeps the full-text index right, costs
        less than rebuilding the index after one bulk insert."""
        if label in self._stale_fts:  # this transaction rebuilds it anyway
            return False
        rebuild = self._fts_rebuild_s_per_row.get(label, _FTS_REBUILD_S_PER_ROW) * (self._rows.get(label, 0) + count)
        return count * _ONE_ROW_INSERT_S < rebuild

    def create_missing_nodes(self, kind: NodeKind, rows: Sequence[Row]) -> list[object]:
        if not rows:
            return []
        with self._gate.writing():  # one writer: nothing comes between the check and the create
            keys = [row[kind.key] for row in rows]
            taken = {r["k"] for r in self.execute(
                f"MATCH (n:{kind.label}) WHERE n.{kind.key} IN $keys RETURN n.{kind.key} AS k", {"keys": keys})}
            new = list({row[kind.key]: row for row in rows if row[kind.key] not in taken}.values())
            self.create_nodes(kind, new)
        return [row[kind.key] for row in new]

    def create_edges(self, rel: str, from_label: str, to_label: str,
                     pairs: Sequence[tuple[str, str, Row]]) -> None:
        if not pairs:
            return
        prop_names = sorted({k for _, _, props in pairs for k in props})
        columns: dict[str, tuple[str, list[object]]] = {
            "src": (STRING, [p[0] for p in pairs]),
            "dst": (STRING, [p[1] for p in pairs]),
        }
        for name in prop_names:
            values = [p[2].get(name) for p in pairs]
            t = INT if all(isinstance(v, int) or v is None for v in values) else STRING
            columns[f"p_{name}"] = (t, values)
        table = self._arrow_table(columns)
        from_key = "name" if from_label == "Agent" else "id"
        to_key = "name" if to_label == "Agent" else "id"
        props = ", ".join(f"{name}: p_{name}" for name in prop_names)
        self.execute(
            # Written as two MATCH ... WHERE steps: Kuzu plans `MATCH (a {key: src}), (b {key: dst})`
            # after LOAD FROM as a cross product, which runs out of memory at ~100k nodes.
            f"LOAD FROM $rows MATCH (a:{from_label}) WHERE a.{from_key} = src "
            f"MATCH (b:{to_label}) WHERE b.{to_key} = dst CREATE (a)-[:{rel} {{{props}}}]->(b)",
            {"rows": table},
        )

    # -- search -----------------------------------------------------------------------------

    def vector_search(self, kind: NodeKind, vector: np.ndarray, k: int, where: SearchFilter) -> list[Hit]:
        query = np.asarray(vector, dtype=np.float32)
        if query.shape != (self._dimension,):
            raise ValidationError("vector", f"has shape {query.shape}, the database stores {self._dimension}-d vectors")
        if self._rows.get(kind.label) == 0:
            return []
        where = _for_kind(where, kind)
        if self._has_vector_index(kind.label):
            return self._hnsw_search(kind, query, k, where)
        predicate, params = where.cypher_where("n")
        exclude = " AND NOT n.id IN $f_exclude" if where.exclude_ids else ""
        rows = self.execute(
            f"MATCH (n:{kind.label}) WHERE {predicate}{exclude} AND n.embedding IS NOT NULL "
            "WITH n, array_cosine_similarity(n.embedding, $q) AS s "
            "RETURN n.id AS id, s ORDER BY s DESC LIMIT $k",
            {**params, "q": query.tolist(), "k": int(k), "f_exclude": list(where.exclude_ids)}
            if where.exclude_ids else {**params, "q": query.tolist(), "k": int(k)},
        )
        return [Hit(r["id"], float(r["s"])) for r in rows]

    def _hnsw_search(self, kind: NodeKind, query: np.ndarray, k: int, where: SearchFilter) -> list[Hit]:
        # A projected graph is how Kuzu filters inside an HNSW search; its filter is query text,
        # not a parameter, so it is built only from checked agent names and integers.
        graph = f"alma_filtered_{next(self._graph_ids)}"
        predicate = self._literal_predicate(where)
        with self._gate.writing():  # creating a projected graph is a write in Kuzu
            self.execute(
                f"CALL PROJECT_GRAPH('{graph}', {{'{kind.label}': '{predicate}'}}, [])"
            )
            try:
                rows = self.execute(
                    f"CALL QUERY_VECTOR_INDEX('{graph}', '{_vector_index(kind.label)}', $q, $k) "
                    "RETURN node.id AS id, distance ORDER BY distance",
                    {"q": query.tolist(), "k": int(k) + len(where.exclude_ids)},
                )
            finally:
                self.execute(f"CALL DROP_PROJECTED_GRAPH('{graph}')")
        excluded = set(where.exclude_ids)
        return [Hit(r["id"], 1.0 - float(r["distance"])) for r in rows if r["id"] not in excluded][:k]

    @staticmethod
    def _literal_predicate(where: SearchFilter) -> str:
        for agent in where.agents:
            if not AGENT_NAME.match(agent):
                raise ValidationError("agent", f"{agent!r} is not a valid agent name")
        for name in ("time_property", "world_end"):
            prop = getattr(where, name)
            if prop and not re.fullmatch(r"[a-z_]+", prop):
                raise ValidationError(name, f"{prop!r} is not a property name")
        # The filter every other search uses, its parameters written in: checked agent names
        # and integers only.
        predicate, params = where.cypher_where("n")

        def literal(match: re.Match[str]) -> str:
            value = params[match.group(1)]
            if isinstance(value, list):
                return "[" + ", ".join(f'"{a}"' for a in value) + "]"
            return str(int(value))  # type: ignore[call-overload]

        return re.sub(r"\$(\w+)", literal, predicate)

    def text_search(self, kind: NodeKind, query: str, k: int, where: SearchFilter) -> list[Hit]:
        if self._rows.get(kind.label) == 0:
            return []
        predicate, params = _for_kind(where, kind).cypher_where("node")
        exclude = " AND NOT node.id IN $f_exclude" if where.exclude_ids else ""
        if where.exclude_ids:
            params["f_exclude"] = list(where.exclude_ids)
        # Kuzu's full-text search cannot run on a filtered projected graph, so it ranks every
        # matching node and the filter follows in the same query; a `top` cut-off before the
        # filter would let other agents' nodes crowd this agent's out.
        rows = self.execute(
            f"CALL QUERY_FTS_INDEX('{kind.label}', '{_fts_index(kind.label)}', $q) "
            f"WITH node, score WHERE {predicate}{exclude} "
            "RETURN node.id AS id, score ORDER BY score DESC LIMIT $k",
            {**params, "q": query, "k": int(k)},
        )
        return [Hit(r["id"], float(r["score"])) for r in rows]

    def match_ids(self, pattern: str, var: str, ids: Sequence[str], returns: str,
                  where: str = "", params: Mapping[str, object] | None = None) -> list[Row]:
        # Kuzu reads `id IN $list` as a scan of the whole table (~0.24 us a row: 24 ms at 100k)
        # but `id = $one` as a primary-key lookup, one reused plan for every id (~0.05-0.2 ms each).
        # The lookups win only on a large table. There a plain read becomes one lookup per id, and a
        # walk to anonymous nodes starts from the nodes' offsets in their table, found by those
        # lookups: a walk from one looked-up node costs ~1 ms, but a filter on offsets skips the id
        # column (edges arriving at 23 episodes at 100k: 16 ms by ids, 6 + 2.5 ms by offsets). A
        # walk that reads the nodes at its other end scans their table anyway, and the lookups do
        # not pay (NEXT neighbours of 19 episodes: 10 ms by ids, 9 + 2 ms by offsets).
        table = re.search(rf"\({re.escape(var)}:(\w+)\)", pattern)
        if table is not None and self._looks_up_each(table.group(1), ids):
            if _PLAIN_NODE.fullmatch(pattern):
                condition = f" AND {where}" if where else ""
                statement = f"MATCH {pattern} WHERE {var}.id = $id{condition} RETURN {returns}"
                lookups = [partial(self.execute, statement, {**(params or {}), "id": one}) for one in dict.fromkeys(ids)]
                return [row for rows in self.gather(lookups) for row in rows]
            if pattern.endswith("-()"):
                return self._walk_from_offsets(table.group(1), pattern, var, ids, returns, where, params)
        return super().match_ids(pattern, var, ids, returns, where, params)

    def _looks_up_each(self, table: str, ids: Sequence[str]) -> bool:
        return self._rows.get(table, 0) >= _SCAN_ROWS_PER_ID * len(ids)

    def _walk_from_offsets(self, table: str, pattern: str, var: str, ids: Sequence[str], returns: str,
                           where: str, params: Mapping[str, object] | None) -> list[Row]:
        lookup = f"MATCH (n:{table}) WHERE n.id = $id RETURN offset(id(n)) AS o"
        with self._gate.reading():  # an offset names a node only until the next write
            offsets = [row["o"] for one in dict.fromkeys(ids) for row in self.execute(lookup, {"id": one})]
            if not offsets:
                return []
            condition = f"{where} AND " if where else ""
            return self.execute(
                f"MATCH {pattern} WHERE {condition}offset(id({var})) IN $offsets RETURN {returns}",
                {**(params or {}), "offsets": offsets},
            )

    def similarities(self, label: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        query = np.asarray(vector, dtype=np.float32)
        if self._looks_up_each(label, ids):
            # Binding the query's floats to every lookup costs more (~0.23 ms a node) than reading
            # the node's vector back and comparing here (~0.1 ms).
            return {i: _cosine(e, query) for i, e in self.embeddings(label, ids).items()}
        rows = self.match_ids(f"(n:{label})", "n", ids,
                              "n.id AS id, array_cosine_similarity(n.embedding, $q) AS s",
                              params={"q": query.tolist()})
        return {r["id"]: float(r["s"]) for r in rows if r["s"] is not None}

    def own_label(self, labels: object) -> str:
        return str(labels)  # a node is in one table, and labels(n) names it

    def any_label(self, labels: Sequence[str]) -> str:
        # Kuzu reads `(n:A:B)` as "a node of table A or of table B".
        return ":" + ":".join(labels)

    def close(self) -> None:
        self._side_by_side.close()
        with self._gate.writing():
            try:
                for session in self._gate.sessions():
                    session.conn.close()
                self._db.close()
            except Exception:  # noqa: BLE001 - closing twice must stay harmless
                pass

