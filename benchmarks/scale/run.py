"""Scale: ingest throughput, retrieve latency, index build, disk and peak memory from 1k to 1M items.

    .venv/bin/python benchmarks/scale/run.py --sizes 1000 10000 --json benchmarks/results/scale.json \
        --png benchmarks/results/scale.png [--profile] [--hnsw] [--merge earlier.json]

The corpus is generated English: sessions of ~20 turns (users, the agent, tool output) about one
incident each, over 8 agents and 12 domains, plus 10% typed memories (outcomes, domain facts,
heuristics, preferences, anti-patterns) derived from those episodes. Each size runs in a child
process, so its peak RSS is its own. Per size:

- ingest with embedding: a fresh database, episodes through `remember_many` (2,000 turns a call),
  typed memories through `load_memories` below, which writes rows and edges exactly as
  `GraphStore.create_memory` does, one transaction per (agent, type) batch. The embedder's raw
  throughput is the time spent inside the model on those same texts in those same batches (timed
  around the inner embedder), so one model pass gives both figures and the vectors reused below.
- ingest without embedding: a second fresh database, same items, vectors served from memory.
- indexes: reopened with the default exact-vs-HNSW threshold, `refresh_indexes()` timed, what it
  chose reported; one Episode full-text rebuild timed (the ingest pays one per batch commit).
  Bulk loads run with the HNSW threshold out of reach: crossing it mid-load would build the index
  and then pay Kuzu's per-row index insert for every later batch. `--hnsw` also builds HNSW over
  every label and measures retrieve on it.
- retrieve, top 10 over all types, one agent per query: p50/p95 with the query embedding excluded
  (the cache warmed with the same texts) and included (texts never embedded before), after 20
  warm-up queries. Floor: exact top-10 over all the same vectors in numpy (matrix @ q, argpartition).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from alma_graph import GraphMemory, MemoryScope
from alma_graph.backends.kuzu import _fts_index
from alma_graph.embed import CachedEmbedder, Embedder, make_embedder
from alma_graph.model import MEMORY_TYPES
from alma_graph.schema import node_kind
from alma_graph.store import new_id
from alma_graph.validation import now_ms

AGENTS = ["support", "devops", "billing-bot", "sre", "data-eng", "frontend", "security", "onboarding"]
SESSION_TURNS, EPISODE_BATCH, TOP_K, WARMUP = 20, 2000, 10, 20  # EPISODE_BATCH: also the memory batch
MIX = {"Outcome": 0.04, "DomainKnowledge": 0.025, "Heuristic": 0.015, "UserPreference": 0.01, "AntiPattern": 0.01}
NO_HNSW = 10**15  # a vector_index_min_rows no table reaches
V = {
    "domain": "billing auth search payments checkout notifications analytics inventory shipping onboarding reporting recommendations".split(),
    "component": ["API gateway", "Postgres replica", "Redis cache", "Kafka consumer", "nightly ETL job", "React frontend",
                  "iOS app", "CI pipeline", "Terraform module", "Helm chart", "cron scheduler", "S3 bucket policy",
                  "GraphQL resolver", "login page", "webhook handler", "rate limiter", "feature flag service", "search index"],
    "task": ["deploy", "debug", "migrate", "refactor", "profile", "roll back", "upgrade", "document", "monitor",
             "load-test", "patch", "review", "benchmark", "configure", "reindex"],
    "problem": ["times out after 30 seconds", "returns 502 errors", "leaks memory under load", "drops messages",
                "is slow for large accounts", "fails the health check", "double-charges some customers",
                "loses the session cookie", "logs a null pointer exception", "runs out of disk", "hangs during startup",
                "shows stale prices", "rejects valid tokens", "sends duplicate emails"],
    "cause": ["a missing index", "an expired certificate", "a race condition", "a wrong environment variable",
              "a connection pool that is too small", "an N+1 query", "a stale cache entry", "a timezone bug",
              "a retry storm", "an unbounded queue", "a schema drift", "a noisy neighbour on the node"],
    "fix": ["add an index on the lookup column", "rotate the certificate", "take a lock around the update",
            "fix the config and redeploy", "raise the pool size to {n}", "batch the queries", "invalidate the cache on write",
            "store every time in UTC", "add exponential backoff with jitter", "cap the queue at {n} items",
            "pin the dependency version", "move the job off the shared node"],
    "tool": ["kubectl", "pytest", "terraform plan", "git bisect", "grep", "psql", "curl", "the profiler", "Datadog",
             "Sentry", "the load tester", "strace", "EXPLAIN ANALYZE", "docker compose", "the flag console"],
    "person": "Dana Omar Priya Lukas Mei Carlos Aisha Tom Ingrid Kenji Sofia Ravi".split(),
    "when": ["yesterday", "last Tuesday", "the 3.2 release", "this morning", "the holiday sale", "the database upgrade",
             "the region failover", "Monday's deploy"],
    "category": ["tone", "format", "language", "schedule", "review"],
    "preference": ["short answers", "detailed explanations", "bullet points", "code first", "tables for comparisons",
                   "links to the docs", "Python examples", "TypeScript examples", "no meetings before 10am",
                   "updates on Fridays", "small pull requests", "tests before merge"],
    "result": ["{n} failing requests in the last hour", "p99 latency of {n} ms", "{n} rows touched",
               "{n} errors, all from the same pod", "exit code {m}", "{n} MB of heap in use", "{m} retries per call"],
}
TURNS = [
    "{person}: can you {task} the {component} for {domain}? It {problem} since {when}. Ticket {ticket}.",
    "Agent: I will {task} the {component} first and check it with {tool} before {clock}.",
    "Tool {tool}: {result} on the {domain} {component}.",
    "Agent: after {n} log lines the root cause looks like {cause} in the {component}; I suggest we {fix}.",
    "{person}: the {domain} team says the {component} {problem} again, ticket {ticket}.",
    "{person}: thanks. Please keep the summary to {preference}; I will read it at {clock}.",
    "Agent: done, {fix} is rolled out to {domain}; {tool} now shows {result}.",
    "{person}: did {when} change anything in the {component}? We see {result}.",
    "Agent: at {clock} {tool} shows {result}; that rules out {cause}.",
]
QUERIES = [
    "what to do when the {domain} {component} {problem}?", "how did we fix {cause} in the {component}?",
    "what does {person} prefer for {category}?", "which tool found the {domain} {component} issue?",
    "{task} {component} {domain}", "what went wrong with the {component} after {when}?",
    "is it safe to {task} the {component} without a backup?", "facts about the {domain} {component}",
]


class Slots(dict):
    """Template slots: fixed ones (a session's topic) plus random picks, the same within one text."""

    def __init__(self, rng: random.Random, fixed: dict | None = None):
        super().__init__(fixed or {})
        self.rng = rng

    def __missing__(self, key):
        r = self.rng
        value = {"n": lambda: str(r.randint(2, 5000)), "m": lambda: str(r.randint(1, 9)),
                 "ticket": lambda: f"#{r.randint(1000, 99999)}",
                 "clock": lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"}.get(key, lambda: r.choice(V[key]))()
        self[key] = value
        return value

    def fill(self, template: str) -> str:
        text = template.format_map(self)
        return text.format_map(self) if "{" in text else text


def corpus(size: int, seed: int = 7):
    """(episodes by agent: remember_many dicts; memories: (label, agent, fields, valid_from_ms, source indices))."""
    rng = random.Random(seed)
    now_s = time.time()
    n_memories = round(size * sum(MIX.values()))
    episodes: dict[str, list[dict]] = defaultdict(list)
    for s in range((size - n_memories + SESSION_TURNS - 1) // SESSION_TURNS):
        agent, session = AGENTS[s % len(AGENTS)], f"s{s}"
        topic = {k: rng.choice(V[k]) for k in ("domain", "component", "problem", "cause", "fix", "person")}
        start = now_s - rng.uniform(0, 180 * 86400)
        for i in range(min(SESSION_TURNS, size - n_memories - s * SESSION_TURNS)):
            episodes[agent].append({"text": Slots(rng, topic).fill(rng.choice(TURNS)), "session": session,
                                    "timestamp": start + 60 * i, "source_id": f"{session}#{i}"})
    memories = []
    for label, share in MIX.items():
        for _ in range(round(size * share)):
            agent, s = rng.choice(AGENTS), Slots(rng)
            n_eps = len(episodes[agent])
            sources = sorted({rng.randrange(n_eps) for _ in range(rng.randint(1, 2))}) if n_eps else []
            ok = rng.random() < 0.7
            fields = {
                "Outcome": lambda: {"task": s.fill("{task} the {component} for {domain}"), "task_type": s.fill("{task}"),
                                    "success": ok, "strategy_used": s.fill("{fix}"),
                                    "duration_ms": float(rng.randint(100, 90000)), "error": None if ok else s.fill("it {problem}")},
                "DomainKnowledge": lambda: {"domain": s.fill("{domain}"), "source": None, "fact": s.fill(rng.choice([
                    "the {component} is owned by {person} and {problem} when {cause} happens",
                    "the {component} allows at most {n} connections per pod", "use {tool} to inspect the {component}"]))},
                "Heuristic": lambda: {"condition": s.fill("{task} {component} in {domain}"), "strategy": s.fill("{fix}"),
                                      "occurrence_count": rng.randint(3, 20), "success_count": rng.randint(2, 3)},
                "UserPreference": lambda: {"user": s.fill("{person}"), "category": s.fill("{category}"),
                                           "preference": s.fill("{preference}"), "source": None},
                "AntiPattern": lambda: {"pattern": s.fill("{task} the {component} on a Friday without {tool}"),
                                        "why_bad": s.fill("it {problem}"), "better_alternative": s.fill("{fix}"),
                                        "occurrence_count": rng.randint(2, 9)},
            }[label]()
            memories.append((label, agent, fields, int((now_s - rng.uniform(0, 180 * 86400)) * 1000), sources))
    return dict(episodes), memories


def queries(n: int, seed: int) -> list[str]:
    rng, out = random.Random(seed), {}
    while len(out) < n:
        out.setdefault(Slots(rng).fill(rng.choice(QUERIES)), None)
    return list(out)


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
    """Typed memories in bulk, as `GraphStore.create_memory` writes one: the same row (own fields, rendered
    text, embedding, times, confidence, importance, counters, metadata JSON), a LEARNED edge from the agent and
    DERIVED_FROM edges to its episodes, in one transaction per batch of one type (any agents: each commit
    rebuilds the type's full-text index). Supersession is not exercised."""
    store, backend = memory.store, memory.backend
    groups = defaultdict(list)
    for m in memories:
        groups[m[0]].append(m)
    for label, items in groups.items():
        for start in range(0, len(items), EPISODE_BATCH):
            chunk = items[start:start + EPISODE_BATCH]
            texts = [MEMORY_TYPES[label].render_text(fields) for _, _, fields, _, _ in chunk]
            vectors = store.embed(texts)
            now = now_ms()
            edge = {"at": now, "reason": "explicit"}
            rows, learned, derived = [], [], []
            for (_, agent, fields, valid_from, sources), text, vector in zip(chunk, texts, vectors):
                mid = new_id(label.lower()[:4])
                rows.append({**fields, "id": mid, "agent": agent, "text": text, "embedding": vector,
                             "created_at": now, "updated_at": now, "valid_from": valid_from, "valid_to": None,
                             "confidence": 0.5, "importance": 0.5, "access_count": 0, "last_access": None,
                             "metadata": "{}"})
                learned.append((agent, mid, edge))
                derived += [(mid, episode_ids[agent][i], edge) for i in sources]
            with backend.transaction():
                backend.create_nodes(node_kind(label), rows)
                backend.create_edges("LEARNED", "Agent", label, learned)
                backend.create_edges("DERIVED_FROM", label, "Episode", derived)


def ingest(folder: Path, embedder: Embedder, episodes: dict, memories: list) -> float:
    """Seconds to write every episode and memory into a fresh database (agents registered untimed)."""
    memory = GraphMemory(f"kuzu://{folder}/memory.kuzu", embedder=embedder, vector_index_min_rows=NO_HNSW)
    for agent in AGENTS:
        memory.register_agent(MemoryScope(agent=agent))
    started = time.perf_counter()
    ids: dict[str, list[str]] = {}
    for agent, items in episodes.items():
        ids[agent] = [e.id for start in range(0, len(items), EPISODE_BATCH)
                      for e in memory.remember_many(agent, items[start:start + EPISODE_BATCH])]
    load_memories(memory, memories, ids)
    seconds = time.perf_counter() - started
    memory.close()
    return seconds


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file()) / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def pct(values: list[float]) -> dict:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95))}


