"""Embedded Kuzu under concurrent use: reads side by side on read connections, writes alone on
the writer, threads served in arrival order (alma_graph/backends/kuzu_gate.py)."""

from __future__ import annotations

import threading
import time

import pytest

from alma_graph import GraphMemory
from alma_graph.backends.base import is_read
from alma_graph.errors import ValidationError

BATCH = 25


def _count(memory: GraphMemory) -> int:
    return memory.backend.execute("MATCH (e:Episode) RETURN count(e) AS c")[0]["c"]


def _in_threads(work, n: int, stop: threading.Event | None = None, timeout: float = 120.0) -> list[BaseException]:
    """Run `work(i)` on n threads; the errors they raised. A thread still running at the timeout
    is a failure in its own right (a starved or deadlocked thread never finishes); `stop` is set
    then, so that looping threads let the test end."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = any(t.is_alive() for t in threads)
    if stuck and stop is not None:
        stop.set()
        for t in threads:
            t.join(10)
    assert not stuck, "a thread did not finish in time: starved or deadlocked"
    return errors


@pytest.mark.parametrize("cypher, read", [
    ("MATCH (n:Episode) WHERE n.id = $id RETURN n.text", True),
    ("CALL QUERY_FTS_INDEX('Episode', 'episode_text_fts', $q) WITH node, score RETURN node.id", True),
    ("CALL show_tables() RETURN name", True),
    ("RETURN 1 AS ok", True),
    ("CALL db.index.vector.queryNodes('i', $k, $q) YIELD node, score RETURN node.id", True),
    ("CALL db.idx.fulltext.queryNodes('EpisodeDoc', $q) YIELD node RETURN node.id", True),
    ("SHOW INDEXES YIELD name, state RETURN name", True),
    ("MATCH (n:Episode) CALL db.create.setNodeVectorProperty(n, 'embedding', $v)", False),
    ("CALL db.idx.fulltext.createNodeIndex('EpisodeDoc', 'text')", False),
    ("CALL db.awaitIndexes(300)", False),  # not known to read: counted as a write (safe)
    ("MATCH (n:Episode) WHERE n.id = $id SET n.text = $t", False),
    ("MATCH (n:Episode) WHERE n.id = $id DETACH DELETE n", False),
    ("match (n:Agent) merge (n)-[:X]->(:Y)", False),
    ("LOAD FROM $rows CREATE (:Episode {id: id})", False),
    ("CALL CREATE_FTS_INDEX('Episode', 'x', ['text'])", False),
    ("CALL PROJECT_GRAPH('g', {'Episode': 'n.agent = \"a\"'}, [])", False),
    ("BEGIN TRANSACTION", False),
    ("MATCH (n:Episode) RETURN n.created_at", True),  # a property name is not a clause
])
def test_only_statements_that_cannot_write_are_reads(cypher: str, read: bool):
    assert is_read(cypher) is read


def test_a_retrieval_runs_its_reads_on_the_read_connections_side_by_side(memory, agent):
    memory.remember_many(agent, [{"text": f"the {w} service failed after the deploy", "session": "s"}
                                 for w in ("auth", "billing", "search", "upload")])
    threads: set[str] = set()
    execute = memory.backend.execute

    def watched(cypher, params=None):
        threads.add(threading.current_thread().name)
        return execute(cypher, params)

    memory.backend.execute = watched
    try:
        assert memory.retrieve("billing deploy", agent=agent).items
    finally:
        del memory.backend.execute
    assert threading.current_thread().name in threads
    assert any(name.startswith("alma-kuzu-read") for name in threads), threads


def test_readers_in_tight_loops_do_not_starve_a_writer_or_each_other(memory, agent):
    """More reading threads than read connections, each reading as fast as it can, while a
    writer adds batches: every thread finishes its share (a hand-over that is not first come,
    first served left one waiting forever)."""
    batches, stop = 8, threading.Event()
    finished_reads = [0] * 6

    def work(i: int) -> None:
        if i == 0:
            for b in range(batches):
                memory.remember_many(agent, [{"text": f"batch {b} turn {t}", "session": f"s{b}"}
                                             for t in range(BATCH)])
            stop.set()
            return
        while not stop.is_set() or finished_reads[i] < 50:
            _count(memory)
            finished_reads[i] += 1

    assert _in_threads(work, len(finished_reads), stop, timeout=60) == []
    assert _count(memory) == batches * BATCH
    assert all(n >= 50 for n in finished_reads[1:])


def test_a_read_never_sees_part_of_a_batch(memory, agent):
    seen: set[int] = set()
    done = threading.Event()

    def work(i: int) -> None:
        if i == 0:
            for b in range(6):
                memory.remember_many(agent, [{"text": f"turn {t} of batch {b}", "session": f"s{b}"}
                                             for t in range(BATCH)])
            done.set()
            return
        while not done.is_set():
            seen.add(_count(memory))

    assert _in_threads(work, 4) == []
    assert seen and all(n % BATCH == 0 for n in seen), sorted(seen)


def test_concurrent_retrievals_return_what_one_at_a_time_returns(memory, agent):
    memory.remember_many(agent, [{"text": f"the {w} service failed after the {w} deploy", "session": f"s{i % 5}"}
                                 for i, w in enumerate(["auth", "billing", "search", "upload", "email"] * 8)])
    queries = ["auth deploy", "billing failure", "search service", "upload", "email deploy failed"]
    alone = {q: [i.episode.id for i in memory.retrieve(q, agent=agent).items] for q in queries}
    together: dict[int, list[str]] = {}

    def work(i: int) -> None:
        q = queries[i % len(queries)]
        together[i] = [item.episode.id for item in memory.retrieve(q, agent=agent).items]

    assert _in_threads(work, 10) == []
    assert all(together[i] == alone[queries[i % len(queries)]] for i in range(10))


def test_a_thread_inside_a_transaction_reads_its_own_writes(memory, agent):
    backend = memory.backend
    with backend.transaction():
        memory.remember(agent=agent, text="written inside the transaction")
        assert _count(memory) == 1  # read on the writer connection, before the commit
        reader_saw: list[int] = []
        outside = threading.Thread(target=lambda: reader_saw.append(_count(memory)))
        outside.start()
        time.sleep(0.2)
        assert reader_saw == []  # another thread waits until the transaction ends
    outside.join(30)
    assert reader_saw == [1]


def test_gather_returns_results_in_order_and_raises_a_failure_after_the_rest_finish(memory):
    backend = memory.backend
    finished: list[int] = []

    def read(i: int):
        def call():
            rows = backend.execute("MATCH (a:Agent) RETURN count(a) AS c")
            finished.append(i)
            return (i, rows[0]["c"])
        return call

    assert backend.gather([read(i) for i in range(8)]) == [(i, 0) for i in range(8)]

    def fails():
        raise ValidationError("x", "is wrong")

    finished.clear()
    with pytest.raises(ValidationError, match="x is wrong|x"):
        backend.gather([fails, *(read(i) for i in range(6))])
    assert sorted(finished) == list(range(6))
    # Gathered calls that gather again run their inner calls in place (a pool waiting on itself
    # would deadlock).
    nested = backend.gather([lambda: backend.gather([read(i) for i in range(3)]) for _ in range(6)])
    assert nested == [[(i, 0) for i in range(3)]] * 6


@pytest.mark.parametrize("count", [0, -1, 2.5, "4"])
def test_read_connections_must_be_a_whole_number_of_at_least_one(db_url, count):
    from alma_graph.backends.kuzu import KuzuBackend

    with pytest.raises(ValidationError, match="read_connections"):
        KuzuBackend(db_url.removeprefix("kuzu://"), read_connections=count)


def test_a_bad_read_connections_setting_names_the_variable(db_url, monkeypatch):
    from alma_graph.backends.kuzu import KuzuBackend

    monkeypatch.setenv("ALMA_KUZU_READ_CONNECTIONS", "many")
    with pytest.raises(ValidationError, match="ALMA_KUZU_READ_CONNECTIONS.*many"):
        KuzuBackend(db_url.removeprefix("kuzu://"))


def test_one_read_connection_still_serves_many_threads(open_memory, tmp_path):
    memory = open_memory(f"kuzu://{tmp_path / 'one-reader'}", read_connections=1)
    memory.register_agent("coder")
    memory.remember_many("coder", [{"text": f"the deploy of service {i} failed", "session": "s"} for i in range(30)])
    found: list[int] = []

    def work(i: int) -> None:
        found.append(len(memory.retrieve(f"service {i} deploy", agent="coder").items))

    assert _in_threads(work, 6) == []
    assert found == [10] * 6
