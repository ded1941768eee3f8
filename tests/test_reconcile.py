"""On write: a memory that repeats one its agent holds strengthens it, one that contradicts it
supersedes it; with a language model, the model judges the similar ones whose key differs."""

from __future__ import annotations

import json

import pytest
from chat_server import ChatServer

from alma_graph import GraphMemory
from alma_graph.errors import ModelError
from alma_graph.llm import LLMConfig
from alma_graph.services.merging import ConsolidationConfig, contradiction_key


def _events(memory: GraphMemory) -> list[tuple[str, str, str | None]]:
    seen: list[tuple[str, str, str | None]] = []
    memory.subscribe(lambda e: seen.append((e.type, e.memory_id, e.previous_id)))
    return seen


def test_a_repeat_strengthens_the_existing_memory_instead_of_writing_another(memory, agent):
    turn = memory.remember("always give me the code first", agent)
    first = memory.add_preference(agent, "ann", "answers", "code first, short explanations", confidence=0.6)
    events = _events(memory)
    again = memory.add_preference(agent, "Ann", "Answers", "Code first; short explanations!", confidence=0.5,
                                  derived_from=[turn.id])
    assert again.id == first.id and memory.stats()["UserPreference"] == 1
    assert again.confidence == pytest.approx(1 - 0.4 * 0.5)  # an independent confirmation
    assert again.updated_at > first.updated_at
    assert [n.id for n in memory.memories.neighbours([first.id], "DERIVED_FROM", outgoing=True)[first.id]] == [turn.id]
    assert events == [("memory.updated", first.id, None)]


def test_a_repeated_heuristic_counts_one_more_occurrence_and_success(memory, agent):
    h = memory.add_memory("Heuristic", agent, {"condition": "a test is flaky", "strategy": "fix the random seed",
                                               "occurrence_count": 4, "success_count": 3})
    again = memory.add_heuristic(agent, "a test is flaky", "fix the random seed")
    assert (again.id, again.occurrence_count, again.success_count) == (h.id, 5, 4)


@pytest.mark.parametrize("memory_type, old, new", [
    ("UserPreference", {"user": "ann", "category": "editor", "preference": "vim keybindings"},
     {"user": "ann", "category": "editor", "preference": "emacs keybindings"}),
    ("Heuristic", {"condition": "a test is flaky", "strategy": "add a sleep"},
     {"condition": "a test is flaky", "strategy": "fix the random seed"}),
    ("DomainKnowledge", {"domain": "http", "fact": "the default timeout is 30 s"},
     {"domain": "http", "fact": "the default timeout is 60 s"}),
    ("AntiPattern", {"pattern": "sleep in tests", "why_bad": "slow"},
     {"pattern": "sleep in tests", "why_bad": "flaky under load", "better_alternative": "wait on an event"}),
])
def test_a_memory_with_the_same_key_supersedes_the_older_one(memory, agent, memory_type, old, new):
    older = memory.add_memory(memory_type, agent, old)
    events = _events(memory)
    newer = memory.add_memory(memory_type, agent, new)
    assert newer.id != older.id and newer.is_valid
    assert not memory.get(older.id).is_valid  # invalidated, kept
    assert ("SUPERSEDES", newer.id, older.id) in {(e.relation, e.source, e.target) for e in memory.history(newer.id).edges}
    assert events == [("memory.created", newer.id, older.id), ("memory.invalidated", older.id, None)]


def test_facts_of_one_domain_on_different_subjects_stand_side_by_side(memory, agent):
    a = memory.add_knowledge(agent, "http", "the default timeout is 30 s")
    b = memory.add_knowledge(agent, "http", "keep-alive connections are reused")
    c = memory.add_knowledge(agent, "http", "retries back off exponentially")
    # a bare name is no attribute: both of these hold
    d = memory.add_knowledge(agent, "python", "python is dynamically typed")
    e = memory.add_knowledge(agent, "python", "python is fun to write")
    assert all(memory.get(m.id).is_valid for m in (a, b, c, d, e))