def retrieve_ms(memory: GraphMemory, query: str, i: int) -> float:
    started = time.perf_counter()
    memory.retrieve(query, AGENTS[i % len(AGENTS)], top_k=TOP_K)
    return (time.perf_counter() - started) * 1000


def time_retrieve(memory: GraphMemory, texts: list[str]) -> dict:
    return pct([retrieve_ms(memory, q, i) for i, q in enumerate(texts)])


def profile(memory: GraphMemory, texts: list[str]) -> dict:
    """Where retrieve time goes: every backend.execute timed by its call path, then cProfile."""
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

    backend.execute = timed_execute
    started = time.perf_counter()
    time_retrieve(memory, texts)
    total = time.perf_counter() - started
    del backend.execute
    n = len(texts)
    rows = {k: {"calls_per_query": c / n, "ms_per_query": s * 1000 / n, "share": s / total}
            for k, (c, s) in sorted(spent.items(), key=lambda kv: -kv[1][1])}
    db = sum(s for _, s in spent.values())
    print(f"\nwhere retrieve time goes ({n} queries, embedding cached): {total * 1000 / n:.1f} ms/query, "
          f"{db / total:.0%} inside backend.execute")
    for k, r in rows.items():
        print(f"  {r['ms_per_query']:7.2f} ms {r['share']:5.1%} {r['calls_per_query']:5.1f} calls  {k}")
    print(f"  {(total - db) * 1000 / n:7.2f} ms {(total - db) / total:5.1%}             python outside execute")
    profiler = cProfile.Profile()
    profiler.runcall(time_retrieve, memory, texts)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(20)
    print(out.getvalue())
    return {"ms_per_query": total * 1000 / n, "statements": rows, "python_ms_per_query": (total - db) * 1000 / n,
            "cprofile_top20": out.getvalue()}


