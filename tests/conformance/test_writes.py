"""Writes and reads: every memory type, agents, episodes in sessions chained by NEXT, and the
counts `stats()` reports, read back exactly as written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alma_graph import MemoryScope

from .graph_checks import assert_session_is_one_chain, edges, next_pairs

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_a_new_database_is_empty(memory):
    assert set(memory.stats().values()) == {0}
    assert memory.agents() == []


def test_every_memory_type_is_read_back_exactly_as_written(memory, agent):
    heuristic = memory.add_heuristic(agent, condition="a network call fails now and then",
                                     strategy="retry with exponential backoff", confidence=0.7,
                                     importance=0.9, metadata={"origin": "review", "tags": ["net"]})
    preference = memory.add_preference(agent, user="ann", category="editor", preference="vim keybindings",
                                       source="chat")
    knowledge = memory.add_knowledge(agent, domain="python", fact="dicts keep insertion order",
                                     valid_from="2023-01-01T00:00:00Z")
    anti = memory.add_anti_pattern(agent, pattern="catching a bare except", why_bad="it hides bugs",
                                   better_alternative="catch the specific error")
    outcome = memory.add_memory("Outcome", agent, {
        "task": "ship v2", "task_type": "release", "success": False, "strategy_used": "big bang",
        "duration_ms": 1234.5, "error": "the migration timed out"})
    written = [heuristic, preference, knowledge, anti, outcome]

    for m in written:
        assert memory.get(m.id) == m
        assert m.agent == agent and m.is_valid and m.access_count == 0
        assert memory.history(m.id).learned_by == agent
    assert heuristic.text == "When a network call fails now and then: retry with exponential backoff"
    assert (heuristic.confidence, heuristic.importance) == (0.7, 0.9)
    assert heuristic.metadata == {"origin": "review", "tags": ["net"]}
    assert (preference.user, preference.category, preference.preference, preference.source) == (
        "ann", "editor", "vim keybindings", "chat")
    assert knowledge.valid_from == datetime(2023, 1, 1, tzinfo=timezone.utc) and knowledge.source is None
    assert anti.better_alternative == "catch the specific error" and anti.occurrence_count == 0
    assert (outcome.success, outcome.duration_ms, outcome.error) == (False, 1234.5, "the migration timed out")
    assert outcome.text == ("Task (release): ship v2. Strategy: big bang. It failed. "
                            "Error: the migration timed out")

    stats = memory.stats()
    for m in written:
        assert stats[m.type] == 1, m.type
    assert (stats["LEARNED"], stats["Agent"], stats["Episode"]) == (5, 1, 0)


def test_agents_are_listed_by_name_with_their_scopes(memory):
    memory.register_agent(MemoryScope(agent="writer", can_learn=["DomainKnowledge"], description="docs"))
    memory.register_agent("coder", cannot_learn=["UserPreference"])
    assert [a.name for a in memory.agents()] == ["coder", "writer"]
    writer = memory.get_agent("writer")
    assert writer.scope == MemoryScope(agent="writer", can_learn=["DomainKnowledge"], description="docs")
    assert memory.get_agent("coder").scope.cannot_learn == ("UserPreference",)


def test_learn_records_outcomes_and_forms_a_heuristic_derived_from_them(memory, agent):
    results = [memory.learn(agent, f"deploy service {i}", True, "blue-green", task_type="deploy")
               for i in range(3)]
    heuristic = results[-1].heuristic
    assert heuristic is not None and heuristic.strategy == "blue-green" and heuristic.condition == "deploy"
    assert memory.get(heuristic.id) == heuristic
    outcomes = {r.outcome.id for r in results}
    assert {(heuristic.id, "DERIVED_FROM", o) for o in outcomes} <= edges(memory.history(heuristic.id))
    stats = memory.stats()
    assert (stats["Outcome"], stats["Heuristic"], stats["LEARNED"]) == (3, 1, 4)


def test_episodes_of_a_session_are_numbered_in_order_and_chained_by_next(memory, agent):
    singles = [memory.remember(f"turn {i} about the flaky build", agent, session="s1",
                               timestamp=T0 + timedelta(minutes=i), source_id=f"chat:{i}", metadata={"i": i})
               for i in range(3)]
    batch = memory.remember_many(agent, [
        {"text": f"turn {i} about the flaky build", "session": "s1", "timestamp": T0 + timedelta(minutes=i)}
        for i in range(3, 6)])
    episodes = singles + batch
    assert [e.seq for e in episodes] == list(range(6))
    assert memory.episodes("s1") == episodes
    assert memory.get(singles[1].id) == singles[1]
    assert (singles[1].source_id, singles[1].metadata, singles[1].timestamp) == (
        "chat:1", {"i": 1}, T0 + timedelta(minutes=1))
    assert (batch[0].source_id, batch[0].metadata) == (None, {})
    assert_session_is_one_chain(memory, "s1", 6)


def test_sessions_are_listed_per_agent_in_order_of_their_first_episode(memory, agent):
    memory.register_agent("other")
    memory.remember_many(agent, [
        {"text": "planning the release", "session": "s2", "timestamp": T0 + timedelta(hours=1)},
        {"text": "kickoff meeting notes", "session": "s1", "timestamp": T0},
        {"text": "release checklist done", "session": "s2", "timestamp": T0 + timedelta(hours=1, minutes=5)},
    ])
    default = memory.remember("an observation without a session", agent, timestamp=T0 + timedelta(hours=2))
    memory.remember("another agent's observation", "other", session="o1")

    assert default.session == f"{agent}/default"
    assert [(s.id, s.agent, s.episode_count, s.started_at) for s in memory.sessions(agent)] == [
        ("s1", agent, 1, T0),
        ("s2", agent, 2, T0 + timedelta(hours=1)),
        (f"{agent}/default", agent, 1, T0 + timedelta(hours=2)),
    ]
    assert [s.id for s in memory.sessions("other")] == ["o1"]
    assert [e.text for e in memory.episodes("s2")] == ["planning the release", "release checklist done"]
    assert next_pairs(memory, "s2") == [(0, 1)] and next_pairs(memory, "s1") == []
    stats = memory.stats()
    assert (stats["Episode"], stats["Session"], stats["HAS_SESSION"], stats["IN_SESSION"], stats["NEXT"]) == (
        5, 4, 4, 5, 1)


def test_a_session_written_in_several_calls_stays_one_chain(memory, agent):
    for start in range(0, 12, 4):
        memory.remember_many(agent, [{"text": f"line {i} of the incident log", "session": "incident"}
                                     for i in range(start, start + 4)])
        memory.remember(f"comment after line {start + 3}", agent, session="incident")
    assert_session_is_one_chain(memory, "incident", 15)
    texts = [e.text for e in memory.episodes("incident")]
    assert texts[:5] == [f"line {i} of the incident log" for i in range(4)] + ["comment after line 3"]
