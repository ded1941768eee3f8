"""Learning from outcomes: every call records an Outcome; repeated successes form a Heuristic,
repeated failures an AntiPattern, each linked by DERIVED_FROM to the outcomes behind it."""

from __future__ import annotations

import pytest

from alma_graph import AntiPattern, GraphMemory, Heuristic, MemoryScope, Outcome, ValidationError


def derived_from(memory: GraphMemory, label: str, memory_id: str) -> set[str]:
    rows = memory.backend.execute(
        f"MATCH (m:{label})-[:DERIVED_FROM]->(o:Outcome) WHERE m.id = $id RETURN o.id AS id", {"id": memory_id})
    return {r["id"] for r in rows}


def test_every_learn_call_records_an_outcome(memory, agent):
    results = [
        memory.learn(agent, "deploy the api", True, "blue-green", task_type="deploy", duration_ms=812.5),
        memory.learn(agent, "deploy the web app", False, "in place", task_type="deploy", error="downtime"),
        memory.learn(agent, "write release notes", "success", "template"),
    ]
    assert memory.stats()["Outcome"] == 3
    first, second, third = (r.outcome for r in results)
    assert isinstance(first, Outcome)
    assert (first.task, first.task_type, first.success, first.strategy_used, first.duration_ms) == (
        "deploy the api", "deploy", True, "blue-green", 812.5)
    assert (second.success, second.error) == (False, "downtime")
    assert third.task_type == "general"  # no task_type given
    for r in results:
        assert memory.get(r.outcome.id) == r.outcome
        assert r.outcome.confidence == 1.0
        assert r.heuristic is None and r.anti_pattern is None


def test_outcome_derives_from_the_episodes_given(memory, agent):
    e1 = memory.remember("user: please deploy", agent, session="s", source_id="msg-1")
    e2 = memory.remember("bot: deploying now", agent, session="s", source_id="msg-2")
    r = memory.learn(agent, "deploy", True, "blue-green", episodes=[e1.id, e2.id], metadata={"ticket": "OPS-1"})
    rows = memory.backend.execute(
        "MATCH (o:Outcome)-[:DERIVED_FROM]->(e:Episode) WHERE o.id = $id RETURN e.id AS id", {"id": r.outcome.id})
    assert {row["id"] for row in rows} == {e1.id, e2.id}
    assert r.outcome.metadata == {"ticket": "OPS-1"}


def test_two_successes_are_not_enough_for_a_heuristic(memory, agent):
    for i in range(2):
        r = memory.learn(agent, f"deploy service {i}", True, "blue-green", task_type="deploy")
        assert r.heuristic is None
    assert memory.stats()["Heuristic"] == 0


def test_heuristic_forms_after_three_successes_with_derived_from_edges_to_the_outcomes(memory, agent):
    outcomes = []
    for i in range(3):
        r = memory.learn(agent, f"deploy service {i}", True, "blue-green", task_type="deploy")
        outcomes.append(r.outcome.id)
    h = r.heuristic
    assert isinstance(h, Heuristic)
    assert (h.condition, h.strategy, h.occurrence_count, h.success_count) == ("deploy", "blue-green", 3, 3)
    assert h.confidence == pytest.approx(4 / 5)  # Laplace: (3 + 1) / (3 + 2)
    assert any("formed a heuristic" in n for n in r.notes)
    assert memory.stats()["Heuristic"] == 1
    assert derived_from(memory, "Heuristic", h.id) == set(outcomes)
    assert memory.history(h.id).learned_by == agent


def test_heuristic_only_counts_outcomes_of_the_same_task_type_and_strategy(memory, agent):
    memory.learn(agent, "deploy a", True, "blue-green", task_type="deploy")
    memory.learn(agent, "deploy b", True, "blue-green", task_type="deploy")
    memory.learn(agent, "migrate c", True, "blue-green", task_type="migration")  # other task type
    r = memory.learn(agent, "deploy d", True, "canary", task_type="deploy")  # other strategy
    assert r.heuristic is None
    assert memory.stats()["Heuristic"] == 0


def test_heuristic_is_strengthened_by_later_outcomes(memory, agent):
    for i in range(3):
        formed = memory.learn(agent, f"deploy {i}", True, "blue-green", task_type="deploy").heuristic
    fourth = memory.learn(agent, "deploy 3", True, "blue-green", task_type="deploy")
    h = fourth.heuristic
    assert h.id == formed.id
    assert (h.occurrence_count, h.success_count) == (4, 4)
    assert h.confidence == pytest.approx(5 / 6)
    assert "updated the heuristic's counts" in fourth.notes

    failure = memory.learn(agent, "deploy 4", False, "blue-green", task_type="deploy", error="timeout")
    h = failure.heuristic
    assert h.id == formed.id
    assert (h.occurrence_count, h.success_count) == (5, 4)
    assert h.confidence == pytest.approx(5 / 7)
    assert memory.get(h.id) == h
    assert memory.stats()["Heuristic"] == 1
    evidence = derived_from(memory, "Heuristic", h.id)
    assert len(evidence) == 5
    assert {fourth.outcome.id, failure.outcome.id} <= evidence