def measure(size: int, spec: str, n_queries: int, hnsw: bool, do_profile: bool) -> dict:
    load_start = os.getloadavg()[0]
    episodes, memories = corpus(size)
    n_items = sum(map(len, episodes.values())) + len(memories)
    texts = [e["text"] for items in episodes.values() for e in items] + [
        MEMORY_TYPES[label].render_text(fields) for label, _, fields, _, _ in memories]
    qs = queries(WARMUP + 2 * n_queries, seed=size)
    warm, excluded, included = qs[:WARMUP], qs[WARMUP:WARMUP + n_queries], qs[WARMUP + n_queries:]
    r = {"size": size, "items": n_items, "episodes": n_items - len(memories), "memories": len(memories),
         "distinct_text_share": len(set(texts)) / len(texts), "queries": n_queries}
    inner = make_embedder(spec).inner
    inner.embed(["load the model before any timing"])
    r["rss_after_model_mb"] = peak_rss_mb()
    work = Path(tempfile.mkdtemp(prefix=f"alma-scale-{size}-"))
    try:
        print(f"[{size}] ingest with embedding ({n_items} items)...", flush=True)
        model = Recording(inner)
        seconds = ingest(work / "embedded", CachedEmbedder(model), episodes, memories)
        r["ingest_embed_items_s"] = n_items / seconds
        r["embedder_texts_s"] = len(model.vectors) / model.seconds
        r["ingest_vs_embedder"] = r["ingest_embed_items_s"] / r["embedder_texts_s"]
        shutil.rmtree(work / "embedded")
        print(f"[{size}] ingest without embedding...", flush=True)
        seconds = ingest(work / "db", Precomputed(inner, model.vectors), episodes, memories)
        r["ingest_noembed_items_s"] = n_items / seconds
        r["disk_mb"] = disk_mb(work / "db")

        url = f"kuzu://{work / 'db'}/memory.kuzu"
        memory = GraphMemory(url, embedder=make_embedder(spec))  # the default exact-vs-HNSW threshold
        started = time.perf_counter()
        r["refresh_indexes"] = memory.refresh_indexes() or "nothing to build"
        r["refresh_indexes_s"] = time.perf_counter() - started
        r["index_status"] = memory.backend.index_status()
        r["vector_search"] = "hnsw" if "hnsw" in r["index_status"]["Episode"] else "exact scan"
        fts = _fts_index("Episode")
        started = time.perf_counter()
        memory.backend.execute(f"CALL DROP_FTS_INDEX('Episode', '{fts}')")
        memory.backend.execute(f"CALL CREATE_FTS_INDEX('Episode', '{fts}', ['text'])")
        r["fts_rebuild_episode_s"] = time.perf_counter() - started

        print(f"[{size}] retrieve ({n_queries} queries twice)...", flush=True)
        time_retrieve(memory, warm)
        memory.embedder.embed(excluded)
        pairs = [(retrieve_ms(memory, a, i), retrieve_ms(memory, b, i)) for i, (a, b) in enumerate(zip(excluded, included))]
        r["retrieve_excluded_ms"], r["retrieve_included_ms"] = (pct([p[j] for p in pairs]) for j in (0, 1))
        matrix = np.stack([model.vectors[t] for t in texts])
        ms = []
        for q in memory.embedder.embed(excluded):
            started = time.perf_counter()
            scores = matrix @ q
            top = np.argpartition(-scores, TOP_K)[:TOP_K]
            top[np.argsort(-scores[top])]
            ms.append((time.perf_counter() - started) * 1000)
        r["numpy_ms"] = pct(ms)
        r["retrieve_vs_numpy_p95"] = r["retrieve_excluded_ms"]["p95"] / r["numpy_ms"]["p95"]
        if do_profile:
            r["profile"] = profile(memory, excluded)
        # A live agent's write into the loaded store: one 20-turn session per remember_many, embedding cached.
        base = episodes[AGENTS[0]][:SESSION_TURNS]
        live = [[{**e, "text": f"{e['text']} (follow-up {k})", "session": f"live{k}"} for e in base] for k in range(5)]
        memory.embedder.embed([e["text"] for session in live for e in session])
        ms = []
        for session in live:
            started = time.perf_counter()
            memory.remember_many(AGENTS[0], session)
            ms.append((time.perf_counter() - started) * 1000)
        r["session_append_ms"] = pct(ms)
        memory.close()
        if hnsw:
            print(f"[{size}] building HNSW over every label...", flush=True)
            memory = GraphMemory(url, embedder=make_embedder(spec), vector_index_min_rows=1)
            started = time.perf_counter()
            memory.refresh_indexes()
            r["hnsw_build_s"] = time.perf_counter() - started
            time_retrieve(memory, warm)
            memory.embedder.embed(excluded)
            r["hnsw_retrieve_excluded_ms"] = time_retrieve(memory, excluded)
            memory.close()
            r["disk_hnsw_mb"] = disk_mb(work / "db")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r["peak_rss_mb"] = peak_rss_mb()
    r["loadavg_1min"] = [load_start, os.getloadavg()[0]]
    return r


