"""Provenance: DERIVED_FROM to episodes and memories, the history chain around a node, and
versioning — a content update writes a new version that SUPERSEDES the old, which is
invalidated, not deleted."""

from __future__ import annotations

import pytest

from alma_graph import NotFoundError

from .graph_checks import edges, ids_of


@pytest.fixture
def chain(memory, agent):
    """Two episodes -> a preference derived from them -> knowledge derived from the preference."""
    e1 = memory.remember("ann: I always indent with tabs", agent, session="s", source_id="chat:1")
    e2 = memory.remember("ann: four columns wide, please", agent, session="s", source_id="chat:2")
    pref = memory.add_preference(agent, user="ann", category="indent", preference="tabs, four wide",
                                 derived_from=[e1.id, e2.id])
    fact = memory.add_knowledge(agent, domain="team style", fact="ann's repositories are indented with tabs",
                                derived_from=[pref.id])
    return e1, e2, pref, fact


def test_history_follows_derived_from_through_memories_to_episodes(memory, agent, chain):
    e1, e2, pref, fact = chain
    h = memory.history(fact.id)
    assert (h.root, h.learned_by) == (fact.id, agent)
    assert edges(h) == {
        (fact.id, "DERIVED_FROM", pref.id),
        (pref.id, "DERIVED_FROM", e1.id),
        (pref.id, "DERIVED_FROM", e2.id),
    }
    assert {n.id: n.label for n in h.nodes} == {
        fact.id: "DomainKnowledge", pref.id: "UserPreference", e1.id: "Episode", e2.id: "Episode"}
    assert h.node(e1.id).text == e1.text and h.node(pref.id).text == pref.text
    assert all(n.agent == agent and n.valid for n in h.nodes)
    assert memory.stats()["DERIVED_FROM"] == 3


def test_history_of_an_episode_shows_what_was_derived_from_it(memory, chain):
    e1, _, pref, fact = chain
    h = memory.history(e1.id)
    assert h.learned_by is None
    assert {(pref.id, "DERIVED_FROM", e1.id), (fact.id, "DERIVED_FROM", pref.id)} <= edges(h)


@pytest.mark.requires("vector_search")
def test_retrieved_memories_carry_the_source_ids_of_the_episodes_behind_them(memory, agent, chain):
    _, _, pref, fact = chain
    result = memory.retrieve("ann tabs indent repositories", agent, top_k=10)
    by_id = {item.id: item for item in result}
    assert by_id[pref.id].source_ids == ("chat:1", "chat:2")
    assert by_id[fact.id].source_ids == ("chat:1", "chat:2")  # two hops: fact -> pref -> episodes
    assert set(result.source_ids) == {"chat:1", "chat:2"}


def test_a_content_update_writes_a_new_version_that_supersedes_and_invalidates_the_old(memory, agent):
    evidence = memory.remember("release notes say 3.11 is out", agent, session="s")
    v1 = memory.add_knowledge(agent, domain="python", fact="the newest python is 3.11", confidence=0.6,
                              metadata={"src": "docs"}, derived_from=[evidence.id])
    v2 = memory.update(v1.id, fact="the newest python is 3.12")
    v3 = memory.update(v2.id, fact="the newest python is 3.13")

    assert len({v1.id, v2.id, v3.id}) == 3
    assert (v3.fact, v3.domain, v3.confidence, v3.metadata) == ("the newest python is 3.13", "python", 0.6,
                                                                {"src": "docs"})
    old = memory.get(v1.id)
    assert old.fact == "the newest python is 3.11" and old.invalidated_at is not None
    assert memory.get(v2.id).invalidated_at is not None and memory.get(v3.id).is_valid
    expected = {(v2.id, "SUPERSEDES", v1.id), (v3.id, "SUPERSEDES", v2.id)} | {
        (v.id, "DERIVED_FROM", evidence.id) for v in (v1, v2, v3)}  # each version keeps the evidence
    for version in (v1, v2, v3):
        h = memory.history(version.id)
        assert edges(h) == expected
        assert {n.id: n.valid for n in h.nodes if n.label != "Episode"} == {v1.id: False, v2.id: False, v3.id: True}
    stats = memory.stats()
    assert (stats["DomainKnowledge"], stats["SUPERSEDES"], stats["DERIVED_FROM"]) == (3, 2, 3)


