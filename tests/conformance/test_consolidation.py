"""Consolidation and the check on write, on every backend: near-duplicates merge into one memory
MERGED_FROM the originals (invalidated, kept), and a repeat or a contradiction on write
strengthens or supersedes instead of piling up."""

from __future__ import annotations

from alma_graph.services.merging import ConsolidationConfig

from .graph_checks import count


def test_near_duplicates_merge_into_one_memory_that_keeps_the_originals(backend):
    memory = backend.open(consolidation=ConsolidationConfig(on_write=False))
    memory.register_agent("coder")
    turn = memory.remember("seeding the RNG fixed the flaky test", "coder")
    a = memory.add_memory("Heuristic", "coder", {"condition": "a test is flaky", "strategy": "fix the random seed",
                                                  "occurrence_count": 3, "success_count": 3}, derived_from=[turn.id])
    b = memory.add_heuristic("coder", "A test is flaky.", "Fix the random seed!")
    other = memory.add_heuristic("coder", "the build is slow", "cache the dependencies")

    assert memory.consolidate("coder", dry_run=True).groups[0].merged_from == (a.id, b.id)
    assert count(memory, "MATCH ()-[r:MERGED_FROM]->() RETURN count(r) AS c") == 0

    [group] = memory.consolidate("coder").groups
    merged = memory.get(group.merged_id)
    assert (merged.text, merged.occurrence_count, merged.success_count) == (a.text, 3, 3)
    assert [m.is_valid for m in (memory.get(a.id), memory.get(b.id), memory.get(other.id))] == [False, False, True]
    assert count(memory, "MATCH (n:Heuristic)-[r:MERGED_FROM]->(o:Heuristic) WHERE n.id = $id "
                         "AND r.reason = 'consolidation' AND r.at IS NOT NULL RETURN count(r) AS c", id=merged.id) == 2
    assert count(memory, "MATCH (n:Heuristic)-[:DERIVED_FROM]->(e:Episode) WHERE n.id = $id RETURN count(e) AS c",
                 id=merged.id) == 1
    assert {i.id for i in memory.retrieve("flaky test", "coder", types=["Heuristic"])} >= {merged.id}
    assert a.id not in {i.id for i in memory.retrieve("flaky test", "coder", types=["Heuristic"])}


def test_a_repeat_strengthens_and_a_contradiction_supersedes_on_write(memory, agent):
    vim = memory.add_preference(agent, "ann", "editor", "vim keybindings")
    again = memory.add_preference(agent, "ann", "editor", "Vim keybindings.")
    assert again.id == vim.id and again.confidence > vim.confidence
    emacs = memory.add_preference(agent, "ann", "editor", "emacs keybindings")
    assert not memory.get(vim.id).is_valid and emacs.is_valid
    assert count(memory, "MATCH (n:UserPreference)-[:SUPERSEDES]->(o:UserPreference) WHERE n.id = $id "
                         "AND o.id = $old RETURN count(o) AS c", id=emacs.id, old=vim.id) == 1
    assert memory.stats()["UserPreference"] == 2
