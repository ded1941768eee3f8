"""Concurrent writers: threads (and, on a server database, several clients) appending episodes
to one session and writing memories for one agent. Every write lands exactly once and the
session stays a single NEXT chain numbered 0..n-1, with no fork and no second Session node."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from alma_graph import GraphMemory

from .graph_checks import assert_session_is_one_chain, count

THREADS, ROUNDS, BATCH = 4, 6, 3
SESSION = "shared"  # does not exist before the threads start: they race to create it too


def write_concurrently(clients: list[GraphMemory], agent: str) -> tuple[set[str], set[str]]:
    """THREADS threads (spread over the clients) each write ROUNDS single episodes, a batch of
    BATCH episodes every other round, and one memory per round. Returns the source_ids of the
    episodes and the facts of the memories written."""
    start = threading.Barrier(THREADS)
    sources: set[str] = set()
    facts: set[str] = set()
    lock = threading.Lock()

    def work(client: GraphMemory, t: int) -> None:
        start.wait()
        for r in range(ROUNDS):
            written = [client.remember(f"thread {t} says turn {r}", agent, session=SESSION, source_id=f"{t}:{r}")]
            if r % 2 == 0:
                written += client.remember_many(agent, [
                    {"text": f"thread {t} batch {r} item {j}", "session": SESSION, "source_id": f"{t}:{r}:{j}"}
                    for j in range(BATCH)])
            fact = client.add_knowledge(agent, domain="concurrency", fact=f"thread {t} learned fact {r}").fact
            with lock:
                sources.update(e.source_id for e in written)
                facts.add(fact)

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(work, clients[t % len(clients)], t) for t in range(THREADS)]:
            future.result()
    return sources, facts


def assert_every_write_landed_once(memory: GraphMemory, agent: str, sources: set[str], facts: set[str]) -> None:
    episodes = memory.episodes(SESSION)
    expected_episodes = THREADS * (ROUNDS + BATCH * len(range(0, ROUNDS, 2)))
    assert len(sources) == expected_episodes
    assert sorted(e.source_id for e in episodes) == sorted(sources)
    assert_session_is_one_chain(memory, SESSION, expected_episodes)
    for t in range(THREADS):  # each thread's own writes keep their order within the chain
        own = [e.source_id for e in episodes if e.source_id.startswith(f"{t}:")]
        assert own == sorted(own, key=lambda s: tuple(int(x) for x in s.split(":")))
    stored = memory.backend.execute("MATCH (n:DomainKnowledge) WHERE n.agent = $a RETURN n.fact AS fact",
                                    {"a": agent})
    assert sorted(r["fact"] for r in stored) == sorted(facts) and len(facts) == THREADS * ROUNDS
    assert count(memory, "MATCH (:Agent)-[r:LEARNED]->(:DomainKnowledge) RETURN count(r) AS c") == len(facts)
    assert [s.episode_count for s in memory.sessions(agent)] == [expected_episodes]


def test_threads_sharing_one_client_write_every_item_once_into_one_chain(memory, agent):
    sources, facts = write_concurrently([memory], agent)
    assert_every_write_landed_once(memory, agent, sources, facts)


def test_two_clients_on_one_database_write_every_item_once_into_one_chain(backend, memory, agent):
    if not backend.server:
        pytest.skip(f"{backend.name} is embedded: one process holds the database, so threads share one client")
    sources, facts = write_concurrently([memory, backend.open()], agent)
    assert_every_write_landed_once(memory, agent, sources, facts)


def test_gathered_reads_run_side_by_side_but_stay_on_a_writing_thread(memory, agent):
    """`Backend.gather` runs a retrieval's independent reads on several threads; inside a write
    they stay on the writing thread, whose reads must see what it wrote so far."""
    backend = memory.backend
    me = threading.current_thread().name

    def read_episodes_on_this_thread():
        rows = backend.execute("MATCH (e:Episode) RETURN count(e) AS c")
        return threading.current_thread().name, rows[0]["c"]

    outside = backend.gather([read_episodes_on_this_thread] * 6)
    assert {name for name, _ in outside} - {me}, "every read ran on the calling thread"
    with backend.transaction():
        memory.remember("written inside the write", agent)
        inside = backend.gather([read_episodes_on_this_thread] * 6)
    assert inside == [(me, 1)] * 6
