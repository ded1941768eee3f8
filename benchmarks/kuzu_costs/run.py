"""What Kuzu's indexes cost, measured: the figures behind the embedded backend's design.

    python benchmarks/kuzu_costs/run.py --rows 20000

Prints, on random unit vectors of the embedder's width: bulk insert through Arrow versus
Python lists, HNSW build, inserting into an HNSW-indexed table, exact cosine scan in Cypher
versus HNSW (plain and filtered through a projected graph) beside numpy's exact top-k, the same
scan repeated on one connection versus two connections in two threads, the
full-text index build, and whether the full-text index stays right after a multi-row insert and
after one-row inserts (and what those cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

import numpy as np
import pyarrow as pa

from alma_graph.backends.kuzu import import_engine

DIM = 384


def timed(fn, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


SCANS = 40


def two_connections(kuzu, database, statement: str, params: dict) -> tuple[float, float]:
    """SCANS runs of a read statement one after another on one connection, then split over two
    threads with a connection each: whether a second connection adds throughput, or Kuzu
    already spreads one query over the cores."""
    connections = [kuzu.Connection(database) for _ in range(2)]
    for c in connections:
        c.execute("LOAD EXTENSION vector")

    def run(connection, count: int) -> None:
        for _ in range(count):
            connection.execute(statement, params).get_all()

    sequential = timed(lambda: run(connections[0], SCANS), repeat=3)

    def parallel() -> None:
        threads = [threading.Thread(target=run, args=(c, SCANS // 2)) for c in connections]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return sequential, timed(parallel, repeat=3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--list-rows", type=int, default=2_000, help="rows for the Python-list insert")
    args = parser.parse_args(argv)
    kuzu = import_engine()
    n = args.rows
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    folder = tempfile.mkdtemp()
    database = kuzu.Database(os.path.join(folder, "db"))
    conn = kuzu.Connection(database)
    for ext in ("vector", "fts"):
        conn.execute(f"LOAD EXTENSION {ext}")
    table = f"id STRING PRIMARY KEY, agent STRING, text STRING, embedding FLOAT[{DIM}]"
    for name in ("M", "L", "F"):
        conn.execute(f"CREATE NODE TABLE {name}({table})")

    def arrow(first: int, count: int, prefix: str = "m") -> pa.Table:
        return pa.table({
            "id": [f"{prefix}{i}" for i in range(first, first + count)],
            "agent": [f"a{i % 10}" for i in range(first, first + count)],
            "text": [f"memory number {i} about topic {i % 97}" for i in range(first, first + count)],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors[first:first + count].ravel()), DIM),
        })

    create = "LOAD FROM $t CREATE (:{0} {{id: id, agent: agent, text: text, embedding: embedding}})"
    rows = arrow(0, n)
    arrow_s = timed(lambda: conn.execute(create.format("M"), {"t": rows}))
    k = min(args.list_rows, n)
    as_lists = [{"id": f"l{i}", "agent": "a0", "text": "x", "embedding": vectors[i].tolist()} for i in range(k)]
    lists_s = timed(lambda: conn.execute(
        f"UNWIND $rows AS r CREATE (:L {{id: r.id, agent: r.agent, text: r.text, embedding: CAST(r.embedding AS FLOAT[{DIM}])}})",
        {"rows": as_lists}))

    query = vectors[5].tolist()
    scan = ("MATCH (n:M) WHERE n.agent = $a WITH n, array_cosine_similarity(n.embedding, $q) AS s "
            "RETURN n.id, s ORDER BY s DESC LIMIT 10")
    exact_ms = timed(lambda: conn.execute(scan, {"q": query, "a": "a5"}).get_all(), repeat=7) * 1000
    numpy_ms = timed(lambda: np.argpartition(-(vectors @ vectors[5]), 10)[:10], repeat=7) * 1000
    sequential_s, parallel_s = two_connections(kuzu, database, scan, {"q": query, "a": "a5"})

    build_s = timed(lambda: conn.execute("CALL CREATE_VECTOR_INDEX('M', 'm_hnsw', 'embedding', metric := 'cosine')"))
    hnsw = "CALL QUERY_VECTOR_INDEX('M', 'm_hnsw', $q, 10) RETURN node.id AS id, distance"
    hnsw_ms = timed(lambda: conn.execute(hnsw, {"q": query}).get_all(), repeat=7) * 1000
    exact_top = conn.execute("CALL QUERY_VECTOR_INDEX('M', 'm_hnsw', $q, 1) RETURN node.id", {"q": query}).get_all()
    conn.execute("CALL PROJECT_GRAPH('only_a5', {'M': 'n.agent = \"a5\"'}, [])")
    filtered_ms = timed(lambda: conn.execute(
        "CALL QUERY_VECTOR_INDEX('only_a5', 'm_hnsw', $q, 10) RETURN node.id", {"q": query}).get_all(), repeat=7) * 1000
    extra = max(1, n // 100)
    more = arrow(0, extra, prefix="x")
    insert_indexed_s = timed(lambda: conn.execute(create.format("M"), {"t": more}))

    fts_s = timed(lambda: conn.execute("CALL CREATE_FTS_INDEX('M', 'm_fts', ['text'])"))
    conn.execute("CALL CREATE_FTS_INDEX('F', 'f_fts', ['text'])")
    texts = [f"common words number {i} jon" for i in range(50)] + ["jon lost his job as a banker"]
    conn.execute(create.format("F"), {"t": pa.table({
        "id": [f"f{i}" for i in range(len(texts))], "agent": ["a"] * len(texts), "text": texts,
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors[:len(texts)].ravel()), DIM)})})
    found = conn.execute("CALL QUERY_FTS_INDEX('F', 'f_fts', 'banker') RETURN node.id").get_all()
    one_by_one = [pa.table({"id": [f"g{i}"], "agent": ["a"], "text": [f"quartz{i} glacier"],
                            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors[i]), DIM)})
                  for i in range(20)]

    def one_row_inserts() -> None:
        conn.execute("BEGIN TRANSACTION")
        for row in one_by_one:
            conn.execute(create.format("F"), {"t": row})
        conn.execute("COMMIT")

    one_row_s = timed(one_row_inserts) / len(one_by_one)
    kept = all(conn.execute("CALL QUERY_FTS_INDEX('F', 'f_fts', $w) RETURN count(*)", {"w": f"quartz{i}"}).get_all()[0][0]
               for i in range(len(one_by_one)))

    print(f"Kuzu {kuzu.__version__}, {n:,} rows of {DIM}-d vectors")
    print(f"  bulk insert through Arrow          {n / arrow_s:10,.0f} rows/s")
    print(f"  insert with vectors as lists       {k / lists_s:10,.0f} rows/s")
    print(f"  HNSW build                         {build_s:10.1f} s  ({build_s / n * 1000:.2f} ms a row)")
    print(f"  insert into the HNSW-indexed table {insert_indexed_s / extra * 1000:10.2f} ms a row "
          f"(without the index: {arrow_s / n * 1000:.3f} ms)")
    print(f"  exact cosine scan in Cypher        {exact_ms:10.1f} ms (agent filter, top 10)")
    print(f"  HNSW query                         {hnsw_ms:10.1f} ms (exact duplicate found first: "
          f"{exact_top and exact_top[0][0] == 'm5'})")
    print(f"  HNSW through a projected graph     {filtered_ms:10.1f} ms (agent filter)")
    print(f"  numpy exact top 10                 {numpy_ms:10.2f} ms")
    print(f"  {SCANS} exact scans, one connection     {sequential_s * 1000:10.0f} ms; two threads on two "
          f"connections {parallel_s * 1000:.0f} ms ({sequential_s / parallel_s:.2f}x)")
    print(f"  full-text index build              {fts_s:10.2f} s  ({fts_s / n * 1e6:.1f} us a row)")
    print(f"  full-text index kept up by a 51-row insert (finds 'banker'): {bool(found)}")
    print(f"  one-row inserts into a full-text-indexed table {one_row_s * 1000:.2f} ms a row "
          f"(index kept up: {kept})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
