"""The stored schema: reopening keeps everything; a different embedder or schema version refuses
to open without touching the data; a second process gets DatabaseLockedError."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import kuzu
import pytest

from alma_graph import BackendError, DatabaseLockedError, GraphMemory, MemoryScope, SchemaVersionError
from alma_graph.schema import SCHEMA_VERSION


def populate(memory: GraphMemory) -> dict[str, str]:
    memory.register_agent(MemoryScope(agent="coder", cannot_learn=["AntiPattern"]))
    e = memory.remember("we deploy on Fridays", "coder", session="s1", source_id="doc:1")
    memory.remember("never on holidays", "coder", session="s1")
    k = memory.add_knowledge("coder", domain="ops", fact="deploys happen on Fridays", derived_from=[e.id])
    memory.update(k.id, fact="deploys happen on Thursdays")
    for i in range(3):
        memory.learn("coder", f"deploy {i}", True, "blue-green", task_type="deploy")
    return {"episode": e.id, "knowledge": k.id}


def raw_count(path: Path, label: str) -> int:
    """Count nodes with plain Kuzu, bypassing alma-graph."""
    db = kuzu.Database(str(path))
    try:
        conn = kuzu.Connection(db)
        result = conn.execute(f"MATCH (n:{label}) RETURN count(n)")
        return int(result.get_next()[0])
    finally:
        db.close()


def test_reopening_an_existing_folder_keeps_all_data(tmp_path):
    url = f"kuzu://{tmp_path / 'fresh' / 'memory.kuzu'}"  # created from scratch, not from the template
    with GraphMemory(url, embedder="hashing") as memory:
        ids = populate(memory)
        stats = memory.stats()
        first = [(i.id, i.score) for i in memory.retrieve("when do we deploy?", "coder", types=["Episode"])]
    with GraphMemory(url, embedder="hashing") as memory:
        assert memory.stats() == stats
        assert stats["Episode"] == 2 and stats["Heuristic"] == 1 and stats["SUPERSEDES"] == 1
        assert memory.get_agent("coder").scope.cannot_learn == ("AntiPattern",)
        assert memory.get(ids["episode"]).source_id == "doc:1"
        assert memory.get(ids["knowledge"]).invalidated_at is not None
        again = memory.retrieve("when do we deploy?", "coder", types=["Episode"])
        assert [i.id for i in again] == [i for i, _ in first]
        hits = memory.retrieve("deploys happen on Thursdays", "coder", types=["DomainKnowledge"])
        assert hits[0].memory.fact == "deploys happen on Thursdays"
        assert hits[0].source_ids == ("doc:1",)  # the new version keeps its predecessor's evidence
        memory.remember("still writable", "coder", session="s1")
        assert [e.seq for e in memory.episodes("s1")] == [0, 1, 2]


def test_context_manager_closes_the_database(tmp_path):
    url = f"kuzu://{tmp_path / 'memory.kuzu'}"
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent("coder")
    with GraphMemory(url, embedder="hashing") as memory:  # would be locked if still open
        assert [a.name for a in memory.agents()] == ["coder"]


@pytest.mark.parametrize("other", ["hashing:128", "hashing:512"])
def test_opening_with_a_different_embedder_dimension_is_refused_and_data_is_intact(memory, reopen, other):
    populate(memory)
    stats = memory.stats()
    url = memory.backend.url
    memory.close()
    with pytest.raises(SchemaVersionError) as err:
        GraphMemory(url, embedder=other)
    assert "hashing-v2-384" in str(err.value) and f"hashing-v2-{other.split(':')[1]}" in str(err.value)
    memory = reopen(memory, embedder="hashing")
    assert memory.stats() == stats
    assert memory.retrieve("deploy", "coder")


def test_failed_open_releases_the_database(memory, reopen):
    populate(memory)
    url = memory.backend.url
    memory.close()
    for _ in range(2):  # a refused open must not leave the folder locked
        with pytest.raises(SchemaVersionError):
            GraphMemory(url, embedder="hashing:64")
    assert reopen(memory).stats()["Agent"] == 1


def test_a_database_with_another_schema_version_fails_to_open_naming_the_version(memory):
    populate(memory)
    stats = memory.stats()
    url, path = memory.backend.url, memory.backend.path
    memory.backend.execute("MATCH (s:AlmaGraphSchema) SET s.version = 999")
    memory.close()
    with pytest.raises(SchemaVersionError) as err:
        GraphMemory(url, embedder="hashing")
    assert "999" in str(err.value) and str(SCHEMA_VERSION) in str(err.value)
    assert raw_count(path, "Episode") == stats["Episode"]
    assert raw_count(path, "DomainKnowledge") == stats["DomainKnowledge"]

    db = kuzu.Database(str(path))  # put the version back: alma-graph opens it again, data intact
    kuzu.Connection(db).execute(f"MATCH (s:AlmaGraphSchema) SET s.version = {SCHEMA_VERSION}")
    db.close()
    with GraphMemory(url, embedder="hashing") as reopened:
        assert reopened.stats() == stats


SECOND_PROCESS = textwrap.dedent("""
    import json, sys
    from alma_graph import GraphMemory
    try:
        GraphMemory(sys.argv[1], embedder="hashing").close()
        print(json.dumps({"error": None}))
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__],
                          "message": str(exc)}))
""")


def test_second_process_gets_database_locked_error_and_first_process_data_is_unharmed(memory, agent):
    k = memory.add_knowledge(agent, domain="ops", fact="the first process holds the lock")
    memory.remember("an episode before the second process", agent)
    stats = memory.stats()
    proc = subprocess.run([sys.executable, "-c", SECOND_PROCESS, memory.backend.url],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["error"] == "DatabaseLockedError", report
    assert "BackendError" in report["mro"]
    assert "another process" in report["message"]

    assert memory.stats() == stats
    assert memory.get(k.id).fact == "the first process holds the lock"
    memory.add_knowledge(agent, domain="ops", fact="still writable after the refused open")
    assert memory.stats()["DomainKnowledge"] == 2
    assert memory.retrieve("who holds the lock", agent)[0].id == k.id


def test_database_locked_error_is_a_backend_error():
    assert issubclass(DatabaseLockedError, BackendError)
