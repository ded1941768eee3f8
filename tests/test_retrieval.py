"""Retrieval: ranking (with the real all-MiniLM-L6-v2 model), filters (types, time, top_k,
validity, agent), explained scores, graph expansion along NEXT, and access bookkeeping.

No timing is asserted anywhere: `took_ms` is informational only.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alma_graph import GraphMemory, MemoryScope, RetrievalConfig, ScoreWeights, ValidationError
from alma_graph.backends import kuzu as kuzu_backend
from alma_graph.services import scoring
from alma_graph.services.retrieval import RetrievalRequest, Retriever

T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
FACTORS = ("similarity", "recency", "success", "confidence", "importance")


# -- semantic ranking with the real local model ------------------------------------------------

LOCAL_FACTS = {
    "pasta": ("cooking", "Pasta should be boiled in plenty of salted water"),
    "jupiter": ("astronomy", "Jupiter is the largest planet in the solar system"),
    "eiffel": ("travel", "The Eiffel Tower stands in Paris"),
    "lists": ("python", "Python lists are mutable sequences"),
    "bitcoin": ("finance", "Bitcoin blocks are secured by proof of work"),
}


@pytest.fixture(scope="module")
def local_memory(tmp_path_factory):
    """One database with the real local embedder, shared by the semantic-ranking tests."""
    folder = tmp_path_factory.mktemp("local")
    memory = GraphMemory(f"kuzu://{folder / 'memory.kuzu'}", embedder="local")
    memory.register_agent(MemoryScope(agent="chef"))
    ids = {key: memory.add_knowledge("chef", domain=d, fact=f).id for key, (d, f) in LOCAL_FACTS.items()}
    ids["backoff"] = memory.add_heuristic("chef", condition="a network request fails intermittently",
                                          strategy="retry with exponential backoff").id
    yield memory, ids
    memory.close()


@pytest.mark.parametrize("query, expected", [
    ("how long do I cook spaghetti?", "pasta"),  # no word in common with the fact
    ("which planet is the biggest?", "jupiter"),
    ("famous landmark in France", "eiffel"),
    ("my HTTP call times out now and then, what should I do?", "backoff"),
])
def test_relevant_memory_ranks_first_among_unrelated_ones(local_memory, query, expected):
    memory, ids = local_memory
    result = memory.retrieve(query, "chef", top_k=6)
    assert result[0].id == ids[expected], [i.text for i in result]
    assert result[0].score > result[1].score


# -- helpers for the hashing-embedder tests ----------------------------------------------------


def ids_of(result) -> list[str]:
    return [item.id for item in result]


@pytest.fixture
def mixed(memory: GraphMemory, agent: str):
    """One item of every searchable kind, all about deploying."""
    eps = memory.remember_many(agent, [
        {"text": "user asked how we deploy the api", "session": "s", "timestamp": T0},
        {"text": "we deploy the api with blue-green", "session": "s", "timestamp": T0 + timedelta(minutes=1)},
    ])
    k = memory.add_knowledge(agent, domain="ops", fact="the api deploy uses blue-green switching")
    p = memory.add_preference(agent, user="ann", category="deploy", preference="deploy the api on Thursdays")
    a = memory.add_anti_pattern(agent, pattern="deploy the api by hand", why_bad="it breaks")
    for i in range(3):
        r = memory.learn(agent, f"deploy the api {i}", True, "blue-green deploy", task_type="deploy")
    return {"Episode": {e.id for e in eps}, "DomainKnowledge": {k.id}, "UserPreference": {p.id},
            "AntiPattern": {a.id}, "Heuristic": {r.heuristic.id},
            "Outcome": {o.id for o in memory.store.outcomes(agent, "deploy")}}


def test_without_types_every_kind_can_be_returned(memory, agent, mixed):
    result = memory.retrieve("deploy the api", agent, top_k=50)
    kinds = {item.memory.type if item.memory else "Episode" for item in result}
    assert kinds == set(mixed)
    assert set(ids_of(result)) == set().union(*mixed.values())


@pytest.mark.parametrize("types", [["Episode"], ["Heuristic"], "DomainKnowledge", ["Heuristic", "Episode"],
                                   ["Outcome", "AntiPattern", "UserPreference"]])
def test_types_filter_restricts_the_kinds_returned(memory, agent, mixed, types):
    wanted = [types] if isinstance(types, str) else types
    result = memory.retrieve("deploy the api", agent, top_k=50, types=types)
    assert set(ids_of(result)) == set().union(*(mixed[t] for t in wanted))
    for item in result:
        if item.kind == "episode":
            assert "Episode" in wanted and item.memory is None and item.episode is not None
        else:
            assert item.memory.type in wanted and item.episode is None


def test_since_and_until_filter_episodes_by_timestamp_inclusively(memory, agent):
    days = memory.remember_many(agent, [
        {"text": f"standup notes for day {i}", "session": "standup", "timestamp": T0 + timedelta(days=i)}
        for i in range(5)])
    by_day = {e.id: i for i, e in enumerate(days)}

    def days_returned(**window):
        result = memory.retrieve("standup notes", agent, top_k=20, types=["Episode"], **window)
        return sorted(by_day[i] for i in ids_of(result))

    assert days_returned() == [0, 1, 2, 3, 4]
    assert days_returned(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3)) == [1, 2, 3]
    assert days_returned(since=(T0 + timedelta(days=3)).isoformat()) == [3, 4]
    assert days_returned(until=(T0 + timedelta(days=1)).timestamp()) == [0, 1]
    assert days_returned(since=T0 + timedelta(days=10)) == []
    # graph expansion must not bring back the neighbours just outside the window
    assert days_returned(since=T0 + timedelta(days=2), until=T0 + timedelta(days=2)) == [2]


def test_time_window_applies_to_memories_by_valid_from(memory, agent):
    old = memory.add_knowledge(agent, domain="d", fact="release notes 2020", valid_from="2020-06-01")
    new = memory.add_knowledge(agent, domain="d", fact="release notes 2024", valid_from="2024-06-01")
    result = memory.retrieve("release notes", agent, since="2024-01-01", until="2024-12-31")
    assert ids_of(result) == [new.id]
    assert ids_of(memory.retrieve("release notes", agent, until="2021-01-01")) == [old.id]


@pytest.mark.parametrize("top_k", [1, 3, 7])
def test_top_k_is_respected_and_items_are_best_first(memory, agent, top_k):
    for i in range(10):
        memory.add_knowledge(agent, domain="kb", fact=f"note {i} about caching layers")
    result = memory.retrieve("caching layers", agent, top_k=top_k)
    assert len(result) == top_k
    scores = [item.score for item in result]
    assert scores == sorted(scores, reverse=True)


def test_top_k_larger_than_the_store_returns_everything(memory, agent):
    memory.add_knowledge(agent, domain="kb", fact="only one")
    assert len(memory.retrieve("only one", agent, top_k=100)) == 1


def test_agent_b_never_sees_agent_a_memories_or_episodes(memory):
    memory.register_agent(MemoryScope(agent="alice"))
    memory.register_agent(MemoryScope(agent="bob"))
    for name in ("alice", "bob"):
        eps = memory.remember_many(name, [{"text": f"secret launch code talk {i}", "session": f"{name}-s"}
                                          for i in range(3)])
        memory.add_knowledge(name, domain="secrets", fact="the secret launch code is 1234",
                             derived_from=[eps[0].id])
        for i in range(3):
            memory.learn(name, f"launch {i}", True, "secret launch code check", task_type="launch")
    alice_episode = memory.episodes("alice-s")[1]
    # provenance cannot cross agents: bob cannot derive a memory from alice's episode
    with pytest.raises(ValidationError) as raised:
        memory.add_knowledge("bob", domain="secrets", fact="launch talk summary", derived_from=[alice_episode.id])
    assert raised.value.field == "derived_from"
    memory.add_knowledge("bob", domain="secrets", fact="launch talk summary")

    for name, other in (("alice", "bob"), ("bob", "alice")):
        for include_invalidated in (False, True):
            result = memory.retrieve("secret launch code", name, top_k=100, include_invalidated=include_invalidated)
            assert len(result) > 0
            owners = {(item.memory or item.episode).agent for item in result}
            assert owners == {name}
        result = memory.retrieve("secret launch code talk", name, top_k=100, types=["Episode"])
        assert {item.episode.session for item in result} == {f"{name}-s"}
    assert alice_episode.id not in ids_of(memory.retrieve("launch talk summary", "bob", top_k=100))


def test_explanation_has_the_five_factors_with_default_weights(memory, agent, mixed):
    result = memory.retrieve("deploy the api", agent, top_k=20)
    assert len(result) > 5
    for item in result:
        factors = item.explanation.factors
        assert tuple(factors) == FACTORS
        assert {k: f.weight for k, f in factors.items()} == {
            "similarity": 0.4, "recency": 0.3, "success": 0.2, "confidence": 0.1, "importance": 0.1}
        assert all(0.0 <= f.value <= 1.0 for f in factors.values())
        assert set(item.explanation.relevance) == {"dense", "lexical", "graph", "concept"}
        assert item.explanation.found_by and set(item.explanation.found_by) <= {"vector", "fulltext", "graph"}
        assert str(item.explanation)  # human-readable form does not fail


def test_contributions_are_consistent_with_the_score(memory, agent, mixed):
    result = memory.retrieve("deploy the api", agent, top_k=20)
    for item in result:
        f = item.explanation.factors
        sim = f["similarity"].value
        assert f["similarity"].contribution == pytest.approx(sim * 0.4, abs=1e-6)
        for name in ("recency", "success", "confidence"):  # quality factors count in proportion to relevance
            assert f[name].contribution == pytest.approx(f[name].value * f[name].weight * sim, abs=2e-6)
        assert sum(x.contribution for x in f.values()) == pytest.approx(item.score, abs=1e-9)


def test_sum_of_contributions_equals_the_score_within_1e_6():
    # These are the values one real item can have: relevance, recency, success and confidence.
    score, explanation = scoring.explain(
        relevance=0.9810688088839592, dense=0.9, lexical=1.0, graph=0.0,
        recency_value=0.8850167599658706, success_value=0.5783521649790585,
        confidence_value=0.7208825851302102, weights=ScoreWeights(), found_by=("vector",), via=None)
    total = sum(f.contribution for f in explanation.factors.values())
    assert abs(total - round(score, 6)) <= 1e-6 + 1e-12


def test_custom_weights_change_the_score(open_memory):
    memory = open_memory(retrieval=RetrievalConfig(weights=ScoreWeights(similarity=1, recency=0, success=0,
                                                                        confidence=0, importance=0)))
    memory.register_agent("coder")
    memory.add_knowledge("coder", domain="d", fact="weights are configurable")
    item = memory.retrieve("weights configurable", "coder")[0]
    assert item.explanation.factors["recency"].weight == 0
    assert item.score == pytest.approx(item.explanation.factors["similarity"].value, abs=1e-6)


def test_success_factor_reflects_outcomes_and_heuristic_rates(memory, agent):
    ok = memory.learn(agent, "ship the release", True, "tag and push", task_type="release").outcome
    bad = memory.learn(agent, "ship the hotfix", False, "push to main", task_type="hotfix").outcome
    by_id = {item.id: item for item in memory.retrieve("ship", agent, top_k=10, types=["Outcome"])}
    assert by_id[ok.id].explanation.factors["success"].value == 1.0
    assert by_id[bad.id].explanation.factors["success"].value == 0.0
    assert by_id[ok.id].explanation.factors["confidence"].value == 1.0


def test_graph_expansion_returns_the_turn_after_a_strongly_matching_turn(memory, agent):
    trip = memory.remember_many(agent, [
        {"text": "I'm planning a trip to Japan next spring", "session": "trip", "timestamp": T0},
        {"text": "Okay, sounds great.", "session": "trip", "timestamp": T0 + timedelta(seconds=1)},
        {"text": "Let me check the calendar.", "session": "trip", "timestamp": T0 + timedelta(seconds=2)},
    ])
    other = memory.remember_many(agent, [
        {"text": "My favourite colour is green", "session": "other", "timestamp": T0},
        {"text": "Okay, sounds great.", "session": "other", "timestamp": T0 + timedelta(seconds=1)},
        {"text": "Let me check the calendar.", "session": "other", "timestamp": T0 + timedelta(seconds=2)},
    ])
    match, follower = trip[0], trip[1]
    result = memory.retrieve("trip to Japan", agent, top_k=10, types=["Episode"])
    by_id = {item.id: item for item in result}
    assert result[0].id == match.id
    assert follower.id in by_id
    explanation = by_id[follower.id].explanation
    assert "graph" in explanation.found_by
    assert "fulltext" not in explanation.found_by  # it shares no word with the query
    assert explanation.via == f"NEXT {match.id}"
    assert explanation.relevance["graph"] > 0
    # the same words after an unrelated turn are not lifted as much
    assert by_id[follower.id].score > by_id[other[1].id].score


def test_invalidated_memories_are_excluded_by_default(memory, agent):
    keep = memory.add_knowledge(agent, domain="db", fact="postgres listens on port 5432")
    gone = memory.add_knowledge(agent, domain="db", fact="postgres listens on port 5433")
    memory.forget(gone.id)
    assert ids_of(memory.retrieve("postgres port", agent)) == [keep.id]
    assert set(ids_of(memory.retrieve("postgres port", agent, include_invalidated=True))) == {keep.id, gone.id}


def test_access_count_increases_for_returned_memories_only(memory, agent):
    hit = memory.add_knowledge(agent, domain="db", fact="redis keeps data in memory")
    miss = memory.add_knowledge(agent, domain="ui", fact="buttons should have labels")
    assert memory.get(hit.id).access_count == 0
    before = datetime.now(timezone.utc)
    assert ids_of(memory.retrieve("redis memory", agent, top_k=1)) == [hit.id]
    first = memory.get(hit.id)
    assert first.access_count == 1
    assert first.last_access is not None and first.last_access >= before - timedelta(milliseconds=1)
    memory.retrieve("redis memory", agent, top_k=1)
    assert memory.get(hit.id).access_count == 2
    untouched = memory.get(miss.id)
    assert (untouched.access_count, untouched.last_access) == (0, None)


def test_retrieve_on_an_empty_store_returns_nothing(memory, agent):
    result = memory.retrieve("anything at all", agent)
    assert len(result) == 0 and result.items == () and result.source_ids == []
    assert result.query == "anything at all" and result.agent == agent


def test_memory_slice_renders_as_prompt_context(memory, agent):
    memory.add_knowledge(agent, domain="python", fact="f-strings are fast")
    memory.remember("we talked about f-strings", agent, timestamp=T0)
    result = memory.retrieve("f-strings", agent)
    context = result.to_context()
    knowledge = next(i.memory for i in result if i.memory is not None)
    assert f"[{knowledge.valid_from.date().isoformat()} DomainKnowledge] [python] f-strings are fast" in context
    assert "[2024-03-01 Episode] we talked about f-strings" in context


# -- the HNSW path (normally only above 150k rows; forced here with vector_index_min_rows=1) ----


@pytest.fixture
def indexed(open_memory):
    memory = open_memory(vector_index_min_rows=1)
    for name in ("alice", "bob"):
        memory.register_agent(name)
        memory.remember_many(name, [{"text": f"rocket launch log day {i}", "session": f"{name}-log",
                                     "timestamp": T0 + timedelta(days=i)} for i in range(5)])
        memory.add_knowledge(name, domain="space", fact="rockets need a lot of fuel")
    memory.refresh_indexes()
    status = memory.backend.index_status()
    assert "hnsw" in status["Episode"] and "hnsw" in status["DomainKnowledge"]
    return memory


def test_retrieval_through_the_vector_index_keeps_agent_time_and_validity_filters(indexed):
    memory = indexed
    assert "hnsw" in memory.backend.index_status()["Episode"]
    result = memory.retrieve("rocket launch fuel", "alice", top_k=50)
    assert len(result) == 6 and {(i.memory or i.episode).agent for i in result} == {"alice"}
    window = memory.retrieve("rocket launch log", "alice", top_k=50, types=["Episode"],
                             since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
    assert sorted(i.episode.timestamp for i in window) == [T0 + timedelta(days=1), T0 + timedelta(days=2)]
    fuel = memory.retrieve("rockets fuel", "alice", types=["DomainKnowledge"])[0]
    memory.forget(fuel.id)
    assert len(memory.retrieve("rockets fuel", "alice", types=["DomainKnowledge"])) == 0


def test_a_large_batch_into_a_vector_indexed_table_is_written(indexed):
    memory = indexed
    before = memory.stats()["Episode"]
    memory.remember_many("alice", [{"text": f"more launch notes {i}", "session": "alice-log"} for i in range(5)])
    assert memory.stats()["Episode"] == before + 5
    found = memory.retrieve("more launch notes", "alice", top_k=5, types=["Episode"])
    assert {i.text for i in found} == {f"more launch notes {i}" for i in range(5)}


def test_a_match_on_a_superseded_memory_returns_the_version_that_replaced_it(memory, agent):
    old = memory.add_knowledge(agent, domain="release", fact="production deploys happen every Friday afternoon")
    memory.add_knowledge(agent, domain="cooking", fact="pasta needs salted water")
    new = memory.update(old.id, fact="the release train now leaves on Thursday mornings")
    result = memory.retrieve("production deploys on Friday afternoon", agent, top_k=5)
    assert result[0].id == new.id
    assert result[0].explanation.via == f"SUPERSEDES {old.id}"
    assert "graph" in result[0].explanation.found_by
    assert old.id not in ids_of(result)
    # asked for history, the old version is there as itself
    everything = memory.retrieve("production deploys on Friday afternoon", agent, top_k=5, include_invalidated=True)
    assert everything[0].id == old.id and not everything[0].memory.is_valid


@pytest.mark.parametrize("one_row_insert_s, rebuilds", [(0.0, 0), (1.0, 1)], ids=["one at a time", "bulk"])
def test_episodes_written_in_one_batch_are_all_in_the_full_text_index(memory, agent, monkeypatch,
                                                                      one_row_insert_s, rebuilds):
    # Kuzu 0.11 does not keep its full-text index right for multi-row inserts: the backend
    # inserts the rows one at a time, or in bulk and rebuilds the index after the batch commits,
    # whichever costs less; either way the last turn's rare word is found by BM25.
    monkeypatch.setattr(kuzu_backend, "_ONE_ROW_INSERT_S", one_row_insert_s)
    statements = []
    execute = memory.backend.execute
    monkeypatch.setattr(memory.backend, "execute", lambda c, p=None: statements.append(c) or execute(c, p))
    turns = [{"text": f"common chatter number {i} about nothing", "session": "bulk"} for i in range(50)]
    turns.append({"text": "the quarterly zeppelin budget was approved", "session": "bulk"})
    memory.remember_many(agent, turns)
    assert sum("DROP_FTS_INDEX('Episode'" in c for c in statements) == rebuilds
    result = memory.retrieve("zeppelin?", agent, top_k=3, types=["Episode"])
    assert "zeppelin" in result[0].text
    assert "fulltext" in result[0].explanation.found_by
    assert result[0].explanation.relevance["lexical"] == 1.0
    chatter = memory.retrieve("chatter", agent, top_k=60, types=["Episode"])
    assert sum("fulltext" in i.explanation.found_by for i in chatter) == 50


def test_a_turn_said_by_the_person_the_query_names_ranks_first(memory, agent):
    said = memory.remember_many(agent, [
        {"text": "Jon said Gina loves painting sunsets", "session": "s1", "metadata": {"speaker": "Jon"}},
        {"text": "I love painting sunsets", "session": "s2", "metadata": {"speaker": "Gina Lopez"}},
    ])
    # The speaker lift alone: with hashing vectors a single word's cosine to the query is noise
    # ("jon" 0.05, "sunsets" 0.0), enough to tip two turns this close.
    memory.retriever = Retriever(memory.store, RetrievalConfig(concept_weight=0))
    found = memory.retrieve("What does Gina love painting?", agent, top_k=2)
    assert found[0].id == said[1].id
    assert found[0].explanation.relevance["speaker"] > 0
    assert "speaker" not in found[1].explanation.relevance
    memory.retriever = Retriever(memory.store, RetrievalConfig(concept_weight=0, speaker_lift=0))  # the knob turns it off
    assert all("speaker" not in i.explanation.relevance for i in memory.retrieve("Gina painting", agent))


def test_an_episode_is_embedded_with_the_turn_before_it_in_its_session(memory, agent):
    first = memory.remember_many(agent, [
        {"text": "Have you watched The Wheel of Time?", "session": "tv", "timestamp": T0},
        {"text": "Yeah, I saw it last week!", "session": "tv", "timestamp": T0 + timedelta(seconds=1)},
        {"text": "Unrelated opener", "session": "other", "timestamp": T0},
    ])
    # A later call continues the session from the stored tail.
    later = memory.remember("It was great.", agent, session="tv", timestamp=T0 + timedelta(seconds=2))
    ids = [e.id for e in first] + [later.id]
    stored = memory.store.backend.embeddings("Episode", ids)
    expected = memory.store.embed([
        "Have you watched The Wheel of Time?",  # a session's first turn: its own text only
        "Yeah, I saw it last week!\nHave you watched The Wheel of Time?",
        "Unrelated opener",
        "It was great.\nYeah, I saw it last week!",
    ])
    for node_id, vector in zip(ids, expected):
        assert stored[node_id] == pytest.approx(vector, abs=1e-6)


def test_a_reply_is_found_through_what_it_answers(memory, agent):
    memory.remember_many(agent, [
        {"text": "Have you watched The Wheel of Time?", "session": "tv", "timestamp": T0},
        {"text": "Yeah, I saw it!", "session": "tv", "timestamp": T0 + timedelta(seconds=1)},
        {"text": "I repaired the garden fence today", "session": "home", "timestamp": T0},
        {"text": "Yeah, I saw it!", "session": "home", "timestamp": T0 + timedelta(seconds=1)},
    ])
    replies = [i for i in memory.retrieve("Wheel of Time", agent, top_k=4, types=["Episode"])
               if i.text == "Yeah, I saw it!"]
    assert replies[0].episode.session == "tv"
    assert replies[0].explanation.relevance["dense"] > replies[1].explanation.relevance["dense"]


def test_a_turn_appended_after_a_concurrent_write_is_embedded_with_the_new_tail(memory, agent, monkeypatch):
    memory.remember("Do you like hiking?", agent, session="s", timestamp=T0)
    real = memory.store._session_tails
    calls = []

    def stale_then_real(sessions):  # the first read predates another writer's append
        calls.append(sessions)
        return {} if len(calls) == 1 else real(sessions)

    monkeypatch.setattr(memory.store, "_session_tails", stale_then_real)
    reply = memory.remember("I love it.", agent, session="s", timestamp=T0 + timedelta(seconds=1))
    stored = memory.store.backend.embeddings("Episode", [reply.id])[reply.id]
    assert stored == pytest.approx(memory.store.embed(["I love it.\nDo you like hiking?"])[0], abs=1e-6)


CHAT = [
    "Nate: I finally finished the level in that game last night, it took forever",
    "Joanna: Congrats! Did you play with your friends online?",
    "Nate: Yes, we played until three in the morning. Also I fed my turtles before bed",
    "Joanna: Haha, you really love staying up late",
    "Nate: My favourite dessert is coconut ice cream, I make it every week",
    "Joanna: I went to the farmers market and bought fresh bread",
]


@pytest.mark.parametrize("question", ["What pets does Nate have?", "What animals does Nate take care of?"])
def test_a_turn_that_names_an_instance_of_what_the_question_asks_about_is_lifted_by_that_word(tmp_path, question):
    # The turn is mostly about a late game night; only its word "turtles" answers the question.
    memory = GraphMemory(f"kuzu://{tmp_path / 'chat.kuzu'}", embedder="local")
    memory.register_agent(MemoryScope(agent="nate"))
    turtles = [memory.remember(text, "nate", session="s1") for text in CHAT][2].id

    def rank(config: RetrievalConfig) -> tuple[int, str | None]:
        items = list(Retriever(memory.store, config).retrieve(RetrievalRequest(query=question, agent="nate", top_k=6)).items)
        position = next(i for i, item in enumerate(items) if item.episode.id == turtles)
        return position, items[position].explanation.concept

    with_concepts, word = rank(RetrievalConfig())
    without, _ = rank(RetrievalConfig(concept_weight=0.0))
    assert word == "turtles"
    assert with_concepts < without
    memory.close()


@pytest.mark.parametrize("weight", [-0.5, float("nan"), "0.5", True])
def test_a_bad_concept_weight_is_a_validation_error_naming_it(weight):
    with pytest.raises(ValidationError) as err:
        RetrievalConfig(concept_weight=weight)
    assert err.value.field == "concept_weight"
