"""MemoryScope: which memory types an agent may write, enforced on every write path; a refused
write leaves the graph exactly as it was."""

from __future__ import annotations

import pytest

import alma_graph
from alma_graph import GraphMemory, MemoryScope, NotFoundError, ScopeViolationError

from conformance.graph_checks import WRITES  # the write paths, shared with the conformance suite

TYPES = list(WRITES)


def test_scope_violation_is_a_permission_error_and_an_alma_graph_error(memory):
    memory.register_agent(MemoryScope(agent="limited", cannot_learn=["UserPreference"]))
    with pytest.raises(PermissionError):
        WRITES["UserPreference"](memory, "limited")
    with pytest.raises(alma_graph.AlmaGraphError):
        WRITES["UserPreference"](memory, "limited")


def test_learn_is_refused_when_the_scope_forbids_outcome_even_if_it_allows_heuristic(memory):
    memory.register_agent(MemoryScope(agent="h-only", can_learn=["Heuristic"]))
    before = memory.stats()
    for _ in range(3):
        with pytest.raises(ScopeViolationError) as err:
            memory.learn("h-only", "deploy", True, "blue-green", task_type="deploy")
        assert err.value.memory_type == "Outcome"
    assert memory.stats() == before


def test_a_content_update_of_a_type_the_scope_now_forbids_is_refused(memory):
    memory.register_agent(MemoryScope(agent="coder"))
    k = memory.add_knowledge("coder", domain="d", fact="old")
    memory.register_agent(MemoryScope(agent="coder", cannot_learn=["DomainKnowledge"]))
    before = memory.stats()
    with pytest.raises(ScopeViolationError):
        memory.update(k.id, fact="new")
    assert memory.stats() == before
    assert memory.get(k.id).fact == "old" and memory.get(k.id).is_valid


def test_episodes_are_not_restricted_by_the_scope(memory):
    memory.register_agent(MemoryScope(agent="narrow", can_learn=["Heuristic"]))
    memory.remember("an observation", "narrow")
    assert memory.stats()["Episode"] == 1


def test_scope_allows_and_check_agree():
    scope = MemoryScope(agent="a", can_learn=["Heuristic", "Outcome"], cannot_learn=["AntiPattern"])
    assert scope.allows("Heuristic") and scope.allows("Outcome")
    assert not scope.allows("AntiPattern") and not scope.allows("UserPreference")
    open_scope = MemoryScope(agent="b", cannot_learn=["UserPreference"])
    assert all(open_scope.allows(t) for t in TYPES if t != "UserPreference")
    assert not open_scope.allows("UserPreference")


def test_overlapping_can_learn_and_cannot_learn_is_refused(memory):
    with pytest.raises(ValueError, match="both can_learn and cannot_learn"):
        MemoryScope(agent="a", can_learn=["Heuristic", "Outcome"], cannot_learn=["Heuristic"])
    with pytest.raises(ValueError, match="both can_learn and cannot_learn"):
        memory.register_agent("a", can_learn=["Heuristic"], cannot_learn=["Heuristic"])
    assert memory.agents() == []


def test_overlapping_can_learn_and_cannot_learn_is_an_alma_graph_validation_error():
    with pytest.raises(alma_graph.ValidationError) as err:
        MemoryScope(agent="a", can_learn=["Heuristic"], cannot_learn=["Heuristic"])
    assert err.value.field == "scope"
    with pytest.raises(alma_graph.ValidationError) as err:
        MemoryScope(agent="a", can_learn=["Fact"])
    assert err.value.field == "scope.can_learn"
    with pytest.raises(alma_graph.ValidationError) as err:
        MemoryScope(agent="a", cannot_learn="Heuristic")  # a bare string is not a list of names
    assert err.value.field == "scope.cannot_learn"


def test_unknown_memory_type_in_a_scope_is_refused():
    with pytest.raises(ValueError, match="unknown memory type"):
        MemoryScope(agent="a", can_learn=["Fact"])


def test_re_registering_an_agent_updates_its_scope(memory, reopen):
    first = memory.register_agent(MemoryScope(agent="coder", description="v1"))
    memory.add_preference("coder", user="u", category="c", preference="p")
    second = memory.register_agent(MemoryScope(agent="coder", cannot_learn=["UserPreference"], description="v2"))
    assert second.created_at == first.created_at
    assert second.scope.cannot_learn == ("UserPreference",) and second.scope.description == "v2"
    assert [a.name for a in memory.agents()] == ["coder"]
    with pytest.raises(ScopeViolationError):
        memory.add_preference("coder", user="u", category="c", preference="p2")
    memory.add_knowledge("coder", domain="d", fact="still allowed")

    memory = reopen(memory)  # the new scope is stored, not just cached
    assert memory.get_agent("coder").scope.cannot_learn == ("UserPreference",)
    with pytest.raises(ScopeViolationError):
        memory.add_preference("coder", user="u", category="c", preference="p3")

    memory.register_agent("coder")  # back to unrestricted
    memory.add_preference("coder", user="u", category="c", preference="p4")
    assert memory.stats()["UserPreference"] == 2
    assert memory.stats()["Agent"] == 1


UNKNOWN_AGENT_CALLS = {
    "add_knowledge": lambda m: m.add_knowledge("ghost", domain="d", fact="f"),
    "add_heuristic": lambda m: m.add_heuristic("ghost", condition="c", strategy="s"),
    "add_preference": lambda m: m.add_preference("ghost", user="u", category="c", preference="p"),
    "add_anti_pattern": lambda m: m.add_anti_pattern("ghost", pattern="p", why_bad="w"),
    "add_memory": lambda m: m.add_memory("DomainKnowledge", "ghost", {"domain": "d", "fact": "f"}),
    "learn": lambda m: m.learn("ghost", "t", True, "s"),
    "remember": lambda m: m.remember("hello", "ghost"),
    "remember_many": lambda m: m.remember_many("ghost", [{"text": "hello"}]),
    "retrieve": lambda m: m.retrieve("hello", "ghost"),
    "sessions": lambda m: m.sessions("ghost"),
    "get_agent": lambda m: m.get_agent("ghost"),
}


@pytest.mark.parametrize("call", list(UNKNOWN_AGENT_CALLS))
def test_unknown_agent_is_not_found_on_write_and_retrieve(memory: GraphMemory, agent, call):
    memory.add_knowledge(agent, domain="d", fact="f")
    before = memory.stats()
    with pytest.raises(NotFoundError) as err:
        UNKNOWN_AGENT_CALLS[call](memory)
    assert (err.value.kind, err.value.key) == ("agent", "ghost")
    assert memory.stats() == before
