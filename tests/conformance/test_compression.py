"""Compression and importance on every backend: old, unsure memories on one topic are summed up
into one memory MERGED_FROM them (reason "compression"; invalidated, kept), and importance (what
a memory says, how many memories rest on it) feeds retrieval's score."""

from __future__ import annotations

import pytest

from alma_graph.services.merging import ConsolidationConfig
from alma_graph.validation import now_ms

from .graph_checks import count, ids_of

DAY_MS = 86_400_000


@pytest.mark.requires("vector_search")  # compression itself does not; the retrieval at the end does
def test_old_unsure_memories_on_one_topic_are_summed_up_into_one(backend):
    memory = backend.open(consolidation=ConsolidationConfig(on_write=False))
    memory.register_agent("coder")
    turn = memory.remember("the deploy broke because the vault key was missing", "coder")
    topic = [memory.add_knowledge("coder", "ops", fact, confidence=0.4, derived_from=[turn.id]).id
             for fact in ("the deploy script needs the staging key", "deploys to staging need the key from vault",
                          "the staging deploy fails without the vault key")]
    other = memory.add_knowledge("coder", "ops", "the cafeteria opens at nine", confidence=0.4).id
    sure = memory.add_knowledge("coder", "ops", "the staging deploy needs the vault key", confidence=0.95).id
    memory.backend.execute("MATCH (n:DomainKnowledge) WHERE n.id IN $ids SET n.created_at = $at",
                           {"ids": [*topic, other, sure], "at": now_ms() - 120 * DAY_MS})

    [planned] = memory.compress("coder", dry_run=True).groups
    assert set(planned.summarized) == set(topic)
    assert count(memory, "MATCH ()-[r:MERGED_FROM]->() RETURN count(r) AS c") == 0

    [group] = memory.compress("coder").groups
    summary = memory.get(group.summary_id)
    assert summary.is_valid and summary.text == group.text
    assert [memory.get(i).is_valid for i in (*topic, other, sure)] == [False, False, False, True, True]
    assert count(memory, "MATCH (n:DomainKnowledge)-[r:MERGED_FROM]->(o:DomainKnowledge) WHERE n.id = $id "
                         "AND r.reason = 'compression' AND r.at IS NOT NULL RETURN count(r) AS c", id=summary.id) == 3
    assert count(memory, "MATCH (n:DomainKnowledge)-[:DERIVED_FROM]->(e:Episode) WHERE n.id = $id "
                         "RETURN count(e) AS c", id=summary.id) == 1
    found = ids_of(memory.retrieve("staging deploy vault key", "coder", types=["DomainKnowledge"]))
    assert summary.id in found and not set(topic) & set(found)


@pytest.mark.requires("vector_search")
def test_importance_feeds_the_retrieval_score(memory, agent):
    plain = memory.add_knowledge(agent, "ops", "staging deploys use the blue cluster")
    rested_on = memory.add_knowledge(agent, "ops", "staging deploys use the green cluster")
    decided = memory.add_knowledge(agent, "ops", "We decided: staging deploys use the red cluster")
    memory.add_knowledge(agent, "ops", "the green cluster has 12 nodes", derived_from=[rested_on.id])
    result = memory.retrieve("staging deploys cluster", agent, types=["DomainKnowledge"])
    weight = {i.id: i.explanation.factors["importance"].value for i in result}
    assert weight[plain.id] == 0.5 < weight[rested_on.id] and weight[plain.id] < weight[decided.id]
    for item in result:
        factor = item.explanation.factors["importance"]
        assert factor.contribution == pytest.approx(
            factor.value * factor.weight * item.explanation.factors["similarity"].value, abs=1e-6)
