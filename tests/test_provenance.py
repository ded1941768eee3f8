"""Provenance: DERIVED_FROM and SUPERSEDES edges, history(), soft and hard forgetting, and the
source_ids that retrieval carries back to the raw episodes."""

from __future__ import annotations

import pytest

from alma_graph import GraphMemory, NotFoundError, ValidationError


def edges(history) -> set[tuple[str, str, str]]:
    return {(e.source, e.relation, e.target) for e in history.edges}


@pytest.fixture
def chain(memory: GraphMemory, agent: str):
    """Two episodes -> a preference derived from them -> knowledge derived from the preference."""
    e1 = memory.remember("ann: I always use tabs", agent, session="s", source_id="chat:1")
    e2 = memory.remember("ann: four columns wide, please", agent, session="s", source_id="chat:2")
    pref = memory.add_preference(agent, user="ann", category="indent", preference="tabs, 4 wide",
                                 derived_from=[e1.id, e2.id])
    fact = memory.add_knowledge(agent, domain="team style", fact="ann's repos are indented with tabs",
                                derived_from=[pref.id])
    return e1, e2, pref, fact


def test_history_shows_derived_from_edges_to_episodes_and_memories(memory, agent, chain):
    e1, e2, pref, fact = chain
    h = memory.history(fact.id)
    assert h.root == fact.id
    assert h.learned_by == agent
    assert edges(h) == {
        (fact.id, "DERIVED_FROM", pref.id),
        (pref.id, "DERIVED_FROM", e1.id),
        (pref.id, "DERIVED_FROM", e2.id),
    }
    assert {n.id for n in h.nodes} == {fact.id, pref.id, e1.id, e2.id}
    assert h.node(pref.id).label == "UserPreference" and h.node(pref.id).text == pref.text
    assert h.node(e1.id).label == "Episode" and h.node(e1.id).text == e1.text
    assert all(n.agent == agent and n.valid for n in h.nodes)


def test_history_of_an_episode_shows_what_was_derived_from_it(memory, chain):
    e1, _, pref, fact = chain
    h = memory.history(e1.id)
    assert h.learned_by is None
    assert (pref.id, "DERIVED_FROM", e1.id) in edges(h)
    assert fact.id in {n.id for n in h.nodes}


def test_history_of_a_memory_without_provenance_is_just_itself(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="standalone")
    h = memory.history(k.id)
    assert [n.id for n in h.nodes] == [k.id] and h.edges == ()
    assert h.learned_by == agent


def test_history_of_an_unknown_id_is_not_found(memory, agent):
    with pytest.raises(NotFoundError):
        memory.history("heur_does_not_exist")


def test_update_of_content_creates_a_supersedes_chain_visible_from_every_version(memory, agent):
    v1 = memory.add_knowledge(agent, domain="python", fact="3.11 is the newest", confidence=0.6,
                              metadata={"src": "docs"})
    v2 = memory.update(v1.id, fact="3.12 is the newest")
    v3 = memory.update(v2.id, fact="3.13 is the newest")
    assert len({v1.id, v2.id, v3.id}) == 3
    assert (v3.fact, v3.domain, v3.confidence, v3.metadata) == ("3.13 is the newest", "python", 0.6, {"src": "docs"})
    expected = {(v2.id, "SUPERSEDES", v1.id), (v3.id, "SUPERSEDES", v2.id)}
    for version in (v1, v2, v3):
        h = memory.history(version.id)
        assert edges(h) == expected
        assert {n.id: n.valid for n in h.nodes} == {v1.id: False, v2.id: False, v3.id: True}
    assert memory.get(v1.id).valid_to is not None and memory.get(v1.id).fact == "3.11 is the newest"
    assert memory.get(v2.id).valid_to is not None
    assert memory.get(v3.id).valid_to is None
    assert memory.stats()["SUPERSEDES"] == 2 and memory.stats()["DomainKnowledge"] == 3


def test_only_the_newest_version_is_retrieved(memory, agent):
    v1 = memory.add_knowledge(agent, domain="python", fact="the newest release is 3.11")
    v2 = memory.update(v1.id, fact="the newest release is 3.12")
    ids = [item.id for item in memory.retrieve("newest python release", agent)]
    assert v2.id in ids and v1.id not in ids
    ids = [item.id for item in memory.retrieve("newest python release", agent, include_invalidated=True)]
    assert v1.id in ids and v2.id in ids


def test_an_invalidated_version_cannot_be_updated_again(memory, agent):
    v1 = memory.add_knowledge(agent, domain="d", fact="one")
    memory.update(v1.id, fact="two")
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.update(v1.id, fact="three")
    assert err.value.field == "id"
    assert memory.stats() == before


