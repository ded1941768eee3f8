"""Concepts on every backend: each content word is one node with its own vector, shared by the
items that mention it; a word already known is not embedded again; concurrent writers of one
word create it once; deleting the last item that mentions a word deletes the word; retrieval
reads the word of an item closest to the query."""

from __future__ import annotations

import pytest

from alma_graph.concepts import concepts
from alma_graph.schema import CONCEPT

from .graph_checks import count


def mentioned(memory, node_id: str) -> set[str]:
    rows = memory.backend.execute("MATCH (n)-[:MENTIONS]->(c:Concept) WHERE n.id = $id RETURN c.id AS word",
                                  {"id": node_id})
    return {r["word"] for r in rows}


def test_items_mention_their_concepts_and_share_one_node_per_word(memory, agent):
    first = memory.remember("Nate: I took my turtles to the lake", agent, session="s1")
    second = memory.remember("Joanna: your turtles look happy", agent, session="s1")
    fact = memory.add_knowledge(agent, domain="pets", fact="turtles live for decades")
    assert mentioned(memory, first.id) == set(concepts(first.text)) == {"nate", "took", "turtles", "lake"}
    assert mentioned(memory, second.id) == set(concepts(second.text))
    assert mentioned(memory, fact.id) == set(concepts(fact.text))
    assert count(memory, "MATCH (c:Concept {id: 'turtles'}) RETURN count(c) AS c") == 1
    assert count(memory, "MATCH (:Concept {id: 'turtles'})<-[m:MENTIONS]-() RETURN count(m) AS c") == 3


def test_a_known_word_is_not_embedded_again(memory, agent, monkeypatch):
    memory.remember("turtles swim in the lake", agent, session="s1")
    embedded: list[str] = []
    embed = memory.store.embed
    monkeypatch.setattr(memory.store, "embed", lambda texts: embedded.extend(texts) or embed(texts))
    memory.remember("turtles sleep under the bridge", agent, session="s1")
    assert {"sleep", "bridge"} <= set(embedded) and not {"turtles", "lake", "swim"} & set(embedded)


def test_create_missing_nodes_creates_each_key_once(memory, agent):
    memory.remember("turtles swim", agent, session="s1")
    vector = memory.store.embed(["x"])[0]
    rows = [{"id": w, "embedding": vector, "created_at": 1} for w in ("turtles", "otters", "otters", "newts")]
    created = memory.backend.create_missing_nodes(CONCEPT, rows)
    assert sorted(created) == ["newts", "otters"]
    assert memory.backend.create_missing_nodes(CONCEPT, rows) == []
    assert count(memory, "MATCH (c:Concept) WHERE c.id IN ['turtles', 'otters', 'newts'] RETURN count(c) AS c") == 3


def test_deleting_the_last_item_that_mentions_a_word_deletes_the_word(memory, agent):
    shared = memory.add_knowledge(agent, domain="pets", fact="turtles like warm water")
    only = memory.add_knowledge(agent, domain="pets", fact="turtles hibernate underground")
    memory.forget(only.id, hard=True)
    words = {r["w"] for r in memory.backend.execute("MATCH (c:Concept) RETURN c.id AS w")}
    assert {"turtles", "warm", "water", "pets"} <= words
    assert not {"hibernate", "underground"} & words
    memory.forget(shared.id, hard=True)
    assert count(memory, "MATCH (c:Concept) RETURN count(c) AS c") == 0


@pytest.mark.requires("vector_search")
def test_concept_matches_give_the_word_closest_to_the_query(memory, agent):
    episode = memory.remember("Nate: I took my turtles to the lake", agent, session="s1")
    query = memory.store.embed(["turtles"])[0]
    best = memory.store.concept_matches("Episode", [episode.id], [agent], query)
    assert best[episode.id][1] == "turtles"
    assert best[episode.id][0] == pytest.approx(1.0, abs=2e-3)
    # The query's own words are left to the full-text search: the next closest word counts.
    other = memory.store.concept_matches("Episode", [episode.id], [agent], query, frozenset({"turtles"}))
    assert other[episode.id][1] in {"nate", "took", "lake"} and other[episode.id][0] < 0.5
    assert memory.store.concept_matches("Episode", [episode.id], [agent], query, frozenset(concepts(episode.text))) \
        == {episode.id: (0.0, None)}
    assert memory.store.concept_matches("Episode", [episode.id], ["someone-else"], query) == {}  # not theirs


def test_items_stored_before_concepts_existed_are_linked_on_request(memory, agent):
    episode = memory.remember("Nate: I took my turtles to the lake", agent, session="s1")
    wordless = memory.remember("ok", agent, session="s1")
    fact = memory.add_knowledge(agent, domain="pets", fact="turtles live for decades")
    memory.backend.execute("MATCH ()-[m:MENTIONS]->() DELETE m")  # as a database written before concepts
    assert memory.link_concepts() == {"Episode": 1, "DomainKnowledge": 1}
    assert mentioned(memory, episode.id) == set(concepts(episode.text))
    assert mentioned(memory, fact.id) == set(concepts(fact.text))
    assert mentioned(memory, wordless.id) == set()
    assert count(memory, "MATCH (c:Concept {id: 'turtles'}) RETURN count(c) AS c") == 1
    assert memory.link_concepts() == {}


def test_two_writers_that_both_found_a_word_new_create_it_once(memory, agent):
    # Both batches are prepared (the word embedded as new) before either is written: the second
    # write meets the node the first created.
    first = memory.store.prepare_mentions(["axolotls regrow limbs"])
    second = memory.store.prepare_mentions(["axolotls live in lakes"])
    assert all("axolotls" in {row["id"] for row in m.new_concepts} for m in (first, second))
    a = memory.remember("placeholder one", agent, session="s1")
    b = memory.remember("placeholder two", agent, session="s1")
    memory.backend.atomically(lambda: first.write(memory.backend, "Episode", [a.id]))
    memory.backend.atomically(lambda: second.write(memory.backend, "Episode", [b.id]))
    assert count(memory, "MATCH (c:Concept {id: 'axolotls'}) RETURN count(c) AS c") == 1
    assert "axolotls" in mentioned(memory, a.id) and "axolotls" in mentioned(memory, b.id)


def test_a_word_deleted_between_preparing_and_writing_a_batch_is_created_again(memory, agent):
    only = memory.add_knowledge(agent, domain="biology", fact="axolotls regrow limbs")
    prepared = memory.store.prepare_mentions(["axolotls live in lakes"])
    assert "axolotls" not in {row["id"] for row in prepared.new_concepts}  # known when prepared
    memory.forget(only.id, hard=True)  # ...and gone with the last item that mentioned it
    assert count(memory, "MATCH (c:Concept {id: 'axolotls'}) RETURN count(c) AS c") == 0
    item = memory.remember("placeholder", agent, session="s2")
    memory.backend.atomically(lambda: prepared.write(memory.backend, "Episode", [item.id]))
    assert "axolotls" in mentioned(memory, item.id)
    stored = memory.backend.embeddings("Concept", ["axolotls"])["axolotls"]
    assert stored == pytest.approx(memory.store.embed(["axolotls"])[0], abs=1e-5)
