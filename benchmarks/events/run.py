"""What memory events cost a write: writes/s on embedded Kuzu with no listener (the baseline), with
an in-process subscriber, and with one webhook (its outbox delivery written inside each write's
transaction); then how fast the dispatcher drains that outbox to a loopback receiver.

    python benchmarks/events/run.py --writes 2000 --embedder hashing local --op add_knowledge learn
    python benchmarks/events/run.py --writes 300 --json events.json

The three configurations write into three fresh databases, open side by side, in interleaved
blocks (their order rotating), so a slow moment of the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from alma_graph import GraphMemory
from alma_graph.services.webhook_dispatch import DeliverySettings, WebhookDispatcher

CONFIGS = ("no listener", "subscriber", "webhook outbox")
WARMUP = 20
BLOCK = 25


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _writer(memory: GraphMemory, op: str) -> Callable[[int], None]:
    if op == "add_knowledge":
        return lambda i: memory.add_knowledge("bench", f"domain {i % 20}", f"fact number {i} about topic {i % 97}")
    return lambda i: memory.learn("bench", f"task {i % 40}", i % 3 != 0, f"strategy {i % 6}",
                                  task_type=f"type {i % 8}")


def measure(op: str, embedder: str, writes: int, sink_url: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        memories, heard, times = {}, [], {c: [] for c in CONFIGS}
        for n, config in enumerate(CONFIGS):
            memory = stack.enter_context(GraphMemory(f"kuzu://{folder}/db{n}", embedder=embedder))
            memory.register_agent("bench")
            if config == "subscriber":
                memory.subscribe(heard.append)
            if config == "webhook outbox":
                memory.webhooks.add(sink_url)
            memories[config] = (memory, _writer(memory, op))
            for i in range(WARMUP):
                memories[config][1](-1 - i)
        heard.clear()
        for block, first in enumerate(range(0, writes, BLOCK)):
            for config in CONFIGS[block % 3:] + CONFIGS[:block % 3]:
                write = memories[config][1]
                for i in range(first, min(first + BLOCK, writes)):
                    t = time.perf_counter()
                    write(i)
                    times[config].append(time.perf_counter() - t)
        runs = []
        for config in CONFIGS:
            ordered = sorted(times[config])
            runs.append({
                "config": config, "op": op, "embedder": embedder, "writes": writes,
                "seconds": round(sum(ordered), 3), "writes_s": round(writes / sum(ordered), 1),
                "p50_ms": round(statistics.median(ordered) * 1000, 2),
                "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
            })
        runs[1]["events_heard"] = len(heard)
        memory = memories["webhook outbox"][0]
        pending = memory.webhooks.list()[0].pending
        dispatcher = WebhookDispatcher(memory.webhooks, DeliverySettings())
        started = time.perf_counter()
        try:
            dispatcher.deliver_until_idle()
        finally:
            dispatcher.stop()
        seconds = time.perf_counter() - started
        left = memory.webhooks.list()[0]
        runs[2]["outbox"] = {"deliveries": pending, "drain_seconds": round(seconds, 3),
                             "deliveries_s": round(pending / seconds, 1), "left": left.pending,
                             "delivered": left.delivered}
        return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=2000, help="timed writes per configuration")
    parser.add_argument("--embedder", nargs="+", default=["hashing"], help="hashing and/or local")
    parser.add_argument("--op", nargs="+", default=["add_knowledge"], choices=["add_knowledge", "learn"])
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    runs = []
    try:
        for embedder in args.embedder:
            for op in args.op:
                runs += measure(op, embedder, args.writes, f"http://127.0.0.1:{sink.server_port}/")
                print(f"  {embedder} {op}: " + ", ".join(f"{r['config']} {r['writes_s']}/s" for r in runs[-3:]),
                      file=sys.stderr)
    finally:
        sink.shutdown()
    print(f"\n{args.writes} writes per configuration, embedded Kuzu\n")
    print("| embedder | write | configuration | writes/s | vs no listener | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        base = next(b for b in runs if (b["embedder"], b["op"], b["config"]) == (r["embedder"], r["op"], CONFIGS[0]))
        print(f"| {r['embedder']} | {r['op']} | {r['config']} | {r['writes_s']:.0f} | "
              f"{r['writes_s'] / base['writes_s']:.2f} | {r['p50_ms']} | {r['p95_ms']} |")
    print("\n| embedder | write | outbox deliveries | drained in s | deliveries/s | left |\n|---|---|---|---|---|---|")
    for r in (r for r in runs if "outbox" in r):
        o = r["outbox"]
        print(f"| {r['embedder']} | {r['op']} | {o['deliveries']} | {o['drain_seconds']} | {o['deliveries_s']:.0f} | "
              f"{o['left']} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"writes": args.writes, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
