"""The schema files under cypher/schema/: each dialect's DDL exactly as its backend issues it.

Nothing there is written by hand. Each backend's `ensure_schema` runs against a recorder (for a
server dialect a transport that keeps the statements instead of sending them; for Kuzu a
throwaway database, so Kuzu itself checks every statement), and the statements that create
something are written out in the order they were issued, one per line:

    python -m alma_graph.cypher_files            # rewrite cypher/schema/*.cypher
    python -m alma_graph.cypher_files --check    # exit 1 if a file differs from what the backends issue

tests/test_cypher_files.py fails when a committed file is not what this produces.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from .backends.base import Row
from .backends.falkordb import FalkorDBBackend, FalkorDBTransport
from .backends.kuzu import DEFAULT_VECTOR_INDEX_MIN_ROWS, KuzuBackend
from .backends.memgraph import MemgraphBackend
from .backends.neo4j import Neo4jBackend
from .backends.server import ServerBackend, Transport
from .schema import NODE_KINDS, REL_KINDS, SCHEMA_VERSION

DIMENSION = 384  # the local embedder's (all-MiniLM-L6-v2)
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "cypher" / "schema"
# Statements that only ask what exists, or wait for it; everything else a backend sends while it
# creates its schema is DDL. Kept as an exclusion so that a new kind of DDL shows up in the files.
_NOT_DDL = re.compile(r"(MATCH|SHOW|CALL\s+(show_tables|SHOW_INDEXES|db\.indexes|db\.awaitIndexes))\b", re.I)


class _Recorder(Transport):
    """A server that keeps what it is sent and knows nothing: every read of the existing schema
    finds none, so a dialect issues its whole schema."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def run(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        self.sent.append((cypher, dict(params)))
        return []

    def run_autocommit(self, cypher: str, params: Mapping[str, object]) -> list[Row]:
        return self.run(cypher, params)  # how Memgraph sends its schema statements

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass


class _FalkorDBRecorder(_Recorder, FalkorDBTransport):
    """FalkorDB's uniqueness constraints are a Redis command its own client sends, not Cypher, so
    this recorder stands in for that client and writes the command as a comment."""

    def unique_constraint(self, label: str, key: str) -> None:
        self.sent.append((f"// redis-cli: GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE {label} "
                          f"PROPERTIES 1 {key}", {}))


class _KuzuRecorder(KuzuBackend):
    """A Kuzu database that notes every statement it runs, including the extensions it loads."""

    def __init__(self, path: Path):
        self.sent: list[tuple[str, dict[str, object]]] = []
        super().__init__(path)

    def _load_extension(self, name: str) -> None:
        self.sent.append((f"LOAD EXTENSION {name}", {}))
        super()._load_extension(name)

    def execute(self, cypher: str, params: Mapping[str, object] | None = None) -> list[Row]:
        self.sent.append((cypher, dict(params or {})))
        return super().execute(cypher, params)


def _server_statements(dialect: type[ServerBackend], recorder: _Recorder | None = None) -> list[tuple[str, dict]]:
    recorder = recorder or _Recorder()
    dialect(recorder, "recorder://").ensure_schema(NODE_KINDS, REL_KINDS, DIMENSION)
    return recorder.sent


def _kuzu_statements() -> list[tuple[str, dict]]:
    with tempfile.TemporaryDirectory(prefix="alma-cypher-files-") as folder:
        backend = _KuzuRecorder(Path(folder) / "schema.kuzu")
        try:
            backend.ensure_schema(NODE_KINDS, REL_KINDS, DIMENSION)
        finally:
            backend.close()
        return backend.sent


_RECORDED: dict[str, Callable[[], list[tuple[str, dict]]]] = {
    "kuzu": _kuzu_statements,
    "neo4j": lambda: _server_statements(Neo4jBackend),
    "memgraph": lambda: _server_statements(MemgraphBackend),
    "falkordb": lambda: _server_statements(FalkorDBBackend, _FalkorDBRecorder()),
}
DIALECTS: tuple[str, ...] = tuple(_RECORDED)

_HEADERS: dict[str, str] = {
    "kuzu": f"""\
// The alma-graph schema on embedded Kuzu (alma_graph/backends/kuzu.py): node and rel tables and
// full-text indexes, as statements for Kuzu's shell. To make a database, let GraphMemory create
// it: it also writes the AlmaGraphSchema record, without which a Kuzu database that has these
// tables refuses to open. No vector index is created here: a table is searched by an exact
// cosine scan until it holds {DEFAULT_VECTOR_INDEX_MIN_ROWS:,} rows (ALMA_KUZU_VECTOR_INDEX_MIN_ROWS), then the
// backend builds its HNSW index (CALL CREATE_VECTOR_INDEX).""",
    "neo4j": """\
// The alma-graph schema on Neo4j 5.15+ (alma_graph/backends/neo4j.py says why it looks like
// this). Paste it into Neo4j Browser (multi-statement editor); after these statements the
// backend waits for the new indexes to come online (CALL db.awaitIndexes).""",
    "memgraph": """\
// The alma-graph schema on Memgraph 3.6+ (alma_graph/backends/memgraph.py says why it looks like
// this). Memgraph refuses index and constraint statements inside explicit transactions: run
// them as auto-commit statements, one by one (mgconsole does).""",
    "falkordb": """\
// The alma-graph schema on FalkorDB (alma_graph/backends/falkordb.py says why it looks like
// this). FalkorDB runs one statement per query: paste them into FalkorDB Browser one at a time.
// Its uniqueness constraints are a Redis command, not Cypher: they are shown as comments where
// the backend sends them (through the falkordb client).""",
}


def schema_statements(dialect: str) -> list[str]:
    """The DDL statements a dialect's backend issues to create the schema, in order."""
    statements = []
    for cypher, params in _RECORDED[dialect]():
        if _NOT_DDL.match(cypher):
            continue
        if params:
            raise ValueError(f"{dialect} issued DDL with parameters, which a schema file cannot hold: {cypher}")
        statements.append(cypher)
    return statements


def schema_file(dialect: str) -> str:
    """The text of cypher/schema/<dialect>.cypher."""
    header = (f"{_HEADERS[dialect]}\n"
              f"// Schema version {SCHEMA_VERSION}, {DIMENSION}-d vectors. Generated from what the backend issues by\n"
              "// `python -m alma_graph.cypher_files`: do not edit, regenerate.\n")
    lines = [s if s.startswith("//") else f"{s};" for s in schema_statements(dialect)]
    return header + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alma_graph.cypher_files", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help=f"folder (default: {SCHEMA_DIR})")
    args = parser.parse_args(argv)
    stale = []
    for dialect in DIALECTS:
        path = args.out / f"{dialect}.cypher"
        text = schema_file(dialect)
        if path.is_file() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
