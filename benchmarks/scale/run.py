"""Scale: ingest throughput, retrieve latency, index build, disk and peak memory from 1k to 1M items.

    .venv/bin/python benchmarks/scale/run.py --sizes 1000 10000 [--million] [--embedder local|hashing] \
        [--queries 200] [--profile] [--hnsw] [--merge earlier.json] [--json F] [--png F]

The corpus (corpus.py) is generated English over 8 agents: 90% episodes in 20-turn sessions, 10% typed
memories. Each size runs in a child process (its own peak RSS), ended by a watchdog if its RSS passes
--max-rss-gb (the machine is shared). Per size:
- ingest with embedding, into a fresh database: episodes by `remember_many` (2,000 a call), typed memories by
  `load_memories` (`GraphStore.create_memories`, 2,000 a call). The embedder's raw throughput is the
  time inside the model on those same texts and batches: one model pass gives both, and the vectors below.
- ingest without embedding: a second fresh database, same items, vectors served from memory.
- indexes: reopened with the default exact-vs-HNSW threshold, `refresh_indexes()` timed and its choice shown;
  one Episode full-text rebuild timed (ingest pays one per committed batch). Loads run with the HNSW threshold
  out of reach (crossing it mid-load would make every later insert pay Kuzu's per-row index cost); `--hnsw`
  builds HNSW over every label afterwards and times retrieve on it.
- retrieve (top 10, all types, one agent per query, after 20 warm-ups): p50/p95 with the query embedding
  excluded (cache warmed with the same texts) and included (new texts), interleaved. Floor: exact top-10 over
  all the same vectors in numpy, and the engine's own floor: one exact top-10 statement over an agent's
  episodes in Kuzu; and the same retrieves with their independent reads run one at a time instead of side by
  side (what `Backend.gather` gains); RSS growth per retrieve over those queries. `--profile`: where retrieve
  time goes over 100 of them. Then one 20-turn session appended per `remember_many`, embedding cached.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import alma_graph
from alma_graph import GraphMemory, MemoryScope
from alma_graph.backends.base import SearchFilter
from alma_graph.backends.kuzu import _fts_index
from alma_graph.concepts import concepts
from alma_graph.embed import CachedEmbedder, Embedder, make_embedder
from alma_graph.model import MEMORY_TYPES
from alma_graph.store import EpisodeInput, NewMemory, episode_contexts

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: report_files.py
import report_files  # noqa: E402

from corpus import AGENTS, SESSION_TURNS, corpus, queries  # this folder

BATCH, TOP_K, WARMUP = 2000, 10, 20  # BATCH: episodes per remember_many call, memories per transaction
NO_HNSW = 10**15  # a vector_index_min_rows no table reaches


class Recording(Embedder):
    """The inner model, timed; keeps every vector it produced."""

    def __init__(self, inner: Embedder, vectors: dict | None = None):
        self.inner, self.seconds, self.vectors = inner, 0.0, {} if vectors is None else vectors

    name = property(lambda self: self.inner.name)
    dimension = property(lambda self: self.inner.dimension)

    def embed(self, texts):
        started = time.perf_counter()
        out = self.inner.embed(texts)
        self.seconds += time.perf_counter() - started
        self.vectors.update(zip(texts, out))
        return out


class Precomputed(Recording):
    """Vectors already computed: the insert path alone."""

    def embed(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def load_memories(memory: GraphMemory, memories: list, episode_ids: dict[str, list[str]]) -> None:
    """Typed memories in bulk through `GraphStore.create_memories`: one atomic write per batch of one type,
    any agents (each commit rebuilds the type's full-text index). Scope checks are the caller's and not
    exercised here."""
    by_label = defaultdict(list)
    for m in memories:
        by_label[m[0]].append(m)
    for label, items in by_label.items():
        for start in range(0, len(items), BATCH):
            memory.store.create_memories(label, [
                NewMemory(agent, fields, valid_from_ms=valid_from,
                          derived_from=[episode_ids[agent][i] for i in sources])
                for _, agent, fields, valid_from, sources in items[start:start + BATCH]
            ])


def load_corpus(memory: GraphMemory, episodes: dict, memories: list) -> float:
    """Seconds to write every episode and memory into an empty database (agents registered untimed)."""
    for agent in AGENTS:
        memory.register_agent(MemoryScope(agent=agent))
    started = time.perf_counter()
    ids = {agent: [e.id for start in range(0, len(items), BATCH)
                   for e in memory.remember_many(agent, items[start:start + BATCH])]
           for agent, items in episodes.items()}
    load_memories(memory, memories, ids)
    return time.perf_counter() - started


def ingest(folder: Path, embedder: Embedder, episodes: dict, memories: list) -> float:
    """Seconds to write every episode and memory into a fresh Kuzu database."""
    memory = GraphMemory(f"kuzu://{folder}/memory.kuzu", embedder=embedder, vector_index_min_rows=NO_HNSW)
    seconds = load_corpus(memory, episodes, memories)
    memory.close()
    return seconds


STATE = {"stage": "starting", "result": {}}  # what the watchdog reports if it has to stop the run


def stage(size: int, text: str) -> None:
    STATE["stage"] = text
    print(f"[{size:,}] {text}", flush=True)


def rss_gb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**30


def guard(size: int, limit_gb: float, out: str) -> None:
    """End this process, saying during what, when its resident memory passes limit_gb."""
    def watch():
        while True:
            rss = rss_gb()
            if rss > limit_gb:
                error = f"stopped: RSS {rss:.1f} GB passed --max-rss-gb {limit_gb:g} during '{STATE['stage']}'"
                Path(out).write_text(json.dumps({**STATE["result"], "size": size, "error": error}))
                print(f"[{size:,}] {error}", flush=True)
                shutil.rmtree(STATE.get("work", "/nonexistent"), ignore_errors=True)
                os._exit(3)
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()


def pct(values: list[float]) -> dict:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def retrieve_ms(memory: GraphMemory, query: str, i: int) -> float:
    started = time.perf_counter()
    memory.retrieve(query, AGENTS[i % len(AGENTS)], top_k=TOP_K)
    return (time.perf_counter() - started) * 1000


@contextmanager
def reads_one_at_a_time(memory: GraphMemory) -> Iterator[None]:
    """A retrieval's independent reads run one after another on the calling thread."""
    memory.backend.gather = lambda calls: [call() for call in calls]
    try:
        yield
    finally:
        del memory.backend.gather


def time_retrieve(memory: GraphMemory, texts: list[str]) -> dict:
    return pct([retrieve_ms(memory, q, i) for i, q in enumerate(texts)])


def engine_floor(memory: GraphMemory, texts: list[str]) -> dict:
    """The cheapest statement a retrieve cannot do without: one exact top-10 over one agent's
    episodes inside Kuzu. A retrieve runs this and more, so it bounds what any retrieval design on
    embedded Kuzu can reach against the numpy floor."""
    ms = []
    for i, q in enumerate(memory.embedder.embed(texts)):
        where = SearchFilter(agents=(AGENTS[i % len(AGENTS)],), valid_only=False)
        started = time.perf_counter()
        memory.store.vector_search("Episode", q, TOP_K, where)
        ms.append((time.perf_counter() - started) * 1000)
    return pct(ms)


def profile(memory: GraphMemory, texts: list[str]) -> dict:
    """Where retrieve time goes: every backend.execute timed under its call path, then cProfile's top 20."""
    backend, spent = memory.backend, defaultdict(lambda: [0, 0.0])
    original = backend.execute

    def timed_execute(cypher, params=None):
        frame, chain = sys._getframe(1), []
        while frame and not frame.f_code.co_filename.endswith("retrieval.py"):
            if not chain or chain[-1] != frame.f_code.co_name:
                chain.append(frame.f_code.co_name)
            frame = frame.f_back
        label = re.search(r"(?:\(\w*:|INDEX\(')(\w+)", cypher)
        key = " > ".join([frame.f_code.co_name if frame else "?", *reversed(chain)])
        key += f" [{label[1] if label and 'UNION' not in cypher else '*'}]"
        started = time.perf_counter()
        try:
            return original(cypher, params)
        finally:
            spent[key][0] += 1
            spent[key][1] += time.perf_counter() - started

    # Reads one after another, on this thread: a statement's time is then its own, and the call
    # path that ran it is on this thread's stack.
    backend.execute = timed_execute
    started = time.perf_counter()
    with reads_one_at_a_time(memory):
        time_retrieve(memory, texts)
    total, n = time.perf_counter() - started, len(texts)
    del backend.execute
    db = sum(s for _, s in spent.values())
    rows = {k: {"calls_per_query": c / n, "ms_per_query": s * 1000 / n, "share": s / total}
            for k, (c, s) in sorted(spent.items(), key=lambda kv: -kv[1][1])}
    print(f"\nwhere retrieve time goes ({n} queries, embedding cached, reads one at a time): {total * 1000 / n:.1f} ms/query, "
          f"{db / total:.0%} inside backend.execute, {sum(c for c, _ in spent.values()) / n:.0f} statements")
    for k, r in rows.items():
        print(f"  {r['ms_per_query']:7.2f} ms {r['share']:6.1%} {r['calls_per_query']:5.1f} calls  {k}")
    print(f"  {(total - db) * 1000 / n:7.2f} ms {(total - db) / total:6.1%}              python outside execute")
    profiler = cProfile.Profile()
    with reads_one_at_a_time(memory):
        profiler.runcall(time_retrieve, memory, texts)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(20)
    print(out.getvalue())
    return {"ms_per_query": total * 1000 / n, "statements": rows, "cprofile_top20": out.getvalue()}


def measure(size: int, spec: str, n_queries: int, hnsw: bool, do_profile: bool) -> dict:
    load_start = os.getloadavg()[0]
    sources = sorted(Path(alma_graph.__file__).parent.rglob("*.py"))
    fingerprint = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]  # others edit it
    episodes, memories = corpus(size)
    texts = [e["text"] for items in episodes.values() for e in items]
    texts += [MEMORY_TYPES[label].render_text(fields) for label, _, fields, _, _ in memories]
    qs = queries(WARMUP + 2 * n_queries, seed=size)
    warm, excluded, included = qs[:WARMUP], qs[WARMUP:WARMUP + n_queries], qs[WARMUP + n_queries:]
    r = STATE["result"]
    r |= {"size": size, "alma_graph_sources": fingerprint, "items": len(texts), "memories": len(memories),
          "episodes": len(texts) - len(memories), "distinct_text_share": len(set(texts)) / len(texts),
          "queries": n_queries}
    inner = make_embedder(spec).inner
    inner.embed(["load the model before any timing"])
    r["rss_after_model_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    work = STATE["work"] = Path(tempfile.mkdtemp(prefix=f"alma-scale-{size}-"))
    try:
        stage(size, f"ingest with embedding ({len(texts):,} items)")
        model = Recording(inner)
        seconds = ingest(work / "embedded", CachedEmbedder(model), episodes, memories)
        r["ingest_embed_items_s"], r["embedder_texts_s"] = len(texts) / seconds, len(model.vectors) / model.seconds
        r["ingest_vs_embedder"] = r["ingest_embed_items_s"] / r["embedder_texts_s"]
        shutil.rmtree(work / "embedded")
        stage(size, "ingest without embedding")
        seconds = ingest(work / "db", Precomputed(inner, model.vectors), episodes, memories)
        r["ingest_noembed_items_s"] = len(texts) / seconds
        r["disk_mb"] = sum(p.stat().st_blocks * 512 for p in (work / "db").rglob("*")) / 2**20

        stage(size, "indexes")
        url = f"kuzu://{work / 'db'}/memory.kuzu"
        memory = GraphMemory(url, embedder=make_embedder(spec))  # the default exact-vs-HNSW threshold
        started = time.perf_counter()
        r["refresh_indexes"] = memory.refresh_indexes() or "nothing to build"
        r["refresh_indexes_s"] = time.perf_counter() - started
        r["index_status"] = memory.backend.index_status()
        r["vector_search"] = "hnsw" if "hnsw" in r["index_status"]["Episode"] else "exact scan"
        started = time.perf_counter()
        memory.backend.execute(f"CALL DROP_FTS_INDEX('Episode', '{_fts_index('Episode')}')")
        memory.backend.execute(f"CALL CREATE_FTS_INDEX('Episode', '{_fts_index('Episode')}', ['text'])")
        r["fts_rebuild_episode_s"] = time.perf_counter() - started

        stage(size, f"retrieve ({n_queries} queries twice)")
        time_retrieve(memory, warm)
        memory.embedder.embed(excluded)
        before = rss_gb()
        pairs = [(retrieve_ms(memory, a, i), retrieve_ms(memory, b, i))
                 for i, (a, b) in enumerate(zip(excluded, included))]
        r["rss_growth_per_retrieve_kb"] = (rss_gb() - before) * 2**20 / len(pairs) / 2
        r["retrieve_excluded_ms"], r["retrieve_included_ms"] = (pct([p[j] for p in pairs]) for j in (0, 1))
        # Every vector the database holds (an episode's embeds its text with the turn before it).
        matrix, ms = np.stack(list(model.vectors.values())), []
        for q in memory.embedder.embed(excluded):
            started = time.perf_counter()
            scores = matrix @ q
            top = np.argpartition(-scores, TOP_K)[:TOP_K]
            top[np.argsort(-scores[top])]
            ms.append((time.perf_counter() - started) * 1000)
        r["numpy_ms"] = pct(ms)
        r["retrieve_vs_numpy_p95"] = r["retrieve_excluded_ms"]["p95"] / r["numpy_ms"]["p95"]
        r["kuzu_vector_ms"] = engine_floor(memory, excluded)
        r["kuzu_vector_vs_numpy_p95"] = r["kuzu_vector_ms"]["p95"] / r["numpy_ms"]["p95"]
        with reads_one_at_a_time(memory):
            r["retrieve_one_at_a_time_ms"] = time_retrieve(memory, excluded)
        if do_profile:
            stage(size, "profile")
            r["profile"] = profile(memory, excluded[:100])

        stage(size, "append sessions")
        base = episodes[AGENTS[0]][:SESSION_TURNS]
        live = [[{**e, "text": f"{e['text']} (follow-up {k})", "session": f"live{k}"} for e in base] for k in range(5)]
        # What remember_many embeds: each turn with the one before it (store.episode_contexts), and its words.
        turns = [e for session in live for e in session]
        memory.embedder.embed(episode_contexts([EpisodeInput(e["text"], e["session"], 0) for e in turns], {}))
        memory.embedder.embed(sorted({word for e in turns for word in concepts(e["text"])}))
        ms = []
        for session in live:
            started = time.perf_counter()
            memory.remember_many(AGENTS[0], session)
            ms.append((time.perf_counter() - started) * 1000)
        r["session_append_ms"] = pct(ms)
        memory.close()
        if hnsw:
            stage(size, "HNSW build over every label")
            memory = GraphMemory(url, embedder=make_embedder(spec), vector_index_min_rows=1)
            started = time.perf_counter()
            memory.refresh_indexes()
            r["hnsw_build_s"] = time.perf_counter() - started
            time_retrieve(memory, warm)
            memory.embedder.embed(excluded)
            r["hnsw_retrieve_excluded_ms"] = time_retrieve(memory, excluded)
            memory.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    r["loadavg_1min"] = [load_start, os.getloadavg()[0]]
    return r


def targets(runs: list[dict]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, goal, met) for every target the measured sizes speak to."""
    out = []
    for r in runs:
        n = f"{r['size']:,}"
        if "retrieve_vs_numpy_p95" in r and r["size"] in (10_000, 100_000):
            out.append((f"retrieve p95 (embedding excluded) / numpy p95 at {n}", r["retrieve_vs_numpy_p95"],
                        "<= 3", r["retrieve_vs_numpy_p95"] <= 3))
        if "ingest_vs_embedder" in r:
            out.append((f"ingest with embedding / embedder throughput at {n}", r["ingest_vs_embedder"], ">= 0.80",
                        r["ingest_vs_embedder"] >= 0.8))
        if "retrieve_included_ms" in r and r["size"] == 100_000:
            p95 = r["retrieve_included_ms"]["p95"]
            out.append((f"retrieve p95 (embedding included) at {n}, ms", p95, "< 50", p95 < 50))
    return out


def print_table(report: dict) -> None:
    def p(key, fmt="{:.1f}"):
        return lambda r: " / ".join(fmt.format(r[key][q]) for q in ("p50", "p95"))

    rows = [
        ("items (episodes + memories)", lambda r: f"{r['episodes']:,}+{r['memories']:,}"),
        ("ingest with embedding, items/s", lambda r: f"{r['ingest_embed_items_s']:.0f}"),
        ("embedder alone, texts/s", lambda r: f"{r['embedder_texts_s']:.0f}"),
        ("  ingest / embedder (>= 0.80)", lambda r: f"{r['ingest_vs_embedder']:.2f}"),
        ("ingest without embedding, items/s", lambda r: f"{r['ingest_noembed_items_s']:.0f}"),
        ("retrieve p50 / p95, emb. excluded, ms", p("retrieve_excluded_ms")),
        ("retrieve p50 / p95, emb. included, ms", p("retrieve_included_ms")),
        ("  reads one at a time, emb. excluded, ms", p("retrieve_one_at_a_time_ms")),
        ("numpy exact top-10 p50 / p95, ms", p("numpy_ms", "{:.2f}")),
        ("  retrieve p95 / numpy p95 (<= 3)", lambda r: f"{r['retrieve_vs_numpy_p95']:.0f}x"),
        ("one Kuzu exact top-10 p50 / p95, ms", p("kuzu_vector_ms", "{:.2f}")),
        ("  Kuzu statement p95 / numpy p95", lambda r: f"{r['kuzu_vector_vs_numpy_p95']:.1f}x"),
        ("  retrieve p95 / Kuzu statement p95",
         lambda r: f"{r['retrieve_excluded_ms']['p95'] / r['kuzu_vector_ms']['p95']:.1f}x"),
        ("append a 20-turn session p50 / p95, ms", p("session_append_ms", "{:.0f}")),
        ("vector search chosen (Episode)", lambda r: r["vector_search"]),
        ("refresh_indexes(), s", lambda r: f"{r['refresh_indexes_s']:.2f}"),
        ("Episode full-text rebuild, s", lambda r: f"{r['fts_rebuild_episode_s']:.2f}"),
        ("HNSW build (all labels), s", lambda r: f"{r['hnsw_build_s']:.1f}"),
        ("HNSW retrieve p50 / p95, ms", p("hnsw_retrieve_excluded_ms")),
        ("database on disk, MB", lambda r: f"{r['disk_mb']:.0f}"),
        ("RSS growth per retrieve, KB", lambda r: f"{r['rss_growth_per_retrieve_kb']:.0f}"),
        ("peak RSS (after model load), MB", lambda r: f"{r['peak_rss_mb']:.0f} ({r['rss_after_model_mb']:.0f})"),
        ("load average (start, end)", lambda r: "{:.1f}, {:.1f}".format(*r["loadavg_1min"])),
    ]
    runs = report["runs"]
    print(f"\nalma-graph at scale: embedder {report['embedder']}, {report['queries']} queries per latency "
          f"figure, top {TOP_K}, {report['cores']} cores")
    print(f"{'':<40}" + "".join(f"{r['size']:>18,}" for r in runs))
    for name, cell in rows:
        cells = []
        for r in runs:
            try:
                cells.append(cell(r))
            except KeyError:
                cells.append("-")
        print(f"{name:<40}" + "".join(f"{c:>18}" for c in cells))
    for r in runs:
        print(f"{r['size']:,}: alma_graph sources {r.get('alma_graph_sources', '?')}; {r.get('error', 'complete')}")
    print("\ntargets:")
    for what, value, goal, met in targets(runs):
        print(f"  {'PASS' if met else 'MISS'}  {what}: {value:.2f} (target {goal})")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for key, label, color in [("retrieve_excluded_ms", "alma-graph, embedding excluded", "C0"),
                              ("retrieve_included_ms", "alma-graph, embedding included", "C1"),
                              ("hnsw_retrieve_excluded_ms", "alma-graph on HNSW, excluded", "C3"),
                              ("numpy_ms", "numpy exact top-10 (floor)", "C2")]:
        points = [(r["size"], r[key]) for r in report["runs"] if key in r]
        for q, style in (("p50", "o-"), ("p95", "s--")) if points else ():
            ax.plot([x for x, _ in points], [p[q] for _, p in points], style, color=color, label=f"{label} {q}")
    ax.axhline(50, color="grey", lw=0.8, ls=":", label="50 ms")
    sizes = [r["size"] for r in report["runs"] if "retrieve_excluded_ms" in r]
    ax.set(xscale="log", yscale="log", xlabel="items in the store", ylabel="ms per query",
           title=f"retrieve latency vs size ({report['embedder']}, {report['cores']} cores)")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # `--sizes --merge F.json` measures nothing and prints F's table again.
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000])
    parser.add_argument("--million", action="store_true", help="add the 1,000,000 size (long)")
    parser.add_argument("--million-size", type=int, default=1_000_000, help=argparse.SUPPRESS)  # smoke tests
    parser.add_argument("--embedder", default="local", help="local | hashing[:dim]")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hnsw", action="store_true", help="also build HNSW over every label, time retrieve on it")
    parser.add_argument("--profile", action="store_true", help="print where retrieve time goes, per size")
    parser.add_argument("--max-rss-gb", type=float, default=8.0, help="end a size whose RSS passes this")
    parser.add_argument("--merge", nargs="*", default=[], help="earlier --json reports whose other sizes to include")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--png", help="write a latency-vs-size plot to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        guard(args.child, args.max_rss_gb, args.child_out)
        result = measure(args.child, args.embedder, args.queries, args.hnsw, args.profile)
        Path(args.child_out).write_text(json.dumps(result))
        return 0

    runs = {r["size"]: r for path in args.merge for r in json.loads(Path(path).read_text())["runs"]}
    for size in sorted(set(args.sizes + ([args.million_size] if args.million else []))):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            flags = {"--hnsw": args.hnsw, "--profile": args.profile}
            command = [sys.executable, __file__, "--child", str(size), "--child-out", out.name, "--embedder",
                       args.embedder, "--queries", str(args.queries), "--max-rss-gb", str(args.max_rss_gb)]
            # numpy on one thread: on 2 busy cores its BLAS threads wait on each other (10k: p95 0.4 -> 8 ms)
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
            code = subprocess.run(command + [f for f, on in flags.items() if on], env=env).returncode
            text = Path(out.name).read_text()
            runs[size] = json.loads(text) if text else {"size": size, "error": f"child exited with {code}"}
    report = {"embedder": make_embedder(args.embedder).name, "queries": args.queries, "cores": os.cpu_count(),
              "runs": [runs[s] for s in sorted(runs)]}
    report["targets"] = [{"what": w, "value": v, "goal": g, "met": m} for w, v, g, m in targets(report["runs"])]
    print_table(report)
    report_files.write(report, args.json, args.png, plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
