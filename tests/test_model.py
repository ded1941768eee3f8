"""The memory model: every memory type and episodes round-trip through the graph with their
own fields and the common ones; sessions are nodes linked by HAS_SESSION, IN_SESSION and NEXT."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alma_graph import (
    AntiPattern,
    DomainKnowledge,
    Episode,
    GraphMemory,
    Heuristic,
    MemoryScope,
    Outcome,
    UserPreference,
    ValidationError,
)

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def count(memory: GraphMemory, pattern: str) -> int:
    return int(memory.backend.execute(f"MATCH {pattern} RETURN count(*) AS c")[0]["c"])


def assert_fresh_common_fields(m, agent: str, *, before: datetime, after: datetime) -> None:
    assert m.id and isinstance(m.id, str)
    assert m.agent == agent
    assert isinstance(m.text, str) and m.text
    assert before - timedelta(milliseconds=1) <= m.created_at <= after + timedelta(milliseconds=1)
    assert m.updated_at == m.created_at
    assert m.valid_from == m.created_at
    assert m.valid_to is None and m.invalidated_at is None and m.is_valid
    assert m.access_count == 0
    assert m.last_access is None


# -- memory types ----------------------------------------------------------------------------


def test_heuristic_is_stored_and_read_back_with_its_fields(memory, agent):
    before = datetime.now(timezone.utc)
    h = memory.add_heuristic(agent, condition="a network call is flaky", strategy="retry with backoff",
                             confidence=0.7, importance=0.9, metadata={"team": "infra"})
    after = datetime.now(timezone.utc)
    got = memory.get(h.id)
    assert isinstance(got, Heuristic) and got.memory_type == "Heuristic"
    assert (got.condition, got.strategy) == ("a network call is flaky", "retry with backoff")
    assert (got.occurrence_count, got.success_count) == (0, 0)
    assert got.text == "When a network call is flaky: retry with backoff"
    assert (got.confidence, got.importance, got.metadata) == (0.7, 0.9, {"team": "infra"})
    assert_fresh_common_fields(got, agent, before=before, after=after)
    assert got == h


def test_heuristic_counts_can_be_written_through_add_memory(memory, agent):
    h = memory.add_memory("Heuristic", agent, {"condition": "c", "strategy": "s",
                                               "occurrence_count": 5, "success_count": 4})
    got = memory.get(h.id)
    assert (got.occurrence_count, got.success_count) == (5, 4)


def test_outcome_is_stored_and_read_back_with_its_fields(memory, agent):
    before = datetime.now(timezone.utc)
    o = memory.add_memory("Outcome", agent, {
        "task": "compile the project", "task_type": "build", "success": False,
        "strategy_used": "make -j8", "duration_ms": 1234.5, "error": "linker OOM",
    })
    after = datetime.now(timezone.utc)
    got = memory.get(o.id)
    assert isinstance(got, Outcome)
    assert (got.task, got.task_type, got.success, got.strategy_used) == (
        "compile the project", "build", False, "make -j8")
    assert (got.duration_ms, got.error) == (1234.5, "linker OOM")
    assert "failed" in got.text and "linker OOM" in got.text
    assert (got.confidence, got.importance, got.metadata) == (0.5, 0.5, {})
    assert_fresh_common_fields(got, agent, before=before, after=after)


def test_outcome_optional_fields_default_to_none(memory, agent):
    o = memory.add_memory("Outcome", agent, {"task": "t", "task_type": "x", "success": True,
                                             "strategy_used": "s"})
    got = memory.get(o.id)
    assert got.duration_ms is None and got.error is None and got.success is True


def test_user_preference_is_stored_and_read_back_with_its_fields(memory, agent):
    before = datetime.now(timezone.utc)
    p = memory.add_preference(agent, user="ann", category="editor", preference="tabs, 4 wide",
                              source="chat 2024-05-01")
    after = datetime.now(timezone.utc)
    got = memory.get(p.id)
    assert isinstance(got, UserPreference)
    assert (got.user, got.category, got.preference, got.source) == (
        "ann", "editor", "tabs, 4 wide", "chat 2024-05-01")
    assert got.text == "ann prefers (editor): tabs, 4 wide"
    assert_fresh_common_fields(got, agent, before=before, after=after)


def test_domain_knowledge_is_stored_and_read_back_with_its_fields(memory, agent):
    before = datetime.now(timezone.utc)
    k = memory.add_knowledge(agent, domain="python", fact="dicts keep insertion order")
    after = datetime.now(timezone.utc)
    got = memory.get(k.id)
    assert isinstance(got, DomainKnowledge)
    assert (got.domain, got.fact, got.source) == ("python", "dicts keep insertion order", None)
    assert got.text == "[python] dicts keep insertion order"
    assert_fresh_common_fields(got, agent, before=before, after=after)


def test_anti_pattern_is_stored_and_read_back_with_its_fields(memory, agent):
    before = datetime.now(timezone.utc)
    a = memory.add_anti_pattern(agent, pattern="editing the schema in prod", why_bad="locks tables",
                                better_alternative="a migration script")
    after = datetime.now(timezone.utc)
    got = memory.get(a.id)
    assert isinstance(got, AntiPattern)
    assert (got.pattern, got.why_bad, got.better_alternative, got.occurrence_count) == (
        "editing the schema in prod", "locks tables", "a migration script", 0)
    assert "Avoid: editing the schema in prod" in got.text and "a migration script" in got.text
    assert_fresh_common_fields(got, agent, before=before, after=after)


def test_explicit_valid_from_is_kept(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="f", valid_from="2020-02-03T04:05:06Z")
    got = memory.get(k.id)
    assert got.valid_from == datetime(2020, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert got.created_at > got.valid_from


def test_each_memory_type_is_its_own_node_label_with_a_learned_edge(memory, agent):
    memory.add_heuristic(agent, condition="c", strategy="s")
    memory.add_preference(agent, user="u", category="c", preference="p")
    memory.add_knowledge(agent, domain="d", fact="f")
    memory.add_anti_pattern(agent, pattern="p", why_bad="w")
    memory.add_memory("Outcome", agent, {"task": "t", "task_type": "x", "success": True, "strategy_used": "s"})
    for label in ("Heuristic", "UserPreference", "DomainKnowledge", "AntiPattern", "Outcome"):
        assert count(memory, f"(n:{label})") == 1
        assert count(memory, f"(a:Agent {{name: 'coder'}})-[:LEARNED]->(n:{label})") == 1
    stats = memory.stats()
    assert stats["LEARNED"] == 5


# -- episodes --------------------------------------------------------------------------------


def test_episode_is_stored_with_session_seq_timestamp_source_id_and_metadata(memory, agent):
    e = memory.remember("the build broke on main", agent, session="chat-1", timestamp=T0,
                        source_id="slack:123", metadata={"channel": "#ci", "n": 3, "tags": ["a", "b"]})
    got = memory.get(e.id)
    assert isinstance(got, Episode)
    assert got == e
    assert (got.agent, got.session, got.text, got.seq) == (agent, "chat-1", "the build broke on main", 0)
    assert got.timestamp == T0
    assert got.source_id == "slack:123"
    assert got.metadata == {"channel": "#ci", "n": 3, "tags": ["a", "b"]}


@pytest.mark.parametrize("timestamp", [
    T0,
    T0.replace(tzinfo=None),  # naive datetimes are UTC
    T0.astimezone(timezone(timedelta(hours=-5))),
    "2024-05-01T12:00:00Z",
    "2024-05-01T14:00:00+02:00",
    T0.timestamp(),
    int(T0.timestamp()),
], ids=["aware", "naive", "other-tz", "iso-z", "iso-offset", "epoch-float", "epoch-int"])
def test_episode_timestamp_accepts_datetime_iso_string_and_epoch_seconds(memory, agent, timestamp):
    e = memory.remember("hello", agent, timestamp=timestamp)
    assert memory.get(e.id).timestamp == T0


def test_episode_without_session_goes_to_the_agents_default_session(memory, agent):
    before = datetime.now(timezone.utc)
    e = memory.remember("hello", agent)
    assert e.session == "coder/default"
    assert e.timestamp >= before - timedelta(milliseconds=1)
    assert e.source_id is None and e.metadata == {}


def test_episodes_in_one_batch_get_consecutive_seq_per_session(memory, agent):
    eps = memory.remember_many(agent, [
        {"text": "a0", "session": "a", "timestamp": T0},
        {"text": "b0", "session": "b", "timestamp": T0},
        {"text": "a1", "session": "a", "timestamp": T0 + timedelta(seconds=1)},
        {"text": "a2", "session": "a", "timestamp": T0 + timedelta(seconds=2)},
        {"text": "b1", "session": "b", "timestamp": T0 + timedelta(seconds=1)},
    ])
    assert [(e.text, e.session, e.seq) for e in eps] == [
        ("a0", "a", 0), ("b0", "b", 0), ("a1", "a", 1), ("a2", "a", 2), ("b1", "b", 1)]
    assert [e.text for e in memory.episodes("a")] == ["a0", "a1", "a2"]
    assert [e.text for e in memory.episodes("b")] == ["b0", "b1"]


def test_sessions_are_nodes_linked_by_has_session_in_session_and_next(memory, agent):
    memory.remember_many(agent, [{"text": f"a{i}", "session": "a"} for i in range(3)]
                         + [{"text": f"b{i}", "session": "b"} for i in range(2)])
    assert count(memory, "(s:Session)") == 2
    assert count(memory, "(:Agent {name: 'coder'})-[:HAS_SESSION]->(s:Session)") == 2
    assert count(memory, "(e:Episode)-[:IN_SESSION]->(s:Session)") == 5
    assert count(memory, "(e:Episode)-[:IN_SESSION]->(s:Session {id: 'a'})") == 3
    assert count(memory, "(a:Episode)-[:NEXT]->(b:Episode)") == 3  # 2 in "a", 1 in "b"
    rows = memory.backend.execute(
        "MATCH (a:Episode)-[:NEXT]->(b:Episode) RETURN a.text AS x, b.text AS y ORDER BY x")
    assert [(r["x"], r["y"]) for r in rows] == [("a0", "a1"), ("a1", "a2"), ("b0", "b1")]
    sessions = {s.id: s for s in memory.sessions(agent)}
    assert set(sessions) == {"a", "b"}
    assert (sessions["a"].episode_count, sessions["b"].episode_count) == (3, 2)
    assert all(s.agent == agent for s in sessions.values())


def test_next_continues_across_separate_remember_calls_into_the_same_session(memory, agent):
    first = memory.remember("turn 0", agent, session="s", timestamp=T0)
    second = memory.remember("turn 1", agent, session="s", timestamp=T0 + timedelta(minutes=1))
    rest = memory.remember_many(agent, [{"text": "turn 2", "session": "s"}, {"text": "turn 3", "session": "s"}])
    assert [first.seq, second.seq] + [e.seq for e in rest] == [0, 1, 2, 3]
    rows = memory.backend.execute(
        "MATCH (a:Episode)-[:NEXT]->(b:Episode) RETURN a.seq AS x, b.seq AS y ORDER BY x")
    assert [(r["x"], r["y"]) for r in rows] == [(0, 1), (1, 2), (2, 3)]
    assert count(memory, "(s:Session)") == 1
    assert count(memory, "(:Agent)-[:HAS_SESSION]->(s:Session)") == 1
    assert [s.started_at for s in memory.sessions(agent)] == [T0]


def test_session_belonging_to_another_agent_is_refused_and_nothing_is_written(memory, agent):
    memory.register_agent(MemoryScope(agent="other"))
    memory.remember("mine", agent, session="private")
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.remember("intruder", "other", session="private")
    assert err.value.field == "session"
    with pytest.raises(ValidationError):  # atomic: a new session in the same batch is not kept either
        memory.remember_many("other", [{"text": "ok", "session": "fresh"},
                                       {"text": "intruder", "session": "private"}])
    assert memory.stats() == before
    assert [e.text for e in memory.episodes("private")] == ["mine"]
    assert memory.sessions("other") == []