def test_a_fact_can_name_its_subject_in_metadata():
    assert contradiction_key("DomainKnowledge", {"domain": "Ops", "fact": "we deploy on fridays"},
                             {"subject": "Deploy day"}) == ("ops", "deploy day")
    assert contradiction_key("DomainKnowledge", {"domain": "ops", "fact": "we deploy on fridays"}) is None


def test_outcomes_are_events_and_never_merge_on_write(memory, agent):
    fields = {"task": "ship v2", "task_type": "release", "success": True, "strategy_used": "canary"}
    a, b = memory.add_memory("Outcome", agent, fields), memory.add_memory("Outcome", agent, fields)
    assert a.id != b.id and memory.stats()["Outcome"] == 2


def test_a_write_that_names_what_it_supersedes_or_when_it_held_is_taken_as_given(memory, agent):
    old = memory.add_preference(agent, "ann", "editor", "vim")
    explicit = memory.add_preference(agent, "ann", "editor", "vim", supersedes=[old.id])
    assert explicit.id != old.id
    dated = memory.add_preference(agent, "ann", "editor", "nano", valid_from="2020-01-01")
    assert memory.get(explicit.id).is_valid and dated.is_valid


def test_the_check_on_write_can_be_turned_off(open_memory):
    memory = open_memory(consolidation=ConsolidationConfig(on_write=False))
    memory.register_agent("coder")
    a = memory.add_preference("coder", "ann", "editor", "vim")
    b = memory.add_preference("coder", "ann", "editor", "vim")
    c = memory.add_preference("coder", "ann", "editor", "emacs")
    assert len({a.id, b.id, c.id}) == 3 and all(memory.get(m.id).is_valid for m in (a, b, c))


def test_learning_still_forms_and_strengthens_its_own_heuristics(memory, agent):
    for _ in range(4):
        result = memory.learn(agent, "parse the CSV export", True, "use the csv module", task_type="parsing")
    assert result.heuristic is not None and result.heuristic.occurrence_count == 4
    assert memory.stats()["Heuristic"] == 1


# -- with a language model ----------------------------------------------------------------------

def _with_model(open_memory, server: ChatServer, **config: object) -> GraphMemory:
    memory = open_memory(consolidation=ConsolidationConfig(llm=LLMConfig(model="judge", base_url=server.url), **config))
    memory.register_agent("coder")
    return memory


@pytest.mark.parametrize("relation", ["repeat", "contradicts", "distinct"])
def test_the_model_judges_a_similar_memory_whose_key_differs(open_memory, relation):
    with ChatServer() as server:
        memory = _with_model(open_memory, server)
        old = memory.add_heuristic("coder", "a network call fails now and then", "retry with exponential backoff")
        server.replies.append(json.dumps({"verdicts": [{"id": old.id, "relation": relation}]}))
        new = memory.add_heuristic("coder", "a network call fails intermittently", "retry with exponential backoff")
    [prompt] = server.prompts()  # the first write had nothing to compare with
    assert old.id in prompt and "fails intermittently" in prompt and "fails now and then" in prompt
    if relation == "repeat":
        assert new.id == old.id and new.occurrence_count == 1
    else:
        assert new.id != old.id
        assert memory.get(old.id).is_valid is (relation == "distinct")


def test_an_invalid_judgement_leaves_the_offline_rules_standing(open_memory, caplog):
    with ChatServer() as server:
        memory = _with_model(open_memory, server)
        old = memory.add_heuristic("coder", "a network call fails now and then", "retry with exponential backoff")
        server.replies.append('{"verdicts": [{"id": "x", "relation": "probably"}]}')
        new = memory.add_heuristic("coder", "a network call fails intermittently", "retry with exponential backoff")
    assert new.id != old.id and memory.get(old.id).is_valid
    assert "offline rules stand" in caplog.text


def test_an_unreachable_model_fails_the_write_rather_than_deciding_differently(open_memory):
    with ChatServer(status=500) as server:
        memory = _with_model(open_memory, server)
        memory.add_heuristic("coder", "a network call fails now and then", "retry with exponential backoff")
        with pytest.raises(ModelError):
            memory.add_heuristic("coder", "a network call fails intermittently", "retry with exponential backoff")
    assert memory.stats()["Heuristic"] == 1
