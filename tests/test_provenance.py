"""Provenance on embedded Kuzu beyond what tests/conformance checks on every backend: history of
unknown or standalone ids, soft forgetting rules, refused derivations, learned heuristics' sources."""

from __future__ import annotations

import pytest

from alma_graph import NotFoundError, ValidationError


def test_history_of_a_memory_without_provenance_is_just_itself(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="standalone")
    h = memory.history(k.id)
    assert [n.id for n in h.nodes] == [k.id] and h.edges == ()
    assert h.learned_by == agent


def test_history_of_an_unknown_id_is_not_found(memory, agent):
    with pytest.raises(NotFoundError):
        memory.history("heur_does_not_exist")


def test_an_invalidated_version_cannot_be_updated_again(memory, agent):
    v1 = memory.add_knowledge(agent, domain="d", fact="one")
    memory.update(v1.id, fact="two")
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.update(v1.id, fact="three")
    assert err.value.field == "id"
    assert memory.stats() == before


def test_forgotten_memory_is_excluded_from_retrieve_unless_include_invalidated(memory, agent):
    k = memory.add_knowledge(agent, domain="astronomy", fact="Pluto is a planet")
    memory.forget(k.id)
    assert k.id not in [i.id for i in memory.retrieve("Pluto planet", agent)]
    found = [i for i in memory.retrieve("Pluto planet", agent, include_invalidated=True) if i.id == k.id]
    assert len(found) == 1 and found[0].memory.invalidated_at is not None


def test_forgetting_twice_keeps_the_first_invalidation_time(memory, agent):
    k = memory.add_knowledge(agent, domain="d", fact="f")
    memory.forget(k.id)
    first = memory.get(k.id).invalidated_at
    memory.forget(k.id)
    assert memory.get(k.id).invalidated_at == first


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
