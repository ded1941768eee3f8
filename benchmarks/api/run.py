"""The GraphQL API under load: requests/s and latency of one retrieval query, 1 to 32 concurrent clients.

    .venv/bin/python benchmarks/api/run.py [--items 10000] [--embedder local|hashing] [--clients 1 8 32] \
        [--seconds 20] [--json F] [--png F]

The data is the scale benchmark's corpus (benchmarks/scale/corpus.py: 8 agents, 90% episodes in 20-turn sessions,
10% typed memories), loaded into a fresh embedded Kuzu database as that benchmark loads it (episodes by
`remember_many`, typed memories by `GraphStore.create_memories`). One API key is created per agent, then a real
`alma-graph serve` runs in a subprocess (tests/api_server.py) and answers

    query($q: String!) { memories(query: $q, topK: 10) { score item { id text } } }

Every request asks a question no earlier request of the run asked (the corpus's ~7,400 distinct questions in turn,
then the same with a pass number), so the query embedding is always computed: with `--embedder local` (the
default, all-MiniLM-L6-v2) that is the realistic cost of a retrieval; `hashing` makes a quick run.
- in-process baseline: `GraphMemory.retrieve` on the same database, one thread, new questions, for the same
  duration in all: half before the server starts and half after it stops (embedded Kuzu admits one process), so
  a machine that got busier or quieter meanwhile shows in the two halves. What the API adds is the difference.
- per concurrency level: that many clients, each its own keep-alive HTTP connection (one httpx AsyncClient each,
  all on one event loop in this process) and its agent's key. Each client sends one untimed request to open its
  connection, then every client asks, waits for the answer and asks again until --seconds have passed; requests/s
  is the answers received over the time until the last client finished. An error is a transport failure, a
  status other than 200, or a GraphQL `errors` entry; their messages are kept, with whatever the server logged
  meanwhile (it runs with --log-level warning: past its startup, its log holds only problems).
- HTTP floor: `{ viewer { agent } }` (authenticated, touches no database), 200 times on one connection after the
  warm-up: what HTTP, GraphQL and the key check cost without retrieval.
- CPU (from /proc): the server's user+system CPU per answer, and the cores kept busy over each column by the
  server, by this process (the clients; in the baseline, retrieve itself) and by every other process: the
  clients share the machine with the server, and so may other work, which the last row makes visible.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

import alma_graph
from alma_graph import GraphMemory
from alma_graph.embed import make_embedder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: report_files.py
import report_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCALE = ROOT / "benchmarks" / "scale"
sys.path[:0] = [str(SCALE), str(ROOT / "tests")]  # corpus.py; api_server.py (the real server in a subprocess)
from api_server import RunningServer, serve  # noqa: E402
from corpus import AGENTS, corpus, queries  # noqa: E402

QUERY = "query($q: String!) { memories(query: $q, topK: 10) { score item { id text } } }"
FLOOR_QUERY = "{ viewer { agent } }"  # authenticated, no database: what HTTP + GraphQL cost alone
TOP_K, WARMUP, FLOOR_REQUESTS, DISTINCT_QUESTIONS = 10, 20, 200, 7000  # the corpus has ~7,400 distinct questions
SAMPLES_KEPT = 5  # error messages kept per kind


def _scale_benchmark():
    # Loaded under its own name: this file is a run.py too.
    spec = importlib.util.spec_from_file_location("scale_run", SCALE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


scale = _scale_benchmark()


def questions(seed: int) -> Iterator[str]:
    """Questions never repeated within a run: the distinct ones, then again with a pass number."""
    pool = queries(DISTINCT_QUESTIONS, seed)
    for n in itertools.count(1):
        yield from pool if n == 1 else (f"{q} ({n})" for q in pool)


def figures(latencies_ms: list[float], seconds: float, errors: Counter, samples: dict) -> dict:
    out = {"requests": len(latencies_ms), "seconds": seconds, "requests_s": len(latencies_ms) / seconds,
           "errors": sum(errors.values()), "error_kinds": dict(errors), "error_samples": samples}
    if latencies_ms:
        out |= {f"p{q}_ms": float(np.percentile(latencies_ms, q)) for q in (50, 95, 99)}
        out["mean_ms"] = float(np.mean(latencies_ms))
    return out


def in_process(url: str, spec: str, texts: Iterator[str], seconds: float) -> tuple[list[float], float, int, dict]:
    """`GraphMemory.retrieve` on one thread, agents in turn, for `seconds` after the warm-up:
    (milliseconds of each, seconds in all, results returned, cores busy)."""
    with GraphMemory(url, embedder=spec) as memory:
        for i in range(WARMUP):
            memory.retrieve(next(texts), AGENTS[i % len(AGENTS)], top_k=TOP_K)
        latencies, results, first = [], 0, cpu_sample(None)
        while time.perf_counter() - first[0] < seconds:
            agent, text = AGENTS[len(latencies) % len(AGENTS)], next(texts)
            begun = time.perf_counter()
            results += len(memory.retrieve(text, agent, top_k=TOP_K))
            latencies.append((time.perf_counter() - begun) * 1000)
        last = cpu_sample(None)
        return latencies, last[0] - first[0], results, cores_busy(first, last)


def baseline(before: tuple, after: tuple) -> dict:
    """Both halves of `in_process` pooled; each half's own figures show how far the machine drifted meanwhile."""
    halves = {name: figures(half[0], half[1], Counter(), {}) | {"cores_busy": half[3]}
              for name, half in (("before", before), ("after", after))}
    out = figures(before[0] + after[0], before[1] + after[1], Counter(), {})
    cores = {k: (before[3][k] * before[1] + after[3][k] * after[1]) / out["seconds"] for k in before[3]}
    return out | {"results_per_query": (before[2] + after[2]) / out["requests"], "cores_busy": cores,
                  "halves": halves}