def targets(runs: list[dict]) -> list[tuple[str, float, str, bool]]:
    """(what, measured, goal, met) for every target the measured sizes speak to."""
    out = []
    for r in runs:
        n = f"{r['size']:,}"
        if r["size"] in (10_000, 100_000):
            out.append((f"retrieve p95 (embedding excluded) / numpy p95 at {n}", r["retrieve_vs_numpy_p95"], "<= 3x",
                        r["retrieve_vs_numpy_p95"] <= 3))
        out.append((f"ingest with embedding / embedder throughput at {n}", r["ingest_vs_embedder"], ">= 0.80",
                    r["ingest_vs_embedder"] >= 0.8))
        if r["size"] == 100_000:
            p95 = r["retrieve_included_ms"]["p95"]
            out.append((f"retrieve p95 (embedding included) at {n}, ms", p95, "< 50", p95 < 50))
    return out


def print_table(report: dict) -> None:
    runs = report["runs"]
    rows = [
        ("items (episodes + memories)", lambda r: f"{r['episodes']:,}+{r['memories']:,}"),
        ("ingest with embedding, items/s", lambda r: f"{r['ingest_embed_items_s']:.0f}"),
        ("embedder alone, texts/s", lambda r: f"{r['embedder_texts_s']:.0f}"),
        ("  ratio (target >= 0.80)", lambda r: f"{r['ingest_vs_embedder']:.2f}"),
        ("ingest without embedding, items/s", lambda r: f"{r['ingest_noembed_items_s']:.0f}"),
        ("retrieve p50 / p95, emb. excluded, ms", lambda r: "{p50:.1f} / {p95:.1f}".format(**r["retrieve_excluded_ms"])),
        ("retrieve p50 / p95, emb. included, ms", lambda r: "{p50:.1f} / {p95:.1f}".format(**r["retrieve_included_ms"])),
        ("numpy exact top-10 p50 / p95, ms", lambda r: "{p50:.2f} / {p95:.2f}".format(**r["numpy_ms"])),
        ("  retrieve p95 / numpy p95", lambda r: f"{r['retrieve_vs_numpy_p95']:.0f}x"),
        ("append a 20-turn session p50, ms", lambda r: f"{r['session_append_ms']['p50']:.0f}"),
        ("vector search chosen (Episode)", lambda r: r["vector_search"]),
        ("refresh_indexes(), s", lambda r: f"{r['refresh_indexes_s']:.2f}"),
        ("Episode full-text rebuild, s", lambda r: f"{r['fts_rebuild_episode_s']:.2f}"),
        ("HNSW build (all labels), s", lambda r: f"{r['hnsw_build_s']:.1f}" if "hnsw_build_s" in r else "-"),
        ("HNSW retrieve p50 / p95, ms", lambda r: "{p50:.1f} / {p95:.1f}".format(**r["hnsw_retrieve_excluded_ms"])
         if "hnsw_retrieve_excluded_ms" in r else "-"),
        ("database on disk, MB", lambda r: f"{r['disk_mb']:.0f}"),
        ("peak RSS (model loaded: x), MB", lambda r: f"{r['peak_rss_mb']:.0f} ({r['rss_after_model_mb']:.0f})"),
        ("load average (start, end)", lambda r: "{:.1f}, {:.1f}".format(*r["loadavg_1min"])),
    ]
    print(f"\nalma-graph at scale: embedder {report['embedder']}, {report['queries']} queries per latency figure, "
          f"top {TOP_K}, {os.cpu_count()} cores")
    print(f"{'':<40}" + "".join(f"{r['size']:>18,}" for r in runs))
    for name, cell in rows:
        print(f"{name:<40}" + "".join(f"{cell(r):>18}" for r in runs))
    print("\ntargets:")
    for what, value, goal, met in targets(runs):
        print(f"  {'PASS' if met else 'MISS'}  {what}: {value:.2f} (target {goal})")


