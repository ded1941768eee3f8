"""Sharing between agents on every backend: `share_with` and `inherit_from` are edges between
Agent nodes; an agent reads its own memories and those it has a path to, writes only its own, and
never sees anything of an agent it has no path to — through retrieval, lookups or traversals."""

from __future__ import annotations

import pytest

from alma_graph import MemoryScope, ValidationError
from alma_graph.errors import AccessDeniedError

from .graph_checks import ids_of


@pytest.fixture
def team(memory) -> dict[str, dict[str, str]]:
    """alice, bob, carol and dave each hold an episode and a fact derived from it, on one topic."""
    owned = {}
    for name in ("alice", "bob", "carol", "dave"):
        memory.register_agent(name)
        turn = memory.remember(f"{name} says the staging deploy needs the migration flag", name, session=f"{name}/s1")
        fact = memory.add_knowledge(name, "deploys", f"{name}: staging deploys need the migration flag",
                                    derived_from=[turn.id])
        owned[name] = {"episode": turn.id, "fact": fact.id}
    return owned


def everything(owned: dict[str, str]) -> set[str]:
    return set(owned.values())


@pytest.mark.requires("vector_search")
def test_share_with_and_inherit_from_open_reads_and_nothing_else(memory, team):
    memory.register_agent(MemoryScope(agent="alice", share_with=["bob"]))
    memory.register_agent(MemoryScope(agent="carol", inherit_from=["alice"]))
    assert memory.get_agent("alice").scope.share_with == ("bob",)
    assert memory.get_agent("carol").scope.inherit_from == ("alice",)
    assert memory.readable_agents("bob") == {"bob", "alice"}
    assert memory.readable_agents("carol") == {"carol", "alice"}
    assert memory.readable_agents("alice") == {"alice"}  # sharing is one way
    assert memory.readable_agents("dave") == {"dave"}

    query = "what does the staging deploy need?"
    seen = {name: set(ids_of(memory.retrieve(query, name, top_k=20))) for name in team}
    assert seen["bob"] == everything(team["bob"]) | everything(team["alice"])
    assert seen["carol"] == everything(team["carol"]) | everything(team["alice"])
    assert seen["alice"] == everything(team["alice"])
    assert seen["dave"] == everything(team["dave"])
    owners = {item.id: (item.memory or item.episode).agent for item in memory.retrieve(query, "bob", top_k=20)}
    assert owners[team["alice"]["fact"]] == "alice"  # each result says whose it is


def test_revoking_a_share_closes_every_read_path(memory, team):
    memory.register_agent(MemoryScope(agent="alice", share_with=["bob"]))
    services = memory.memories
    bob = memory.readable_agents("bob")
    assert team["alice"]["fact"] in services.items([team["alice"]["fact"]], bob)
    memory.share_with("alice", [])
    bob = memory.readable_agents("bob")
    alice_nodes = list(everything(team["alice"]))
    assert services.items(alice_nodes, bob) == {}
    walked = services.related([team["bob"]["fact"]], depth=3, relations=["DERIVED_FROM", "NEXT"], readers=bob)
    assert {r.item.agent for r in walked[team["bob"]["fact"]]} == {"bob"}
    assert services.neighbours([team["alice"]["fact"]], "DERIVED_FROM", outgoing=True, readers=bob) == \
        {team["alice"]["fact"]: []}


def test_only_the_owner_updates_or_invalidates(memory, team):
    memory.register_agent(MemoryScope(agent="alice", share_with=["bob"]))
    fact = team["alice"]["fact"]
    with pytest.raises(AccessDeniedError) as err:
        memory.update(fact, agent="bob", confidence=0.1)
    assert err.value.field == "agent" and "only its owner" in str(err.value)
    with pytest.raises(AccessDeniedError):
        memory.forget(fact, agent="bob")
    with pytest.raises(ValidationError) as err:
        memory.add_knowledge("bob", "deploys", "bob overrules alice", supersedes=[fact])
    assert err.value.field == "supersedes"
    current = memory.get(fact)
    assert current.is_valid and current.confidence == 0.5
    assert memory.update(fact, agent="alice", confidence=0.9).confidence == 0.9


def test_provenance_may_point_at_shared_memories_only(memory, team):
    memory.register_agent(MemoryScope(agent="alice", share_with=["bob"]))
    built = memory.add_knowledge("bob", "deploys", "both of us flag migrations", derived_from=[team["alice"]["fact"]])
    assert {n.agent for n in memory.history(built.id).nodes} >= {"alice", "bob"}
    with pytest.raises(ValidationError) as err:
        memory.add_knowledge("dave", "deploys", "borrowed", derived_from=[team["alice"]["fact"]])
    assert err.value.field == "derived_from" and "does not read" in str(err.value)


def test_sharing_names_existing_other_agents(memory, team):
    with pytest.raises(ValidationError) as err:
        memory.register_agent(MemoryScope(agent="alice", share_with=["nobody"]))
    assert err.value.field == "scope.share_with" and "nobody" in str(err.value)
    with pytest.raises(ValidationError) as err:
        MemoryScope(agent="alice", inherit_from=["alice"])
    assert err.value.field == "scope.inherit_from"
    assert memory.get_agent("alice").scope.share_with == ()
