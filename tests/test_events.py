"""Memory events: every committed write announces itself to in-process subscribers."""

from __future__ import annotations

import pytest

from alma_graph import GraphMemory, MemoryScope
from alma_graph.errors import ValidationError


@pytest.fixture
def memory(tmp_path):
    with GraphMemory(f"kuzu://{tmp_path / 'db'}", embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="coder"))
        memory.register_agent(MemoryScope(agent="writer"))
        yield memory


def test_each_write_emits_its_event(memory):
    events = []
    memory.subscribe(events.append)
    fact = memory.add_knowledge("coder", "python", "tuples are immutable")
    memory.update(fact.id, confidence=0.9)
    newer = memory.update(fact.id, fact="tuples are immutable sequences")
    memory.forget(newer.id)
    memory.forget(newer.id, hard=True)
    assert [(e.type, e.memory_id, e.previous_id) for e in events] == [
        ("memory.created", fact.id, None),
        ("memory.updated", fact.id, None),
        ("memory.updated", newer.id, fact.id),
        ("memory.invalidated", fact.id, None),
        ("memory.invalidated", newer.id, None),
        ("memory.deleted", newer.id, None),
    ]
    assert all(e.agent == "coder" and e.memory_type == "DomainKnowledge" and e.at_ms > 0 for e in events)
    assert len({e.id for e in events}) == len(events)


def test_learning_announces_outcomes_and_what_they_formed_or_strengthened(memory):
    events = []
    memory.subscribe(events.append)
    for _ in range(4):
        memory.learn("coder", "parse the CSV export", True, "use the csv module", task_type="parsing")
    kinds = [(e.type, e.memory_type) for e in events]
    assert kinds.count(("memory.created", "Outcome")) == 4
    assert ("memory.created", "Heuristic") in kinds and ("memory.updated", "Heuristic") in kinds


def test_subscriptions_filter_and_close(memory):
    coder, created = [], []
    sub = memory.subscribe(coder.append, agents=["coder"])
    memory.subscribe(created.append, types=["memory.created"])
    memory.add_knowledge("writer", "style", "short sentences")
    fact = memory.add_knowledge("coder", "python", "sets are unordered")
    memory.forget(fact.id)
    assert [e.type for e in coder] == ["memory.created", "memory.invalidated"]
    assert [e.agent for e in created] == ["writer", "coder"]
    sub.close()
    memory.add_knowledge("coder", "python", "frozensets are hashable")
    assert len(coder) == 2


def test_a_failing_subscriber_never_fails_the_write(memory, caplog):
    def broken(event):
        raise RuntimeError("listener bug")

    seen = []
    memory.subscribe(broken)
    memory.subscribe(seen.append)
    fact = memory.add_knowledge("coder", "python", "bytes are immutable")
    assert memory.get(fact.id).text == fact.text and len(seen) == 1
    assert "listener bug" in caplog.text


def test_unknown_event_types_are_refused(memory):
    with pytest.raises(ValidationError, match="types: unknown event type 'memory.exploded'"):
        memory.subscribe(print, types=["memory.exploded"])