def test_update_of_confidence_importance_metadata_changes_in_place(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="f")
    updated = memory.update(k.id, confidence=0.9, importance=0.2, metadata={"reviewed": True})
    assert updated.id == k.id
    assert (updated.confidence, updated.importance, updated.metadata) == (0.9, 0.2, {"reviewed": True})
    assert updated.updated_at >= k.updated_at and updated.created_at == k.created_at
    assert updated.is_valid and updated.fact == "f"
    assert memory.stats()["SUPERSEDES"] == 0 and memory.stats()["DomainKnowledge"] == 1


def test_forget_invalidates_but_keeps_the_node(memory, agent, chain):
    _, _, pref, fact = chain
    memory.forget(pref.id)
    kept = memory.get(pref.id)
    assert kept.valid_to is not None and not kept.is_valid
    assert kept.preference == pref.preference
    assert memory.stats()["UserPreference"] == 1
    h = memory.history(fact.id)
    assert h.node(pref.id).valid is False  # still part of the provenance
    assert (fact.id, "DERIVED_FROM", pref.id) in edges(h)


def test_forgotten_memory_is_excluded_from_retrieve_unless_include_invalidated(memory, agent):
    k = memory.add_knowledge(agent, domain="astronomy", fact="Pluto is a planet")
    memory.forget(k.id)
    assert k.id not in [i.id for i in memory.retrieve("Pluto planet", agent)]
    found = [i for i in memory.retrieve("Pluto planet", agent, include_invalidated=True) if i.id == k.id]
    assert len(found) == 1 and found[0].memory.valid_to is not None


def test_forgetting_twice_keeps_the_first_valid_to(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="f")
    memory.forget(k.id)
    first = memory.get(k.id).valid_to
    memory.forget(k.id)
    assert memory.get(k.id).valid_to == first


def test_forget_hard_removes_the_node_and_its_edges(memory, agent, chain):
    e1, e2, pref, fact = chain
    before = memory.stats()
    memory.forget(pref.id, hard=True)
    with pytest.raises(NotFoundError):
        memory.get(pref.id)
    with pytest.raises(NotFoundError):
        memory.history(pref.id)
    with pytest.raises(NotFoundError):
        memory.forget(pref.id)
    after = memory.stats()
    assert after["UserPreference"] == before["UserPreference"] - 1
    assert after["LEARNED"] == before["LEARNED"] - 1
    assert after["DERIVED_FROM"] == before["DERIVED_FROM"] - 3  # to e1, e2 and from fact
    assert memory.get(e1.id).text == e1.text  # the sources stay
    assert edges(memory.history(fact.id)) == set()


def test_episodes_cannot_be_forgotten_as_memories(memory, agent):
    e = memory.remember("raw observation", agent)
    with pytest.raises(ValidationError) as err:
        memory.forget(e.id)
    assert err.value.field == "id"
    assert memory.get(e.id).text == "raw observation"


def test_derived_from_an_unknown_id_is_refused_and_nothing_written(memory, agent):
    before = memory.stats()
    with pytest.raises(NotFoundError):
        memory.add_knowledge(agent, domain="d", fact="f", derived_from=["ep_missing"])
    assert memory.stats() == before


def test_retrieved_memory_carries_the_source_ids_of_its_episodes(memory, agent, chain):
    _, _, pref, _ = chain
    item = next(i for i in memory.retrieve("ann tabs indent", agent, top_k=10) if i.id == pref.id)
    assert item.source_ids == ("chat:1", "chat:2")


def test_source_ids_follow_two_hops_memory_to_memory_to_episodes(memory, agent, chain):
    _, _, _, fact = chain
    result = memory.retrieve("ann's repos tabs", agent, top_k=10)
    item = next(i for i in result if i.id == fact.id)
    assert item.source_ids == ("chat:1", "chat:2")
    assert set(result.source_ids) == {"chat:1", "chat:2"}


def test_retrieved_episode_carries_its_own_source_id(memory, agent, chain):
    e1, *_ = chain
    item = next(i for i in memory.retrieve("always use tabs", agent, types=["Episode"]) if i.id == e1.id)
    assert item.source_ids == ("chat:1",)


def test_learned_heuristic_carries_source_ids_through_its_outcomes(memory, agent):
    for i in range(3):
        e = memory.remember(f"deploy log {i}", agent, source_id=f"log:{i}")
        memory.learn(agent, f"deploy {i}", True, "blue-green", task_type="deploy", episodes=[e.id])
    item = next(i for i in memory.retrieve("deploy blue-green", agent, types=["Heuristic"]))
    assert item.memory.type == "Heuristic"
    assert item.source_ids == ("log:0", "log:1", "log:2")


def test_memory_without_episode_provenance_has_no_source_ids(memory, agent):
    memory.add_knowledge(agent, domain="d", fact="unsourced claim")
    assert memory.retrieve("unsourced claim", agent)[0].source_ids == ()
