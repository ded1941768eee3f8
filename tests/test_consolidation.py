"""Consolidation: near-duplicates of one agent and type merge into one new memory that is
MERGED_FROM the originals (invalidated, kept), counts summed, in one atomic write; a dry run
writes nothing; the merged text comes from a model when one is configured (over the real
chat-completions protocol, to a local server), else from the offline merge. Also its CLI, its
GraphQL mutation and the schedule `alma-graph serve --consolidate-every` runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from api_server import serve
from chat_server import ChatServer

from alma_graph import Episode, GraphMemory, MemoryScope, ValidationError
from alma_graph.cli import main
from alma_graph.errors import ModelError
from alma_graph.llm import LLMConfig
from alma_graph.services.merging import ConsolidationConfig, merge_text

PILE_UP = ConsolidationConfig(on_write=False)  # a store written before the check on write, or by bulk loads
SEED = ("a test is flaky", "fix the random seed")


@pytest.fixture
def piled(open_memory) -> GraphMemory:
    """An agent holding near-duplicates: three heuristics saying one thing, two facts saying one
    thing (one more fully), and unrelated memories."""
    memory = open_memory(consolidation=PILE_UP)
    memory.register_agent("coder")
    turn = memory.remember("seeding the RNG made test_upload pass", "coder")
    memory.add_memory("Heuristic", "coder", {"condition": SEED[0], "strategy": SEED[1],
                                             "occurrence_count": 5, "success_count": 4}, derived_from=[turn.id])
    memory.add_memory("Heuristic", "coder", {"condition": SEED[0], "strategy": SEED[1] + "!",
                                             "occurrence_count": 2, "success_count": 1})
    memory.add_heuristic("coder", "A test is flaky.", "Fix the random seed", confidence=0.9)
    memory.add_heuristic("coder", "the build is slow", "cache the dependencies")
    memory.add_knowledge("coder", "python", "dicts keep insertion order")
    memory.add_knowledge("coder", "python", "dicts keep insertion order since python 3.7")
    memory.add_knowledge("coder", "python", "the GIL is released during blocking I/O")
    return memory


def test_a_dry_run_says_what_would_merge_and_writes_nothing(piled):
    before = piled.stats()
    result = piled.consolidate("coder", dry_run=True)
    assert result.dry_run and result.examined == 7 and before == piled.stats()
    heuristic = next(g for g in result.groups if g.memory_type == "Heuristic")
    assert len(heuristic.merged_from) == 3 and heuristic.merged_id is None and heuristic.merged_by == "offline"
    assert heuristic.text == "When a test is flaky: fix the random seed"  # the best supported one's words
    assert heuristic.fields["occurrence_count"] == 7 and heuristic.fields["success_count"] == 5
    assert all(piled.get(i).is_valid for i in heuristic.merged_from)
    assert not any(g.memory_type == "DomainKnowledge" for g in result.groups)  # cosine 0.78 < 0.85


def test_consolidation_merges_each_group_into_one_memory_and_invalidates_the_originals(piled):
    events: list[tuple[str, str, str | None]] = []
    piled.subscribe(lambda e: events.append((e.type, e.memory_id, e.previous_id)))
    result = piled.consolidate("coder", "Heuristic")
    [group] = result.groups
    merged = piled.get(group.merged_id)
    assert merged.text == group.text and merged.is_valid
    assert (merged.occurrence_count, merged.success_count) == (7, 5)
    assert merged.confidence == pytest.approx((5 + 1) / (7 + 2))  # as learning counts evidence
    originals = [piled.get(i) for i in group.merged_from]
    assert all(not m.is_valid for m in originals)  # invalidated, never deleted
    history = piled.history(merged.id)
    merges = {(e.target, e.reason) for e in history.edges if e.relation == "MERGED_FROM" and e.source == merged.id}
    assert merges == {(i, "consolidation") for i in group.merged_from}
    # the evidence behind the originals stays one step away from the merged memory
    [source] = piled.memories.neighbours([merged.id], "DERIVED_FROM", outgoing=True)[merged.id]
    assert isinstance(source, Episode) and source.text == "seeding the RNG made test_upload pass"
    assert events[:2] == [("memory.created", merged.id, None), ("memory.consolidated", merged.id, group.merged_from[0])]
    assert sorted(events[2:]) == sorted(("memory.invalidated", i, None) for i in group.merged_from)
    assert piled.consolidate("coder", "Heuristic").groups == ()  # nothing left to merge


def test_the_threshold_decides_what_counts_as_a_near_duplicate(piled):
    result = piled.consolidate("coder", "DomainKnowledge", similarity_threshold=0.75)
    [group] = result.groups
    assert piled.get(group.merged_id).fact == "dicts keep insertion order since python 3.7"
    assert result.merged == 2


def test_outcomes_are_never_merged(piled):
    with pytest.raises(ValidationError, match="never merged"):
        piled.consolidate("coder", "Outcome")
    for _ in range(2):
        piled.learn("coder", "parse the CSV", True, "use the csv module", task_type="parsing")
    assert "Outcome" not in piled.consolidate("coder", similarity_threshold=0.5).memory_types


def test_one_users_preferences_never_merge_with_anothers(open_memory):
    memory = open_memory(consolidation=PILE_UP)
    memory.register_agent("coder")
    memory.add_preference("coder", "ann", "answers", "short answers with the code first")
    memory.add_preference("coder", "bob", "answers", "short answers with the code first")
    assert memory.consolidate("coder", similarity_threshold=0.3).groups == ()


@pytest.mark.parametrize("threshold", [0, 1.5, "high"])
def test_a_threshold_outside_0_to_1_is_refused(piled, threshold):
    with pytest.raises(ValidationError, match="similarity_threshold"):
        piled.consolidate("coder", similarity_threshold=threshold)


def test_the_offline_merge_keeps_each_distinct_thing_once():
    assert merge_text(["retry", "retry with backoff", "Retry with backoff!", "log the error"]) == \
        "retry with backoff; log the error"
    assert merge_text([None, "  "]) is None


# -- with a language model ----------------------------------------------------------------------

def _with_model(open_memory, server: ChatServer) -> GraphMemory:
    memory = open_memory(consolidation=ConsolidationConfig(on_write=False, llm=LLMConfig(model="merger", base_url=server.url)))
    memory.register_agent("coder")
    memory.add_knowledge("coder", "python", "dicts keep insertion order", confidence=0.9)
    memory.add_knowledge("coder", "python", "dicts keep insertion order since python 3.7")
    return memory


def test_the_model_writes_the_merged_text(open_memory):
    answer = {"fields": {"domain": "python", "fact": "dicts keep insertion order (guaranteed since 3.7)",
                         "source": None}, "reason": "one fact"}
    with ChatServer([json.dumps(answer)]) as server:
        memory = _with_model(open_memory, server)
        [group] = memory.consolidate("coder", similarity_threshold=0.75).groups
    assert group.merged_by == "llm" and group.note is None
    assert memory.get(group.merged_id).fact == "dicts keep insertion order (guaranteed since 3.7)"
    [request] = server.requests
    assert request["model"] == "merger" and request["response_format"] == {"type": "json_object"}
    prompt = server.prompts()[0]
    # both members, best supported (higher confidence) first, as JSON of their own fields
    assert prompt.index('"fact": "dicts keep insertion order"') < prompt.index("since python 3.7")
    assert '"fields": {"domain": "...", "fact": "...", "source": "..."}' in prompt


@pytest.mark.parametrize("reply", ["no idea", '{"fields": {"domain": "python", "fact": ""}}', '{"answer": 1}'])
def test_an_unusable_model_merge_falls_back_to_the_offline_one_and_says_so(open_memory, reply):
    with ChatServer([reply]) as server:
        memory = _with_model(open_memory, server)
        [group] = memory.consolidate("coder", similarity_threshold=0.75).groups
    assert group.merged_by == "offline" and "unusable" in group.note
    assert memory.get(group.merged_id).fact == "dicts keep insertion order since python 3.7"


def test_an_unreachable_model_fails_the_run_and_writes_nothing(open_memory):
    with ChatServer(status=500) as server:
        memory = _with_model(open_memory, server)
        before = memory.stats()
        with pytest.raises(ModelError):
            memory.consolidate("coder", similarity_threshold=0.75)
    assert memory.stats() == before


# -- front doors --------------------------------------------------------------------------------

def test_the_cli_shows_a_dry_run_then_merges(tmp_path: Path, capsys):
    url = f"kuzu://{tmp_path / 'db'}"
    with GraphMemory(url, embedder="hashing", consolidation=PILE_UP) as memory:
        memory.register_agent("coder")
        for strategy in ("fix the random seed", "Fix the random seed."):
            memory.add_heuristic("coder", "a test is flaky", strategy)
    run = ["--url", url, "--embedder", "hashing", "consolidate", "--agent", "coder"]
    assert main([*run, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would merge 2 into 1" in out and "(dry run)" in out and "= When a test is flaky" in out
    assert main([*run, "--type", "Heuristic", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dry_run"] is False and len(result["groups"][0]["merged_from"]) == 2
    assert main([*run, "--threshold", "2"]) == 2
    assert "similarity_threshold" in capsys.readouterr().err


def test_serve_consolidates_on_schedule_and_graphql_acts_for_the_keys_agent(tmp_path: Path):
    url = f"kuzu://{tmp_path / 'db'}"
    with GraphMemory(url, embedder="hashing", consolidation=PILE_UP) as memory:
        for name in ("coder", "other"):
            memory.register_agent(MemoryScope(agent=name))
            for fact in ("dicts keep insertion order", "Dicts keep insertion order."):
                memory.add_knowledge(name, "python", fact)
        key = memory.keys.create("coder")[1]
    with serve(url, "--consolidate-every", "1s", log_dir=tmp_path) as server:
        query = 'query { agent(name: "coder") { memories(types: ["DomainKnowledge"]) { id ... on Memory { mergedFrom { id } } } } }'
        deadline = time.monotonic() + 30
        while not (found := server.data(query, key=key)["agent"]["memories"]) or len(found) != 1:
            assert time.monotonic() < deadline, found
            time.sleep(0.2)
        assert len(found[0]["mergedFrom"]) == 2
        dry = server.data("mutation { consolidate(dryRun: true) { agent dryRun examined groups { mergedFrom } } }",
                          key=key)["consolidate"]
        assert dry == {"agent": "coder", "dryRun": True, "examined": 1, "groups": []}
        refused = server.post('mutation { consolidate(agent: "other") { agent } }', key=key).json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