@pytest.mark.requires("vector_search")
def test_only_the_newest_version_is_retrieved_unless_invalidated_ones_are_asked_for(memory, agent):
    v1 = memory.add_knowledge(agent, domain="python", fact="the newest python is 3.11")
    v2 = memory.update(v1.id, fact="the newest python is 3.12")
    v3 = memory.add_knowledge(agent, domain="python", fact="the newest python is 3.13", supersedes=[v2.id])
    assert ids_of(memory.retrieve("newest python", agent, types=["DomainKnowledge"])) == [v3.id]
    every_version = memory.retrieve("newest python", agent, types=["DomainKnowledge"], include_invalidated=True)
    assert set(ids_of(every_version)) == {v1.id, v2.id, v3.id}
    assert {item.id for item in every_version if item.memory.invalidated_at is not None} == {v1.id, v2.id}


def test_writing_with_supersedes_invalidates_the_named_memory(memory, agent):
    old = memory.add_knowledge(agent, domain="office", fact="the office is on the third floor")
    new = memory.add_knowledge(agent, domain="office", fact="the office moved to the fifth floor",
                               supersedes=[old.id])
    assert not memory.get(old.id).is_valid and memory.get(new.id).is_valid
    assert edges(memory.history(old.id)) == {(new.id, "SUPERSEDES", old.id)}


def test_an_in_place_update_changes_the_memory_without_a_new_version(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="caches need invalidation")
    updated = memory.update(k.id, confidence=0.9, importance=0.2, metadata={"reviewed": True})
    assert updated.id == k.id and updated.fact == k.fact and updated.is_valid
    assert (updated.confidence, updated.importance, updated.metadata) == (0.9, 0.2, {"reviewed": True})
    assert updated.updated_at >= k.updated_at and updated.created_at == k.created_at
    assert memory.get(k.id) == updated
    assert (memory.stats()["DomainKnowledge"], memory.stats()["SUPERSEDES"]) == (1, 0)


def test_a_hard_forget_removes_the_node_and_its_edges_but_not_its_sources(memory, agent, chain):
    e1, _, pref, fact = chain
    before = memory.stats()
    memory.forget(pref.id, hard=True)
    for gone in (memory.get, memory.history, memory.forget):
        with pytest.raises(NotFoundError):
            gone(pref.id)
    after = memory.stats()
    assert after["UserPreference"] == before["UserPreference"] - 1
    assert after["LEARNED"] == before["LEARNED"] - 1
    assert after["DERIVED_FROM"] == before["DERIVED_FROM"] - 3
    assert memory.get(e1.id) == e1
    assert edges(memory.history(fact.id)) == set()


def test_forget_invalidates_but_keeps_the_node(memory, agent, chain):
    _, _, pref, fact = chain
    memory.forget(pref.id)
    kept = memory.get(pref.id)
    assert kept.invalidated_at is not None and not kept.is_valid
    assert kept.preference == pref.preference
    assert memory.stats()["UserPreference"] == 1
    h = memory.history(fact.id)
    assert h.node(pref.id).valid is False  # still part of the provenance
    assert (fact.id, "DERIVED_FROM", pref.id) in edges(h)


@pytest.mark.requires("vector_search")
def test_retrieved_episode_carries_its_own_source_id(memory, agent, chain):
    e1, *_ = chain
    item = next(i for i in memory.retrieve("always indent with tabs", agent, types=["Episode"]) if i.id == e1.id)
    assert item.source_ids == ("chat:1",)


def test_the_chain_says_who_why_and_when(memory, agent):
    turn = memory.remember("the API returns dates in UTC", agent, session="s-why")
    first = memory.add_knowledge(agent, "api", "dates are UTC", derived_from=[turn.id])
    second = memory.update(first.id, fact="dates are UTC, ISO-8601 strings")
    chain = memory.history(second.id)
    assert (chain.learned_by, chain.reason) == (agent, "update") and chain.learned_at is not None
    steps = {(e.source, e.relation, e.target): e for e in chain.edges}
    supersedes = steps[(second.id, "SUPERSEDES", first.id)]
    assert supersedes.reason == "update" and supersedes.at is not None
    assert steps[(first.id, "DERIVED_FROM", turn.id)].reason == "explicit"
    assert steps[(second.id, "DERIVED_FROM", turn.id)].reason == "update"  # the new version keeps the evidence
    old = chain.node(first.id)
    assert not old.valid and old.invalidated_at is not None and old.created_at <= supersedes.at
    assert memory.history(first.id).reason == "explicit"
