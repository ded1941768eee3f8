"""Scopes: what an agent may learn is enforced on every write, and an agent never reads another
agent's memories or episodes — not through retrieval, not through provenance."""

from __future__ import annotations

import numpy as np
import pytest

from alma_graph import MemoryScope, ScopeViolationError, ValidationError
from alma_graph.backends.base import SearchFilter
from alma_graph.schema import node_kind

from .graph_checks import ADD_MEMORY_FIELDS, WRITES, ids_of

TYPES = list(WRITES)


@pytest.mark.parametrize("memory_type", TYPES)
def test_cannot_learn_refuses_the_typed_write_method_and_writes_nothing(memory, memory_type):
    memory.register_agent(MemoryScope(agent="limited", cannot_learn=[memory_type]))
    before = memory.stats()
    with pytest.raises(ScopeViolationError) as err:
        WRITES[memory_type](memory, "limited")
    assert (err.value.agent, err.value.memory_type) == ("limited", memory_type)
    assert "cannot_learn" in str(err.value)
    assert memory.stats() == before


@pytest.mark.parametrize("memory_type", TYPES)
def test_cannot_learn_refuses_add_memory_and_writes_nothing(memory, memory_type):
    memory.register_agent(MemoryScope(agent="limited", cannot_learn=[memory_type]))
    before = memory.stats()
    with pytest.raises(ScopeViolationError):
        memory.add_memory(memory_type, "limited", ADD_MEMORY_FIELDS[memory_type])
    assert memory.stats() == before


@pytest.mark.parametrize("memory_type", TYPES)
def test_can_learn_allows_only_the_listed_types_on_every_write_path(memory, memory_type):
    memory.register_agent(MemoryScope(agent="narrow", can_learn=[memory_type]))
    for other in TYPES:
        before = memory.stats()
        if other == memory_type:
            WRITES[other](memory, "narrow")
            memory.add_memory(other, "narrow", ADD_MEMORY_FIELDS[other])
            assert memory.stats()[other] == before[other] + 2
        else:
            with pytest.raises(ScopeViolationError) as err:
                WRITES[other](memory, "narrow")
            assert "can_learn" in str(err.value)
            with pytest.raises(ScopeViolationError):
                memory.add_memory(other, "narrow", ADD_MEMORY_FIELDS[other])
            assert memory.stats() == before


@pytest.fixture
def two_agents(memory) -> dict[str, dict[str, object]]:
    """alice and bob hold the same kind of content; alice holds far more of it, so an unfiltered
    nearest-neighbour search would return only hers. Per agent: its episode ids, the id of its
    knowledge derived from the first episode, and the set of everything it owns."""
    owned = {}
    for name, turns in (("alice", 60), ("bob", 2)):
        memory.register_agent(name)
        episodes = [e.id for e in memory.remember_many(name, [
            {"text": f"the secret launch code discussion part {i}", "session": f"{name}-s"} for i in range(turns)])]
        knowledge = memory.add_knowledge(name, domain="secrets", fact="the secret launch code is 1234",
                                         derived_from=[episodes[0]]).id
        rare = memory.add_knowledge(name, domain="secrets", fact=f"the vault word is qzvrexplod for {name}").id
        owned[name] = {"episodes": episodes, "knowledge": knowledge, "all": {*episodes, knowledge, rare}}
    return owned


@pytest.mark.requires("vector_search")
def test_an_agent_never_retrieves_another_agents_memories_or_episodes(memory, two_agents):
    for name in ("alice", "bob"):
        mine = two_agents[name]["all"]
        for options in ({}, {"types": ["Episode"]}, {"types": ["DomainKnowledge"]}, {"include_invalidated": True}):
            result = memory.retrieve("secret launch code discussion", name, top_k=20, **options)
            assert result.items, (name, options)
            assert set(ids_of(result)) <= mine, (name, options)
        assert {item.id for item in memory.retrieve("qzvrexplod vault", name, top_k=5)} <= mine
    # bob's few items are all found although alice's many match the query as well
    assert set(ids_of(memory.retrieve("secret launch code", "bob", top_k=20))) == two_agents["bob"]["all"]


@pytest.mark.requires("vector_search", "full_text")
def test_index_searches_filter_by_agent_inside_the_query(memory, two_agents):
    """The nearest nodes overall are alice's; bob's search must still return bob's own k."""
    query = memory.embedder.embed(["the secret launch code discussion part 7"])[0]
    episode, bob_only = node_kind("Episode"), SearchFilter(agents=("bob",), valid_only=False)
    hits = memory.backend.vector_search(episode, np.asarray(query), 2, bob_only)
    assert {h.id for h in hits} == set(two_agents["bob"]["episodes"])
    words = memory.backend.text_search(episode, "secret launch code", 2, bob_only)
    assert {h.id for h in words} == {h.id for h in hits}


def test_provenance_never_crosses_agents(memory, two_agents):
    alice_episode, alice_fact = two_agents["alice"]["episodes"][0], two_agents["alice"]["knowledge"]
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.add_knowledge("bob", domain="d", fact="stolen", derived_from=[alice_episode])
    assert err.value.field == "derived_from"
    with pytest.raises(ValidationError) as err:
        memory.add_knowledge("bob", domain="d", fact="overruled", supersedes=[alice_fact])
    assert err.value.field == "supersedes"
    with pytest.raises(ValidationError) as err:
        memory.remember("bob writes into alice's session", "bob", session="alice-s")
    assert err.value.field == "session"
    assert memory.stats() == before
    assert memory.get(alice_fact).is_valid
    assert {n.agent for n in memory.history(alice_fact).nodes} == {"alice"}
    assert {n.agent for n in memory.history(alice_episode).nodes} == {"alice"}