def test_anti_pattern_forms_after_repeated_failures_naming_the_errors_and_a_strategy_that_worked(memory, agent):
    memory.learn(agent, "migrate users table", True, "migration script", task_type="migration")
    failures = []
    r = None
    for i, error in enumerate(["lock wait timeout", "deadlock detected", "lock wait timeout"]):
        r = memory.learn(agent, f"migrate table {i}", False, "edit schema in prod", task_type="migration",
                         error=error)
        failures.append(r.outcome.id)
        if i < 2:
            assert r.anti_pattern is None
    a = r.anti_pattern
    assert isinstance(a, AntiPattern)
    assert "edit schema in prod" in a.pattern
    assert "lock wait timeout" in a.why_bad and "deadlock detected" in a.why_bad
    assert a.better_alternative == "migration script"
    assert a.occurrence_count == 3
    assert any("anti-pattern" in n for n in r.notes)
    assert derived_from(memory, "AntiPattern", a.id) == set(failures)
    assert memory.stats()["AntiPattern"] == 1


def test_anti_pattern_without_any_working_alternative_has_none(memory, agent):
    for i in range(3):
        r = memory.learn(agent, f"t{i}", False, "guess", task_type="quiz", error="wrong")
    assert r.anti_pattern.better_alternative is None
    assert "wrong" in r.anti_pattern.why_bad


def test_later_failures_strengthen_the_existing_anti_pattern(memory, agent):
    for i in range(3):
        first = memory.learn(agent, f"t{i}", False, "guess", task_type="quiz", error="wrong").anti_pattern
    r = memory.learn(agent, "t3", False, "guess", task_type="quiz", error="wrong again")
    assert r.anti_pattern.id == first.id
    assert r.anti_pattern.occurrence_count == 4
    assert len(derived_from(memory, "AntiPattern", first.id)) == 4
    assert memory.stats()["AntiPattern"] == 1


SIMILAR_TASKS = [
    "fix the failing unit test in the parser module",
    "fix the failing unit test in the lexer module",
    "fix the failing unit test in the printer module",
    "fix the failing unit test in the loader module",
]
STRATEGY = "run pytest -x and read the first failure"


def test_without_task_type_similar_task_texts_group_together(memory, agent):
    first = memory.learn(agent, SIMILAR_TASKS[0], True, STRATEGY)
    second = memory.learn(agent, SIMILAR_TASKS[1], True, STRATEGY)
    unrelated = memory.learn(agent, "bake a chocolate cake for the party", True, STRATEGY)
    assert unrelated.heuristic is None  # the cake is not like the test fixes
    third = memory.learn(agent, SIMILAR_TASKS[2], True, STRATEGY)
    h = third.heuristic
    assert h is not None and h.strategy == STRATEGY
    assert h.success_count == 3
    assert derived_from(memory, "Heuristic", h.id) == {first.outcome.id, second.outcome.id, third.outcome.id}


def test_without_task_type_a_later_similar_success_strengthens_the_heuristic(memory, agent):
    for task in SIMILAR_TASKS[:3]:
        formed = memory.learn(agent, task, True, STRATEGY).heuristic
    r = memory.learn(agent, SIMILAR_TASKS[3], True, STRATEGY)
    assert memory.stats()["Heuristic"] == 1
    assert r.heuristic.id == formed.id
    assert r.heuristic.occurrence_count == 4


def test_strategy_spelling_variants_strengthen_the_same_heuristic(memory, agent):
    for i in range(3):
        formed = memory.learn(agent, f"deploy {i}", True, "Blue green deploy", task_type="deploy").heuristic
    r = memory.learn(agent, "deploy 3", True, "blue green  deploy", task_type="deploy")
    assert memory.stats()["Heuristic"] == 1
    assert r.heuristic.id == formed.id


def test_scope_forbidding_heuristic_means_none_forms_and_a_note_says_so(memory):
    memory.register_agent(MemoryScope(agent="limited", cannot_learn=["Heuristic"]))
    for i in range(3):
        r = memory.learn("limited", f"deploy {i}", True, "blue-green", task_type="deploy")
    assert r.heuristic is None
    assert any("forbids Heuristic" in n for n in r.notes)
    assert memory.stats()["Heuristic"] == 0
    assert memory.stats()["Outcome"] == 3


def test_scope_forbidding_anti_pattern_means_none_forms_and_a_note_says_so(memory):
    memory.register_agent(MemoryScope(agent="limited", can_learn=["Outcome", "Heuristic"]))
    for i in range(3):
        r = memory.learn("limited", f"t{i}", False, "guess", task_type="quiz")
    assert r.anti_pattern is None
    assert any("forbids AntiPattern" in n for n in r.notes)
    assert memory.stats()["AntiPattern"] == 0


@pytest.mark.parametrize("outcome, success", [
    ("success", True), ("failure", False), ("Success", True), (" FAILURE ", False), (True, True), (False, False),
])
def test_outcome_accepts_booleans_and_success_failure_strings(memory, agent, outcome, success):
    assert memory.learn(agent, "task", outcome, "s").outcome.success is success


@pytest.mark.parametrize("outcome", ["maybe", "", 1, 0, None, 0.5, ["success"]])
def test_other_outcome_values_are_a_validation_error_naming_outcome(memory, agent, outcome):
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.learn(agent, "task", outcome, "s")
    assert err.value.field == "outcome"
    assert "outcome" in str(err.value)
    assert memory.stats() == before
