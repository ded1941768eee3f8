"""A large batch: 1,200 episodes in one `remember_many` call are all stored, numbered and chained
per session, and every one of them is searchable by its words and by its vector."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alma_graph.backends.base import SearchFilter
from alma_graph.schema import node_kind

from .graph_checks import assert_session_is_one_chain

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
N, SESSIONS = 1200, 3
SAMPLES = (0, 1, 377, 778, N - 1)  # the first rows, the middle, the last row of the batch
LETTERS = "bcdfghjklmnpqrtvwxz"  # consonants only: no English word, nothing a stemmer cuts


def code_word(i: int) -> str:
    """A made-up word found in episode i only."""
    word = ""
    for _ in range(3):
        i, r = divmod(i, len(LETTERS))
        word += LETTERS[r]
    return "zq" + word


def text(i: int) -> str:
    return f"support ticket {i}: the customer reports error {code_word(i)} in module {i % 17}"


@pytest.fixture
def batch(memory, agent) -> list[str]:
    """The ids of N episodes written in one call, round-robin over SESSIONS sessions."""
    episodes = memory.remember_many(agent, [
        {"text": text(i), "session": f"batch-{i % SESSIONS}", "timestamp": T0 + timedelta(seconds=i),
         "source_id": f"t:{i}"} for i in range(N)])
    assert [e.source_id for e in episodes] == [f"t:{i}" for i in range(N)]
    assert [e.seq for e in episodes] == [i // SESSIONS for i in range(N)]
    return [e.id for e in episodes]


def test_a_batch_of_1200_episodes_is_stored_numbered_and_chained(memory, batch):
    stats = memory.stats()
    assert (stats["Episode"], stats["Session"], stats["IN_SESSION"], stats["NEXT"]) == (N, SESSIONS, N, N - SESSIONS)
    for s in range(SESSIONS):
        assert_session_is_one_chain(memory, f"batch-{s}", N // SESSIONS)
    for i in SAMPLES:
        assert memory.get(batch[i]).text == text(i)


@pytest.mark.requires("full_text")
def test_every_episode_of_a_large_batch_is_in_the_full_text_index(memory, agent, batch):
    mine = SearchFilter(agents=(agent,), valid_only=False)
    sample = range(0, N, 11)
    found = [memory.store.text_search("Episode", code_word(i), 2, mine) for i in sample]
    assert [[h.id for h in hits] for hits in found] == [[batch[i]] for i in sample]


@pytest.mark.requires("vector_search")
def test_every_episode_of_a_large_batch_is_in_the_vector_index(memory, agent, batch):
    mine = SearchFilter(agents=(agent,), valid_only=False)
    # An episode's vector embeds its text and then the turn before it in its session.
    vectors = memory.embedder.embed([text(i) + (f"\n{text(i - SESSIONS)}" if i >= SESSIONS else "")
                                     for i in range(N)])
    for i in range(0, N, 11):
        hits = memory.backend.vector_search(node_kind("Episode"), vectors[i], 1, mine)
        assert hits[0].id == batch[i] and hits[0].score > 0.999, i
    for i in SAMPLES:
        assert memory.retrieve(f"error {code_word(i)}", agent, top_k=3, types=["Episode"])[0].id == batch[i]