def plot(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = report["runs"]
    sizes = [r["size"] for r in runs]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label, style in [("retrieve_excluded_ms", "alma-graph, embedding excluded", "C0"),
                              ("retrieve_included_ms", "alma-graph, embedding included", "C1"),
                              ("hnsw_retrieve_excluded_ms", "alma-graph on HNSW, excluded", "C3"),
                              ("numpy_ms", "numpy exact top-10 (floor)", "C2")]:
        points = [(r["size"], r[key]) for r in runs if key in r]
        if not points:
            continue
        xs = [x for x, _ in points]
        ax.plot(xs, [p["p50"] for _, p in points], "o-", color=style, label=f"{label} p50")
        ax.plot(xs, [p["p95"] for _, p in points], "s--", color=style, label=f"{label} p95")
    ax.axhline(50, color="grey", lw=0.8, ls=":", label="50 ms")
    ax.set(xscale="log", yscale="log", xlabel="items in the store", ylabel="ms per query", xticks=sizes,
           title=f"retrieve latency vs size ({report['embedder']})")
    ax.set_xticklabels([f"{s:,}" for s in sizes])
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--million", action="store_true", help="add the 1,000,000 size (long)")
    parser.add_argument("--million-size", type=int, default=1_000_000, help=argparse.SUPPRESS)  # smoke tests
    parser.add_argument("--embedder", default="local", help="local | hashing[:dim]")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hnsw", action="store_true", help="also build HNSW over every label and time retrieve on it")
    parser.add_argument("--profile", action="store_true", help="print where retrieve time goes, per size")
    parser.add_argument("--merge", nargs="*", default=[], help="earlier --json reports whose other sizes to include")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--png", help="write a latency-vs-size plot to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        result = measure(args.child, args.embedder, args.queries, args.hnsw, args.profile)
        Path(args.child_out).write_text(json.dumps(result))
        return 0

    sizes = sorted(set(args.sizes + ([args.million_size] if args.million else [])))
    runs = {}
    for path in args.merge:
        runs.update({r["size"]: r for r in json.loads(Path(path).read_text())["runs"]})
    for size in sizes:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [sys.executable, __file__, "--child", str(size), "--child-out", out.name,
                       "--embedder", args.embedder, "--queries", str(args.queries)]
            command += ["--hnsw"] * args.hnsw + ["--profile"] * args.profile
            subprocess.run(command, check=True)
            runs[size] = json.loads(Path(out.name).read_text())
    report = {"embedder": make_embedder(args.embedder).name, "queries": args.queries, "cores": os.cpu_count(),
              "runs": [runs[s] for s in sorted(runs)]}
    report["targets"] = [{"what": w, "value": v, "goal": g, "met": m} for w, v, g, m in targets(report["runs"])]
    print_table(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.png:
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        plot(report, args.png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
