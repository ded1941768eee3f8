"""Importance: the caller's own rating lifted towards 1 by what a memory says (emphasis, a
decision), how it has been used (retrievals, lately) and how many memories rest on it; computed
when read, and a small, explained factor of retrieval's score."""

from __future__ import annotations

import pytest

from alma_graph import RetrievalConfig, ScoreWeights, ValidationError
from alma_graph.services import importance
from alma_graph.services.importance import ImportanceWeights, Signals, combine

DAY_MS = 86_400_000
NOW = 1_700_000_000_000


# -- the function ---------------------------------------------------------------------------------

def test_no_signal_leaves_the_callers_rating_as_it_is():
    assert combine(Signals()) == 0.5
    assert combine(Signals(prior=0.1)) == 0.1
    assert combine(Signals(prior=1.0, emphasis=1, decision=1)) == 1.0


def test_each_signal_lifts_the_prior_towards_1_by_its_documented_weight():
    assert combine(Signals(emphasis=1)) == pytest.approx(0.5 + 0.5 * 0.35)
    assert combine(Signals(decision=1)) == pytest.approx(0.5 + 0.5 * 0.25)
    assert combine(Signals(usage=1)) == pytest.approx(0.5 + 0.5 * 0.2)
    assert combine(Signals(references=1)) == pytest.approx(0.5 + 0.5 * 0.2)
    assert combine(Signals(prior=0.2, emphasis=1)) == pytest.approx(0.2 + 0.8 * 0.35)


def test_all_signals_at_full_strength_make_it_1_and_the_result_stays_in_0_1():
    assert combine(Signals(emphasis=1, decision=1, usage=1, references=1)) == 1.0
    heavy = ImportanceWeights(emphasis=5, decision=5)
    assert combine(Signals(prior=0.3, emphasis=1, decision=1), heavy) == 1.0
    assert 0 <= combine(Signals(prior=-3)) <= 1


@pytest.mark.parametrize("text, expected", [
    ("dicts keep insertion order", 0.0),
    ("Important: the API key rotates monthly", 0.5),
    ("remember this: never deploy on Fridays", 1.0),  # two markers
    ("always pin the versions; it is critical", 1.0),
])
def test_emphasis_counts_distinct_markers_in_the_text(text, expected):
    assert importance.emphasis(text) == expected


def test_metadata_can_mark_a_memory_important():
    assert importance.emphasis("plain text", {"important": True}) == 1.0
    assert importance.emphasis("plain text", {"priority": "High"}) == 1.0
    assert importance.emphasis("plain text", {"priority": "low", "important": "no"}) == 0.0


@pytest.mark.parametrize("text", ["We decided to use Postgres", "let's go with the blue logo",
                                  "the team chose weekly releases", "Decision: retries stay at 3"])
def test_a_recorded_decision_is_a_signal(text):
    assert importance.decision(text) == 1.0


def test_ordinary_text_records_no_decision():
    assert importance.decision("the build takes ten minutes") == 0.0


def test_usage_grows_with_retrievals_and_fades_with_idle_time():
    assert importance.usage(0, None, NOW) == 0.0
    assert importance.usage(4, NOW, NOW) == pytest.approx(0.5)
    assert importance.usage(40, NOW, NOW) > importance.usage(4, NOW, NOW)
    assert importance.usage(4, NOW - 30 * DAY_MS, NOW) == pytest.approx(0.25)


def test_references_saturate():
    assert importance.references(0) == 0.0
    assert importance.references(2) == pytest.approx(0.5)
    assert importance.references(1) < importance.references(2) < importance.references(10) < 1.0


def test_weights_are_checked():
    with pytest.raises(ValidationError, match="importance.emphasis"):
        ImportanceWeights(emphasis=-1)
    with pytest.raises(ValidationError, match="usage_half_count"):
        ImportanceWeights(usage_half_count=0)
    with pytest.raises(ValidationError, match="weights.importance"):
        ScoreWeights(importance=-0.1)


# -- in retrieval ---------------------------------------------------------------------------------

def test_the_explanation_shows_importance_and_its_contribution(memory, agent):
    memory.add_knowledge(agent, "ops", "Remember this: the release branch is frozen on Thursdays")
    [item] = memory.retrieve("release branch frozen thursdays", agent, top_k=1)
    factor = item.explanation.factors["importance"]
    assert factor.value == pytest.approx(0.5 + 0.5 * 0.35 * 0.5)  # one emphasis marker
    relevance = item.explanation.factors["similarity"].value
    assert factor.weight == 0.1 and factor.contribution == pytest.approx(factor.value * 0.1 * relevance, abs=1e-6)
    assert item.score == pytest.approx(sum(f.contribution for f in item.explanation.factors.values()), abs=1e-6)


def test_of_two_equally_relevant_memories_the_more_important_ranks_first(memory, agent):
    plain = memory.add_knowledge(agent, "ops", "staging deploys use the blue cluster")
    rated = memory.add_knowledge(agent, "ops", "staging deploys use the green cluster", importance=0.95)
    ranked = [i.id for i in memory.retrieve("staging deploys cluster", agent, types=["DomainKnowledge"])]
    assert ranked[:2] == [rated.id, plain.id]


def test_the_importance_weight_is_configurable_and_0_turns_it_off(open_memory):
    memory = open_memory(retrieval=RetrievalConfig(weights=ScoreWeights(importance=0)))
    memory.register_agent("coder")
    memory.add_knowledge("coder", "ops", "Critical: always rotate the staging keys", importance=1.0)
    [item] = memory.retrieve("rotate staging keys", "coder", top_k=1)
    assert item.explanation.factors["importance"].contribution == 0.0


def test_memories_resting_on_a_memory_and_retrievals_raise_its_importance(memory, agent):
    base = memory.add_knowledge(agent, "ops", "the staging cluster runs in eu-west-1")
    before = memory.retrieve("staging cluster region", agent, top_k=1)[0].explanation.factors["importance"].value
    for fact in ("the staging database is in eu-west-1 too", "staging latency is lowest from Dublin"):
        memory.add_knowledge(agent, "ops", fact, derived_from=[base.id])
    after = memory.retrieve("staging cluster region", agent, top_k=1)
    assert after[0].id == base.id and after[0].explanation.factors["importance"].value > before


def test_an_episode_that_memories_derive_from_matters_more(memory, agent):
    turns = memory.remember_many(agent, [{"text": "we talked about the office plants", "session": "s"},
                                         {"text": "we talked about the office coffee", "session": "s"}])
    memory.add_knowledge(agent, "office", "the office coffee machine is new", derived_from=[turns[1].id])
    found = {i.id: i.explanation.factors["importance"].value
             for i in memory.retrieve("talked about the office", agent, types=["Episode"])}
    assert found[turns[1].id] > found[turns[0].id] == 0.5