class Client:
    """One agent's keep-alive connection to the API."""

    def __init__(self, server: RunningServer, key: str):
        self.http = httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120,
                                      limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        self.url = server.graphql

    async def ask(self, text: str, query: str = QUERY) -> tuple[float, str | None, str | None, int]:
        """(milliseconds, error kind or None, error message, results)."""
        started = time.perf_counter()
        try:
            variables = {"q": text} if "$q" in query else {}
            response = await self.http.post(self.url, json={"query": query, "variables": variables})
        except httpx.HTTPError as exc:
            return (time.perf_counter() - started) * 1000, type(exc).__name__, str(exc) or repr(exc), 0
        ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            return ms, f"HTTP {response.status_code}", response.text[:500], 0
        body = response.json()
        if body.get("errors"):
            first = body["errors"][0]
            return ms, f"GraphQL {first.get('extensions', {}).get('code', '?')}", first.get("message"), 0
        return ms, None, None, len(body["data"].get("memories", ()))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_sample(server_pid: int | None) -> tuple[float, ...]:
    """(wall clock, CPU seconds so far of the server, of this process, of the whole machine)."""
    user, nice, system, _idle, _iowait, irq, softirq = map(int, Path("/proc/stat").read_text().split()[1:8])
    machine = (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")
    server = cpu_seconds(server_pid) if server_pid else 0.0
    return time.perf_counter(), server, cpu_seconds(os.getpid()), machine


def cores_busy(first: tuple[float, ...], last: tuple[float, ...]) -> dict:
    """Cores kept busy in between by the server, by this process (the clients, or the in-process baseline),
    and by everything else: the machine is shared, and a busy neighbour explains a slow figure."""
    wall, server, here, machine = (b - a for a, b in zip(first, last))
    return {"server": server / wall, "this_process": here / wall, "others": max(0.0, machine - server - here) / wall}


async def level(server: RunningServer, keys: dict[str, str], n_clients: int, texts: Iterator[str],
                seconds: float) -> dict:
    clients = [Client(server, keys[AGENTS[i % len(AGENTS)]]) for i in range(n_clients)]
    latencies, errors, samples, results = [], Counter(), {}, 0

    async def run(client: Client, deadline: float) -> None:
        nonlocal results
        while time.perf_counter() < deadline:
            ms, kind, message, found = await client.ask(next(texts))
            if kind is None:
                latencies.append(ms)
                results += found
            else:
                errors[kind] += 1
                samples.setdefault(kind, [])
                if len(samples[kind]) < SAMPLES_KEPT:
                    samples[kind].append(message)

    try:
        opened = await asyncio.gather(*(c.ask(next(texts)) for c in clients))  # connections open, untimed
        failed = [o for o in opened if o[1] is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} of {n_clients} clients could not make a first request: {failed[0]}")
        mark, first = server.log.stat().st_size, cpu_sample(server.process.pid)
        await asyncio.gather(*(run(c, first[0] + seconds) for c in clients))
        last = cpu_sample(server.process.pid)
        logged = server.log.read_bytes()[mark:].decode(errors="replace")  # the server's stderr is line-buffered
    finally:
        await asyncio.gather(*(c.http.aclose() for c in clients))
    out = figures(latencies, last[0] - first[0], errors, samples)
    answered = max(1, len(latencies) + out["errors"])
    return out | {"clients": n_clients, "results_per_query": results / max(1, len(latencies)),
                  "server_cpu_ms_per_request": (last[1] - first[1]) * 1000 / answered,
                  "cores_busy": cores_busy(first, last), "server_log_lines": len(logged.splitlines()),
                  "server_log": logged[-20_000:]}


async def over_http(server: RunningServer, keys: dict[str, str], levels: list[int], texts: Iterator[str],
                    seconds: float) -> tuple[dict, list[dict]]:
    """(the floor: FLOOR_QUERY on one connection, one request at a time; then every level)"""
    warm = [Client(server, keys[agent]) for agent in AGENTS]
    for i in range(WARMUP):  # loads the model, fills the key cache, compiles the query paths
        ms, kind, message, _ = await warm[i % len(warm)].ask(next(texts))
        if kind:
            raise RuntimeError(f"warm-up request failed: {kind}: {message}")
    floor, errors = [], Counter()
    for _ in range(FLOOR_REQUESTS):
        ms, kind, _, _ = await warm[0].ask("", FLOOR_QUERY)
        if kind is None:
            floor.append(ms)
        else:
            errors[kind] += 1
    await asyncio.gather(*(c.http.aclose() for c in warm))
    out = []
    for n in levels:
        print(f"{n} client{'s' * (n > 1)}, {seconds:g} s", flush=True)
        out.append(await level(server, keys, n, texts, seconds))
    return figures(floor, sum(floor) / 1000, errors, {}) | {"query": FLOOR_QUERY}, out


def measure(items: int, spec: str, levels: list[int], seconds: float, work: Path) -> dict:
    sources = sorted(Path(alma_graph.__file__).parent.rglob("*.py"))
    report = {"items": items, "clients": levels, "seconds_per_level": seconds, "top_k": TOP_K,
              "cores": os.cpu_count(), "loadavg_1min_start": os.getloadavg()[0],
              "alma_graph_sources": hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:12]}
    episodes, memories = corpus(items)
    report |= {"episodes": sum(len(e) for e in episodes.values()), "memories": len(memories)}
    url = f"kuzu://{work}/memory.kuzu"
    embedder = make_embedder(spec)
    report["embedder"] = embedder.name
    print(f"loading {items:,} items ({spec} embedder)", flush=True)
    with GraphMemory(url, embedder=embedder, vector_index_min_rows=scale.NO_HNSW) as memory:
        report["load_s"] = scale.load_corpus(memory, episodes, memories)
        keys = {agent: memory.keys.create(agent, label="api benchmark")[1] for agent in AGENTS}
    texts = questions(seed=items)
    print(f"in-process baseline, first half, {seconds / 2:g} s", flush=True)
    before = in_process(url, spec, texts, seconds / 2)
    with serve(url, embedder=spec, log_dir=work) as server:
        report["http_floor"], report["levels"] = asyncio.run(over_http(server, keys, levels, texts, seconds))
        log = server.log.read_text(errors="replace")
    print(f"in-process baseline, second half, {seconds / 2:g} s", flush=True)
    report["in_process"] = baseline(before, in_process(url, spec, texts, seconds / 2))
    report["server_log"] = log[-20_000:]  # startup, then warnings and errors only
    report["loadavg_1min_end"] = os.getloadavg()[0]
    base = report["in_process"]
    for r in report["levels"]:
        r["p50_over_in_process"] = r["p50_ms"] / base["p50_ms"] if "p50_ms" in r else None
        r["requests_s_over_in_process"] = r["requests_s"] / base["requests_s"]
    return report


