"""The stored schema: closing and reopening the same URL finds everything again; reopening with
an embedder of another dimension is refused before anything is changed."""

from __future__ import annotations

import pytest

from alma_graph import MemoryScope, SchemaVersionError
from alma_graph.backends.base import SearchFilter
from alma_graph.schema import SEARCHABLE_LABELS

from .graph_checks import assert_session_is_one_chain, edges


def populate(memory) -> dict[str, str]:
    memory.register_agent(MemoryScope(agent="coder", cannot_learn=["AntiPattern"]))
    e = memory.remember("we deploy on Fridays", "coder", session="s1", source_id="doc:1")
    memory.remember("never on holidays", "coder", session="s1")
    k = memory.add_knowledge("coder", domain="ops", fact="deploys happen on Fridays", derived_from=[e.id])
    k2 = memory.update(k.id, fact="deploys happen on Thursdays")
    for i in range(3):
        memory.learn("coder", f"deploy {i}", True, "blue-green", task_type="deploy")
    return {"episode": e.id, "knowledge": k.id, "current": k2.id}


def test_reopening_the_same_url_finds_everything_again(backend, memory):
    ids = populate(memory)
    stats = memory.stats()
    history = edges(memory.history(ids["current"]))
    current = memory.get(ids["current"])

    memory = backend.reopen(memory)
    assert memory.stats() == stats
    assert (stats["Episode"], stats["DomainKnowledge"], stats["Heuristic"], stats["SUPERSEDES"]) == (2, 2, 1, 1)
    assert memory.get_agent("coder").scope.cannot_learn == ("AntiPattern",)
    assert memory.get(ids["episode"]).source_id == "doc:1"
    assert not memory.get(ids["knowledge"]).is_valid
    assert memory.get(ids["current"]) == current
    assert edges(memory.history(ids["current"])) == history

    memory.remember("still writable after reopening", "coder", session="s1")
    assert_session_is_one_chain(memory, "s1", 3)


def index_answers(memory, query: str) -> dict[str, dict[str, float]]:
    """Every searchable label's vector and full-text hits for `query`, id -> score (no side effects,
    unlike retrieve, which records accesses)."""
    scope = SearchFilter(agents=("coder",), valid_only=False)
    vector = memory.embedder.embed([query])[0]
    answers = {}
    for label in SEARCHABLE_LABELS:
        answers[f"vector {label}"] = {h.id: h.score for h in memory.store.vector_search(label, vector, 10, scope)}
        answers[f"text {label}"] = {h.id: h.score for h in memory.store.text_search(label, query, 10, scope)}
    return answers


@pytest.mark.requires("vector_search")
def test_search_indexes_answer_the_same_after_reopening(backend, memory):
    ids = populate(memory)
    before = index_answers(memory, "when do we deploy blue-green?")
    assert before["vector Episode"] and before["vector Outcome"]

    memory = backend.reopen(memory)
    after = index_answers(memory, "when do we deploy blue-green?")
    assert {k: set(v) for k, v in after.items()} == {k: set(v) for k, v in before.items()}
    for key, hits in before.items():
        assert after[key] == pytest.approx(hits, abs=1e-4), key
    hits = memory.retrieve("deploys happen on Thursdays", "coder", types=["DomainKnowledge"])
    assert hits[0].id == ids["current"] and hits[0].source_ids == ("doc:1",)
    later = memory.add_knowledge("coder", domain="ops", fact="rollbacks take ten minutes")
    assert memory.retrieve("how long does a rollback take", "coder")[0].id == later.id


def test_reopening_with_another_embedder_dimension_is_refused_and_changes_nothing(backend, memory):
    ids = populate(memory)
    stats = memory.stats()
    memory.close()
    for _ in range(2):  # a refused open leaves the database openable, and refusable, again
        with pytest.raises(SchemaVersionError) as err:
            backend.open(embedder="hashing:128")
        assert "hashing-v2-384" in str(err.value) and "hashing-v2-128" in str(err.value)

    memory = backend.open()
    assert memory.stats() == stats
    assert memory.get(ids["current"]).fact == "deploys happen on Thursdays"
    memory.add_knowledge("coder", domain="ops", fact="a 384-d write still fits")
    assert memory.stats()["DomainKnowledge"] == stats["DomainKnowledge"] + 1
