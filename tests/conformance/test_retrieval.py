"""Retrieval through each backend's native indexes: vector search ranks the closest memory
first with true cosine scores, full-text search finds a rare exact word the embedding misses,
and the type, time and validity filters hold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from alma_graph.backends.base import SearchFilter
from alma_graph.schema import node_kind

from .graph_checks import ids_of

pytestmark = pytest.mark.requires("vector_search")
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)

FACTS = {
    "pasta": ("cooking", "boil pasta in plenty of salted water"),
    "jupiter": ("astronomy", "jupiter is the largest planet of the solar system"),
    "eiffel": ("travel", "the eiffel tower stands in paris"),
    "bitcoin": ("finance", "bitcoin blocks are secured by proof of work"),
    "backoff": ("networking", "retry failed requests with exponential backoff"),
}


@pytest.fixture
def facts(memory, agent) -> dict[str, str]:
    return {key: memory.add_knowledge(agent, domain=d, fact=f).id for key, (d, f) in FACTS.items()}


@pytest.mark.parametrize("query, expected", [
    ("how much salted water for the pasta?", "pasta"),
    ("which planet is the largest", "jupiter"),
    ("a tower in paris", "eiffel"),
    ("proof of work blocks", "bitcoin"),
])
def test_the_memory_closest_to_the_query_ranks_first(memory, agent, facts, query, expected):
    result = memory.retrieve(query, agent, top_k=5)
    assert result[0].id == facts[expected], [item.text for item in result]
    assert result[0].score > result[1].score


def test_vector_search_returns_cosine_similarities_best_first(memory, agent, facts):
    kind = node_kind("DomainKnowledge")
    texts = {memory.get(i).text: i for i in facts.values()}
    vectors = dict(zip(texts.values(), memory.embedder.embed(list(texts))))
    query = vectors[facts["jupiter"]]
    hits = memory.backend.vector_search(kind, query, 5, SearchFilter(agents=("coder",)))
    assert [h.id for h in hits][0] == facts["jupiter"]
    assert {h.id for h in hits} == set(facts.values())
    for hit in hits:  # the score is the cosine similarity, whatever distance the index reports
        assert hit.score == pytest.approx(float(np.dot(vectors[hit.id], query)), abs=2e-3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(memory.backend.vector_search(kind, query, 2, SearchFilter(agents=("coder",)))) == 2


def add_rare_word_corpus(memory, agent):
    for i in range(30):  # share most words with the query, so the embedding prefers them
        memory.add_knowledge(agent, domain="ops", fact=f"deployment pipeline configuration settings number {i}")
    return memory.add_knowledge(agent, domain="legal", fact=(
        "the contract clause zyxquorbl covers indemnity for third parties, subcontractors, "
        "insurers and auditors across every jurisdiction we operate in"))


RARE_QUERY = "zyxquorbl deployment pipeline"


@pytest.mark.requires("full_text")
def test_a_rare_exact_word_is_found_by_full_text_when_the_embedding_barely_matches(memory, agent):
    target = add_rare_word_corpus(memory, agent)
    kind = node_kind("DomainKnowledge")
    vector_hits = memory.backend.vector_search(kind, memory.embedder.embed([RARE_QUERY])[0], 10,
                                               SearchFilter(agents=(agent,)))
    assert target.id not in {h.id for h in vector_hits}  # the embedding alone misses it
    for words in ("zyxquorbl", "Zyxquorbl?", "which clause is zyxquorbl", RARE_QUERY):
        hits = memory.store.text_search("DomainKnowledge", words, 5, SearchFilter(agents=(agent,)))
        assert hits[0].id == target.id and hits[0].score > 0, words
    assert [h.id for h in memory.store.text_search("DomainKnowledge", "zyxquorbl", 5,
                                                   SearchFilter(agents=(agent,)))] == [target.id]


@pytest.mark.requires("full_text", "bm25_ranking")
def test_a_rare_exact_word_outranks_common_ones_in_retrieval(memory, agent):
    target = add_rare_word_corpus(memory, agent)
    best = memory.retrieve(RARE_QUERY, agent, top_k=5)[0]
    assert best.id == target.id and "fulltext" in best.explanation.found_by


@pytest.mark.requires("full_text")
def test_full_text_search_ranks_by_the_words_matched(memory, agent):
    both = memory.add_knowledge(agent, domain="kb", fact="kubernetes operators reconcile custom resources")
    one = memory.add_knowledge(agent, domain="kb", fact="kubernetes pods are scheduled on nodes")
    memory.add_knowledge(agent, domain="kb", fact="bread dough needs time to rise")
    hits = memory.store.text_search("DomainKnowledge", "kubernetes reconcile", 5, SearchFilter(agents=(agent,)))
    assert [h.id for h in hits] == [both.id, one.id]
    assert hits[0].score > hits[1].score > 0


@pytest.mark.requires("full_text")
def test_reading_or_updating_a_memory_in_place_leaves_its_search_scores_as_they_were(memory, agent):
    """retrieve() records accesses and update() may change confidence in place: both rewrite the
    node, and neither may change what the indexes answer for it."""
    facts = [memory.add_knowledge(agent, domain="ops", fact=f"we deploy with blue-green, note {i}") for i in range(3)]
    memory.add_knowledge(agent, domain="ops", fact="bread dough needs time to rise")
    scope, kind = SearchFilter(agents=(agent,)), node_kind("DomainKnowledge")
    vector = memory.embedder.embed(["deploy blue-green"])[0]

    def answers() -> tuple[dict[str, float], dict[str, float]]:
        words = memory.store.text_search("DomainKnowledge", "deploy blue-green", 10, scope)
        return ({h.id: h.score for h in words},
                {h.id: h.score for h in memory.backend.vector_search(kind, vector, 10, scope)})

    text_before, vector_before = answers()
    assert set(text_before) == {f.id for f in facts} and min(text_before.values()) > 0
    memory.retrieve("deploy blue-green", agent, top_k=10)
    memory.update(facts[0].id, confidence=0.9)
    text_after, vector_after = answers()
    assert text_after == pytest.approx(text_before, rel=1e-6)
    assert vector_after == pytest.approx(vector_before, abs=1e-6)


def test_types_restrict_the_kinds_returned(memory, agent):
    ids = {
        "Episode": memory.remember("we deploy the api with blue-green", agent, session="s").id,
        "DomainKnowledge": memory.add_knowledge(agent, domain="ops", fact="the api deploy is blue-green").id,
        "UserPreference": memory.add_preference(agent, user="ann", category="deploy",
                                                preference="deploy the api on Thursdays").id,
        "AntiPattern": memory.add_anti_pattern(agent, pattern="deploy the api by hand", why_bad="it breaks").id,
        "Heuristic": memory.add_heuristic(agent, condition="deploying the api", strategy="blue-green deploy").id,
    }
    assert set(ids_of(memory.retrieve("deploy the api", agent, top_k=20))) == set(ids.values())
    for types in (["Episode"], ["Heuristic"], ["UserPreference", "AntiPattern"], ["DomainKnowledge", "Episode"]):
        result = memory.retrieve("deploy the api", agent, top_k=20, types=types)
        assert set(ids_of(result)) == {ids[t] for t in types}, types


def test_since_and_until_filter_episodes_by_timestamp_and_memories_by_valid_from(memory, agent):
    days = memory.remember_many(agent, [
        {"text": f"standup notes for day {i}", "session": "standup", "timestamp": T0 + timedelta(days=i)}
        for i in range(5)])
    day_of = {e.id: i for i, e in enumerate(days)}

    def days_returned(**window) -> list[int]:
        result = memory.retrieve("standup notes", agent, top_k=20, types=["Episode"], **window)
        return sorted(day_of[i] for i in ids_of(result))

    assert days_returned() == [0, 1, 2, 3, 4]
    assert days_returned(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3)) == [1, 2, 3]
    assert days_returned(since=T0 + timedelta(days=2), until=T0 + timedelta(days=2)) == [2]
    assert days_returned(since=T0 + timedelta(days=10)) == []

    old = memory.add_knowledge(agent, domain="d", fact="release notes of 2020", valid_from="2020-06-01")
    new = memory.add_knowledge(agent, domain="d", fact="release notes of 2024", valid_from="2024-06-01")
    in_2024 = memory.retrieve("release notes", agent, types=["DomainKnowledge"], since="2024-01-01",
                              until="2024-12-31")
    assert ids_of(in_2024) == [new.id]
    assert ids_of(memory.retrieve("release notes", agent, types=["DomainKnowledge"], until="2021-01-01")) == [old.id]


def test_forgotten_memories_are_not_retrieved_unless_invalidated_ones_are_asked_for(memory, agent):
    # Two facts, not "pluto is ..." twice: a second fact on the same subject would supersede the first.
    kept = memory.add_knowledge(agent, domain="astronomy", fact="pluto is a dwarf planet")
    gone = memory.add_knowledge(agent, domain="astronomy", fact="pluto counted as the ninth planet")
    memory.forget(gone.id)
    assert memory.get(gone.id).invalidated_at is not None
    assert ids_of(memory.retrieve("pluto planet", agent)) == [kept.id]
    everything = {item.id: item for item in memory.retrieve("pluto planet", agent, include_invalidated=True)}
    assert set(everything) == {kept.id, gone.id}
    assert everything[gone.id].memory.invalidated_at is not None

    kind = node_kind("DomainKnowledge")
    query = memory.embedder.embed([gone.text])[0]
    valid = memory.backend.vector_search(kind, query, 5, SearchFilter(agents=(agent,)))
    assert [h.id for h in valid] == [kept.id]
    any_validity = memory.backend.vector_search(kind, query, 5, SearchFilter(agents=(agent,), valid_only=False))
    assert [h.id for h in any_validity] == [gone.id, kept.id]


@pytest.mark.requires("full_text")
def test_full_text_search_skips_invalidated_memories_unless_asked(memory, agent):
    memory.add_knowledge(agent, domain="astronomy", fact="pluto is a dwarf planet")
    gone = memory.add_knowledge(agent, domain="astronomy", fact="pluto counted as the ninth planet")
    memory.forget(gone.id)
    kind = node_kind("DomainKnowledge")
    assert memory.backend.text_search(kind, "ninth", 5, SearchFilter(agents=(agent,))) == []
    any_validity = memory.backend.text_search(kind, "ninth", 5, SearchFilter(agents=(agent,), valid_only=False))
    assert [h.id for h in any_validity] == [gone.id]


def test_retrieval_on_an_empty_database_returns_nothing(memory, agent):
    assert len(memory.retrieve("anything at all", agent)) == 0


def test_the_default_search_filter_means_the_same_for_episodes_on_every_backend(memory, agent):
    """Validity is a property of memories; an episode passes `valid_only` wherever it is stored."""
    episode = memory.remember("the staging database was restored from last night's backup", agent, session="s")
    vector = memory.embedder.embed(["staging database restored"])[0]
    scope = SearchFilter(agents=(agent,))  # valid_only=True by default
    kind = node_kind("Episode")
    assert [h.id for h in memory.backend.vector_search(kind, vector, 5, scope)] == [episode.id]
    assert [h.id for h in memory.store.text_search("Episode", "staging backup", 5, scope)] == [episode.id]