def print_table(report: dict) -> None:
    columns = [("in-process", report["in_process"])]
    columns += [(f"{r['clients']} client{'s' * (r['clients'] > 1)}", r) for r in report["levels"]]

    def cell(key: str, fmt: str):
        return lambda r: fmt.format(r[key]) if r.get(key) is not None else "-"

    rows = [
        ("requests/s", cell("requests_s", "{:.1f}")),
        ("p50, ms", cell("p50_ms", "{:.1f}")),
        ("p95, ms", cell("p95_ms", "{:.1f}")),
        ("p99, ms", cell("p99_ms", "{:.1f}")),
        ("errors", lambda r: f"{r['errors']} / {r['requests'] + r['errors']}"),
        ("results per query", cell("results_per_query", "{:.1f}")),
        ("p50 / in-process p50", cell("p50_over_in_process", "{:.2f}x")),
        ("requests/s / in-process", cell("requests_s_over_in_process", "{:.2f}x")),
        ("server CPU per request, ms", cell("server_cpu_ms_per_request", "{:.1f}")),
        ("server log lines", cell("server_log_lines", "{}")),
        ("cores busy: server", lambda r: f"{r['cores_busy']['server']:.2f}" if "clients" in r else "-"),
        ("  this process", lambda r: f"{r['cores_busy']['this_process']:.2f}"),
        ("  other processes", lambda r: f"{r['cores_busy']['others']:.2f}"),
    ]
    print(f"\nalma-graph GraphQL API: memories(topK: {report['top_k']}) over {report['items']:,} items, embedder "
          f"{report['embedder']}, query embedding included, {report['seconds_per_level']:g} s per column, "
          f"{report['cores']} cores (clients on the same machine)")
    print(f"{'':<28}" + "".join(f"{name:>14}" for name, _ in columns))
    for name, fn in rows:
        print(f"{name:<28}" + "".join(f"{fn(r):>14}" for _, r in columns))
    floor = report["http_floor"]
    print(f"HTTP + GraphQL + key alone ({floor['query']}, 1 client): p50 {floor['p50_ms']:.1f} ms, "
          f"p95 {floor['p95_ms']:.1f} ms, {floor['errors']} errors")
    base = report["in_process"]
    before, after = base["halves"]["before"], base["halves"]["after"]
    print(f"in-process before / after the server: {before['requests_s']:.1f} / {after['requests_s']:.1f} "
          f"requests/s, p50 {before['p50_ms']:.1f} / {after['p50_ms']:.1f} ms, other processes "
          f"{before['cores_busy']['others']:.2f} / {after['cores_busy']['others']:.2f} cores")
    print(f"load {report['load_s']:.0f} s; load average {report['loadavg_1min_start']:.1f} -> "
          f"{report['loadavg_1min_end']:.1f}; alma_graph sources {report['alma_graph_sources']}")
    for r in report["levels"]:
        for kind, messages in r["error_samples"].items():
            print(f"{r['clients']} clients: {r['error_kinds'][kind]} x {kind}, e.g. {messages[0]!r}")
        if r["server_log"]:
            print(f"{r['clients']} clients, the server logged:\n{r['server_log'][-3000:]}")


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels, base = report["levels"], report["in_process"]
    x = [r["clients"] for r in levels]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.plot(x, [r["requests_s"] for r in levels], "o-", color="C0", label="GraphQL over HTTP")
    left.axhline(base["requests_s"], color="C2", ls="--", label="in-process retrieve, 1 thread")
    left.set(xlabel="concurrent clients", ylabel="requests/s", title="throughput", ylim=(0, None))
    for q, style in (("p50_ms", "o-"), ("p95_ms", "s--")):
        right.plot(x, [r.get(q) for r in levels], style, color="C1", label=f"GraphQL over HTTP {q[:3]}")
    right.axhline(base["p50_ms"], color="C2", ls=":", label="in-process retrieve p50")
    right.axhline(base["p95_ms"], color="C2", ls="--", label="in-process retrieve p95")
    right.set(xlabel="concurrent clients", ylabel="ms per request", title="latency", ylim=(0, None))
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xticks(x, [str(n) for n in x])
        ax.legend(fontsize=8)
    errors = sum(r["errors"] for r in levels)
    fig.suptitle(f"alma-graph API, {report['items']:,} items, {report['embedder']}, {report['cores']} cores; "
                 f"errors: {errors}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--embedder", default="local", help="local | hashing[:dim]")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=20.0, help="per concurrency level, and for the baseline")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--png", help="write throughput and latency vs clients to this file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="alma-api-bench-"))
    try:
        report = measure(args.items, args.embedder, sorted(set(args.clients)), args.seconds, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(report)
    report_files.write(report, args.json, args.png, plot)
    return 0 if all(r["errors"] == 0 for r in report["levels"]) else 1


if __name__ == "__main__":
    sys.exit(main())
