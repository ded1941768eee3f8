"""Neptune: URL parsing, missing drivers, the openCypher sent, and the Neptune Analytics transport.

No Neptune runs here. The Analytics transport is exercised for real: boto3's `neptune-graph` client
is pointed at a loopback HTTP server answering the ExecuteQuery and GetGraph API shapes, so the
requests on the wire and the responses decoded are botocore's own. Tests against a real Neptune
are in the conformance suite (ALMA_TEST_NEPTUNE_URL).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from alma_graph.backends import SearchFilter, open_backend
from alma_graph.errors import BackendError, TransientBackendError, ValidationError
from alma_graph.schema import EPISODE, NODE_KINDS, REL_KINDS, node_kind

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from alma_graph.backends.neptune import (  # noqa: E402
    NeptuneAnalyticsBackend,
    NeptuneDatabaseBackend,
    iam_auth,
    sigv4_token,
)
from alma_graph.backends.server import Transport  # noqa: E402

GRAPH = "g-abcde12345"
HEURISTIC = node_kind("Heuristic")


# -- a loopback server speaking the Neptune Analytics API ----------------------------------------


class FakeNeptuneAnalytics:
    """Answers POST /queries (ExecuteQuery) and GET /graphs/{id} (GetGraph); records requests.

    `answer(query, parameters)` returns the result rows, or (status, error type, message).
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer: Callable[[str, dict], object] = lambda query, params: []
        self.graph: dict = {"id": GRAPH, "name": "test", "arn": "arn:test",
                            "vectorSearchConfiguration": {"dimension": 8}}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "graph": self.headers.get("graphIdentifier"), **body})
                answer = fake.answer(body["query"], body.get("parameters", {}))
                if isinstance(answer, tuple):
                    status, error, message = answer
                    self._reply(status, {"message": message, "reason": "CONCURRENT_MODIFICATION"}, error)
                elif isinstance(answer, bytes):
                    self._send(200, answer, None)
                else:
                    self._reply(200, {"results": answer})

            def do_GET(self) -> None:
                fake.requests.append({"path": self.path})
                self._reply(200, fake.graph)

            def _reply(self, status: int, document: dict, error: str | None = None) -> None:
                self._send(status, json.dumps(document).encode(), error)

            def _send(self, status: int, body: bytes, error: str | None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def client(self) -> object:
        # The real endpoint puts the graph id in the host name; a loopback address cannot.
        return boto3.client(
            "neptune-graph", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{self.server.server_port}",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
        )

    def queries(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/queries"]


@pytest.fixture
def neptune() -> Iterator[FakeNeptuneAnalytics]:
    fake = FakeNeptuneAnalytics()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def analytics(neptune: FakeNeptuneAnalytics) -> Iterator[NeptuneAnalyticsBackend]:
    backend = open_backend(f"neptune-graph://{GRAPH}", client=neptune.client())
    assert isinstance(backend, NeptuneAnalyticsBackend)
    yield backend
    backend.close()


def memory_row(i: int, agent: str = "alice") -> dict:
    return {"id": f"heur_{i}", "agent": agent, "text": f"strategy {i}",
            "embedding": np.full(8, 1 / np.sqrt(8), dtype=np.float32), "created_at": 1000 + i,
            "valid_to": None, "confidence": 0.5}


# -- URLs and options --------------------------------------------------------------------------


def test_a_neptune_graph_url_names_the_graph_and_its_region():
    backend = open_backend(f"neptune-graph://{GRAPH}?region=eu-west-1")
    try:
        assert isinstance(backend, NeptuneAnalyticsBackend)
        assert backend.transport.graph_id == GRAPH
        assert backend.transport.client.meta.region_name == "eu-west-1"
        assert backend.multi_statement_transactions is False and backend.transport.atomic is False
    finally:
        backend.close()


@pytest.mark.parametrize("url", ["neptune-graph://my-graph", "neptune-graph://", f"neptune-graph://{GRAPH}/x"])
def test_a_neptune_graph_url_without_a_graph_identifier_is_refused(url: str):
    with pytest.raises(ValidationError) as raised:
        open_backend(url, region="us-east-1")
    assert raised.value.field == "url"


@pytest.mark.parametrize(("url", "options", "name"), [
    (f"neptune-graph://{GRAPH}?regoin=us-east-1", {}, "regoin"),
    (f"neptune-graph://{GRAPH}", {"region": "us-east-1", "iam": True}, "iam"),
    ("neptune-db://cluster.example.com", {"client": object()}, "client"),
    ("neptune-db://cluster.example.com?timeout=3", {}, "timeout"),
])
def test_an_unknown_option_is_a_validation_error_naming_it(url: str, options: dict, name: str):
    with pytest.raises(ValidationError) as raised:
        open_backend(url, **options)
    assert raised.value.field == name and "expected one of" in str(raised.value)


def test_without_a_region_neptune_analytics_asks_for_one(monkeypatch, tmp_path):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ValidationError) as raised:
        open_backend(f"neptune-graph://{GRAPH}")
    assert raised.value.field == "region"


def test_a_neptune_db_url_opens_bolt_over_tls_on_port_8182_by_default():
    backend = open_backend("neptune-db://cluster.example.com")
    try:
        assert isinstance(backend, NeptuneDatabaseBackend)
        assert backend.transport.driver.encrypted
        assert backend.multi_statement_transactions and backend.transport.atomic
    finally:
        backend.close()


def test_a_neptune_db_connection_goes_to_the_endpoint_and_starts_tls():
    """A loopback listener stands in for the cluster: the driver's first bytes are a TLS hello."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def accept() -> None:
        connection, _ = listener.accept()
        received.append(connection.recv(1))
        connection.close()

    threading.Thread(target=accept, daemon=True).start()
    backend = open_backend(f"neptune-db://127.0.0.1:{listener.getsockname()[1]}")
    try:
        with pytest.raises(BackendError):
            with backend.transaction():
                backend.execute("RETURN 1")
    finally:
        backend.close()
        listener.close()
    assert received == [b"\x16"]  # TLS handshake record


@pytest.mark.parametrize(("url", "field"), [
    ("neptune-db://", "url"),
    ("neptune-db://user:pw@cluster.example.com", "url"),
    ("neptune-db://cluster.example.com/db", "url"),
    ("neptune-db://cluster.example.com:99999", "url"),
    ("neptune-db://cluster.example.com?iam=maybe", "iam"),
    ("neptune-db://cluster.example.com?region=us-east-1", "region"),
])
def test_a_bad_neptune_db_url_names_what_is_wrong(url: str, field: str):
    with pytest.raises(ValidationError) as raised:
        open_backend(url)
    assert raised.value.field == field


def _run_without(module: str, url: str) -> str:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from alma_graph.backends import open_backend\n"
        "try:\n"
        f"    open_backend({url!r})\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize(("module", "url"), [
    ("boto3", f"neptune-graph://{GRAPH}?region=us-east-1"),
    ("neo4j", "neptune-db://cluster.example.com"),
    ("boto3", "neptune-db://cluster.example.com?iam=true&region=us-east-1"),
])
def test_a_missing_driver_is_named_with_the_extra_that_installs_it(module: str, url: str):
    out = _run_without(module, url)
    assert out.startswith("DependencyMissingError") and f"'{module}'" in out and "alma-graph[neptune]" in out


# -- IAM authentication for Neptune Database ---------------------------------------------------


def test_the_iam_token_is_a_sigv4_signed_get_of_opencypher_on_the_endpoint():
    token = sigv4_token(Credentials("AKIDEXAMPLE", "secret"), "us-east-1", "cluster.example.com:8182")
    assert (token.scheme, token.principal, token.realm) == ("basic", "username", "realm")
    signed = json.loads(token.credentials)
    assert signed["HttpMethod"] == "GET" and signed["Host"] == "cluster.example.com:8182"
    assert signed["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/neptune-db/aws4_request" in signed["Authorization"]
    assert "SignedHeaders=host;x-amz-date" in signed["Authorization"]
    assert signed["X-Amz-Date"] and signed["X-Amz-Security-Token"] is None


def test_temporary_credentials_send_their_session_token():
    token = sigv4_token(Credentials("AKID", "secret", "session-token"), "us-east-1", "h:8182")
    assert json.loads(token.credentials)["X-Amz-Security-Token"] == "session-token"


def test_iam_auth_signs_with_the_sessions_credentials_and_reuses_the_token_until_it_expires(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    manager = iam_auth("cluster.example.com:8182", "eu-central-1")
    first, second = manager.get_auth(), manager.get_auth()
    assert first is second
    assert "AKIDFROMENV/" in json.loads(first.credentials)["Authorization"]
    assert "/eu-central-1/neptune-db/" in json.loads(first.credentials)["Authorization"]


def test_neptune_db_with_iam_opens_without_connecting(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    backend = open_backend("neptune-db://cluster.example.com:8182?iam=true&region=us-east-1")
    backend.close()


def test_iam_without_a_region_asks_for_one(monkeypatch, tmp_path):
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ValidationError) as raised:
        open_backend("neptune-db://cluster.example.com", iam=True)
    assert raised.value.field == "region"


# -- the Neptune Analytics transport on the wire -------------------------------------------------


def test_a_statement_goes_as_opencypher_with_its_parameters_and_rows_come_back(neptune, analytics):
    neptune.answer = lambda query, params: [{"id": "heur_1", "n": 2, "none": None}]
    rows = analytics.execute("MATCH (n:Heuristic) WHERE n.id = $id RETURN n.id AS id",
                             {"id": "heur_1", "v": np.float32(0.5), "vec": np.ones(2)})
    assert rows == [{"id": "heur_1", "n": 2, "none": None}]
    [request] = neptune.queries()
    assert request["graph"] == GRAPH and request["language"] == "OPEN_CYPHER"
    assert request["query"] == "MATCH (n:Heuristic) WHERE n.id = $id RETURN n.id AS id"
    assert request["parameters"] == {"id": "heur_1", "v": 0.5, "vec": [1.0, 1.0]}


@pytest.mark.parametrize(("status", "error", "transient"), [
    (409, "ConflictException", True),
    (429, "ThrottlingException", True),
    (500, "InternalServerException", True),
    (400, "ValidationException", False),
    (422, "UnprocessableException", False),
])
def test_errors_the_service_calls_retriable_are_transient(neptune, analytics, status, error, transient):
    neptune.answer = lambda query, params: (status, error, "no")
    with pytest.raises(BackendError) as raised:
        analytics.execute("RETURN 1")
    assert isinstance(raised.value, TransientBackendError) is transient
    assert len(neptune.queries()) == 1  # botocore does not resend: atomically() retries whole writes


def test_a_response_without_results_is_a_backend_error(neptune, analytics):
    neptune.answer = lambda query, params: b"{\"detailedMessage\": \"interrupted\"}"
    with pytest.raises(BackendError, match="results document"):
        analytics.execute("RETURN 1")


def test_an_unreachable_endpoint_is_transient():
    client = boto3.client("neptune-graph", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}))
    backend = open_backend(f"neptune-graph://{GRAPH}", client=client)
    try:
        with pytest.raises(TransientBackendError):
            backend.execute("RETURN 1")
    finally:
        backend.close()


# -- schema: no DDL, the graph's one vector index checked ---------------------------------------


def test_ensure_schema_checks_the_graph_vector_dimension_and_sends_no_ddl(neptune, analytics):
    analytics.ensure_schema(NODE_KINDS, REL_KINDS, 8)
    assert neptune.queries() == []
    assert [r["path"] for r in neptune.requests] == [f"/graphs/{GRAPH}"]  # checked once


def test_a_graph_of_another_dimension_is_refused_naming_both(neptune, analytics):
    with pytest.raises(BackendError, match="8-d vector index; this embedder makes 384-d"):
        analytics.ensure_schema(NODE_KINDS, REL_KINDS, 384)


def test_a_graph_created_without_vector_search_is_refused(neptune, analytics):
    del neptune.graph["vectorSearchConfiguration"]
    with pytest.raises(BackendError, match="dimension=8"):
        analytics.ensure_schema(NODE_KINDS, REL_KINDS, 8)


# -- writes and searches -----------------------------------------------------------------------


def test_nodes_are_created_without_the_embedding_which_goes_to_the_vector_index(neptune, analytics):
    analytics.create_nodes(HEURISTIC, [memory_row(1), memory_row(2)])
    create, upsert = neptune.queries()
    assert create["query"] == "UNWIND $rows AS row CREATE (n:Heuristic:Memory:Searchable) SET n = row"
    assert [r["id"] for r in create["parameters"]["rows"]] == ["heur_1", "heur_2"]
    assert all("embedding" not in r and "valid_to" not in r for r in create["parameters"]["rows"])
    assert "neptune.algo.vectors.upsert(n, row.embedding)" in upsert["query"]
    assert [r["key"] for r in upsert["parameters"]["rows"]] == ["heur_1", "heur_2"]
    assert np.allclose(upsert["parameters"]["rows"][0]["embedding"], 1 / np.sqrt(8))


def test_a_node_without_an_embedding_kind_is_written_in_one_statement(neptune, analytics):
    analytics.create_nodes(node_kind("Agent"), [{"name": "alice", "created_at": 1}])
    [create] = neptune.queries()
    assert create["parameters"] == {"rows": [{"name": "alice", "created_at": 1}]}


def test_an_embedding_the_index_refuses_fails_the_write(neptune, analytics):
    neptune.answer = lambda query, params: [{"key": "heur_1"}] if "upsert" in query else []
    with pytest.raises(BackendError, match="embedding of Heuristic 'heur_1'"):
        analytics.create_nodes(HEURISTIC, [memory_row(1)])


def test_a_failed_atomic_write_deletes_the_nodes_it_created(neptune, analytics):
    neptune.answer = lambda query, params: (400, "ValidationException", "bad") if "LEARNED" in query else []

    def write() -> None:
        analytics.create_nodes(HEURISTIC, [memory_row(1)])
        analytics.create_edges("LEARNED", "Agent", "Heuristic", [("alice", "heur_1", {"at": 1})])

    with pytest.raises(BackendError):
        analytics.atomically(write)
    undo = neptune.queries()[-1]
    assert undo["query"] == "MATCH (n:Heuristic) WHERE n.id IN $keys DETACH DELETE n"
    assert undo["parameters"] == {"keys": ["heur_1"]}


def test_vector_search_filters_label_and_scope_inside_the_query_and_returns_cosine(neptune, analytics):
    neptune.answer = lambda query, params: [{"id": "heur_1", "score": 0.0}, {"id": "heur_2", "score": 1.0}]
    where = SearchFilter(agents=("alice",), exclude_ids=("heur_9",))
    hits = analytics.vector_search(HEURISTIC, np.full(8, 0.5, dtype=np.float32), 2, where)
    assert [(h.id, h.score) for h in hits] == [("heur_1", 1.0), ("heur_2", 0.5)]
    [request] = neptune.queries()
    query, params = request["query"], request["parameters"]
    assert "CALL neptune.algo.vectors.topK.byEmbedding({embedding: $q, topK: $fetch" in query
    assert "vertexFilter: '{\"equals\": {\"property\": \"~label\", \"value\": \"Heuristic\"}}'" in query
    assert "node.agent IN $f_agents AND node.invalidated_at IS NULL AND NOT node.id IN $f_exclude" in query
    assert "alice" not in query and "heur_9" not in query
    assert params["q"] == [0.5] * 8 and params["f_agents"] == ["alice"] and params["k"] == 2
    assert params["fetch"] >= 2 * analytics.overfetch


def test_text_search_finds_nothing_and_sends_nothing(neptune, analytics):
    assert analytics.text_search(EPISODE, "launch code", 5, SearchFilter(agents=("alice",))) == []
    assert neptune.requests == []


def test_stored_embeddings_are_read_from_the_vector_index(neptune, analytics):
    neptune.answer = lambda query, params: [{"id": "heur_1", "e": [0.5] * 8}, {"id": "heur_2", "e": None}]
    found = analytics.embeddings("Heuristic", ["heur_1", "heur_2"])
    assert list(found) == ["heur_1"] and found["heur_1"].dtype == np.float32
    [request] = neptune.queries()
    assert "CALL neptune.algo.vectors.get(n) YIELD embedding" in request["query"]
    assert request["parameters"] == {"ids": ["heur_1", "heur_2"]}


def test_index_status_says_there_is_no_full_text_index(neptune, analytics):
    neptune.answer = lambda query, params: [{"c": 3}]
    status = analytics.index_status()
    assert "Episode" in status and "Heuristic" in status
    assert all("3 nodes" in s and "no full-text" in s for s in status.values())


# -- Neptune Database --------------------------------------------------------------------------


class RecordingTransport(Transport):
    def __init__(self) -> None:
        self.statements: list[tuple[str, dict]] = []

    def run(self, cypher, params):
        self.statements.append((cypher, dict(params)))
        return [{"c": 0}]

    def transaction(self):
        raise AssertionError("not used")

    def close(self) -> None:
        pass


def test_neptune_db_searches_say_to_use_neptune_analytics():
    backend = NeptuneDatabaseBackend(RecordingTransport(), "neptune-db://h")
    where = SearchFilter(agents=("alice",))
    with pytest.raises(BackendError, match="no vector index; use neptune-graph://"):
        backend.vector_search(HEURISTIC, np.ones(8, dtype=np.float32), 5, where)
    with pytest.raises(BackendError, match="full-text.*use neptune-graph://"):
        backend.text_search(HEURISTIC, "words", 5, where)
    assert backend.transport.statements == []


def test_neptune_db_creates_no_ddl_and_stores_no_embedding():
    backend = NeptuneDatabaseBackend(RecordingTransport(), "neptune-db://h")
    backend.ensure_schema(NODE_KINDS, REL_KINDS, 8)
    assert backend.transport.statements == []
    backend.create_nodes(HEURISTIC, [memory_row(1)])
    [(query, params)] = backend.transport.statements
    assert query == "UNWIND $rows AS row CREATE (n:Heuristic:Memory:Searchable) SET n = row"
    assert "embedding" not in params["rows"][0]
