"""LoCoMo retrieval: alma-graph against BM25, dense and their fusion, on the same turns, in one run.

    python benchmarks/locomo/run.py --data ../shared/data/locomo/*.json --k 10

Each turn is remembered as an episode (speaker, session, session date, image caption); each
question of categories 1-4 is asked; recall@k is the share of its evidence turns (dia_ids)
among the top k results' source_ids.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from alma_graph import GraphMemory, MemoryScope, MemorySlice
from alma_graph.embed import make_embedder
from alma_graph.locomo import CATEGORIES, Conversation, load
from alma_graph.services.retrieval import RetrievalRequest, Retriever
from alma_graph.services.scoring import RetrievalConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: report_files.py
import report_files  # noqa: E402

_TOKEN = re.compile(r"\w+")
RRF_K = 60


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def count_tokens(text: str) -> int:
    # Roughly what an LLM tokenizer counts for English: words and punctuation marks.
    return len(re.findall(r"\w+|[^\w\s]", text))


class Baselines:
    """BM25, exact dense search and their reciprocal-rank fusion over one conversation's turns."""

    def __init__(self, conversation: Conversation, embedder):
        self.ids = [t.dia_id for t in conversation.turns]
        self.texts = [t.episode_text for t in conversation.turns]
        self.bm25 = BM25Okapi([tokens(t) for t in self.texts])
        self.embedder = embedder
        self.vectors = embedder.embed(self.texts)

    def bm25_rank(self, query: str) -> list[int]:
        scores = self.bm25.get_scores(tokens(query))
        return list(np.argsort(-scores, kind="stable"))

    def dense_rank(self, query: str) -> list[int]:
        scores = self.vectors @ self.embedder.embed([query])[0]
        return list(np.argsort(-scores, kind="stable"))

    def fusion_rank(self, query: str) -> list[int]:
        fused: dict[int, float] = defaultdict(float)
        for ranking in (self.bm25_rank(query), self.dense_rank(query)):
            for rank, index in enumerate(ranking):
                fused[index] += 1.0 / (RRF_K + rank + 1)
        return sorted(fused, key=fused.get, reverse=True)

    def top(self, method: str, query: str, k: int) -> tuple[list[str], list[str]]:
        ranking = getattr(self, f"{method}_rank")(query)[:k]
        return [self.ids[i] for i in ranking], [self.texts[i] for i in ranking]


def recall(found: list[str], evidence: tuple[str, ...]) -> float:
    return len(set(found) & set(evidence)) / len(set(evidence))


def scored(category: int, found: list[str], evidence: tuple[str, ...], texts: list[str]) -> dict:
    """One question's figures for one method: its top-k source ids and texts against the evidence."""
    return {"category": category, "recall": recall(found, evidence), "hit": float(bool(set(found) & set(evidence))),
            "tokens": sum(count_tokens(t) for t in texts)}


def evaluate(paths: list[str], k: int, embedder_spec: str, extra_k: tuple[int, ...], judge=None,
             judge_limit: int | None = None) -> dict:
    embedder = make_embedder(embedder_spec)
    methods = ["alma-graph", "bm25", "dense", "fusion"]  # the ablations are measured beside them
    ks = sorted({k, *extra_k})
    per_q: dict[str, list[dict]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)  # alma-graph's and each ablation's
    ingest_s = 0.0
    turns = 0
    total_turn_tokens = []
    verdicts: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    judged = 0
    with tempfile.TemporaryDirectory() as folder:
        memory = GraphMemory(f"kuzu://{folder}/locomo", embedder=embedder)
        # The same store and candidates with one part switched off: what it adds. Without the
        # graph: no expansion along edges; without concepts: no match on an item's closest word.
        ablations = {"alma-no-graph": Retriever(memory.store, RetrievalConfig(expand_top=0, graph_weight=0.0)),
                     "alma-no-concepts": Retriever(memory.store, RetrievalConfig(concept_weight=0.0))}
        # Every conversation is stored before any question is asked, as in a store many agents
        # share: full-text scores depend on the whole index, so results must not depend on how
        # many conversations came before.
        conversations = [load(path) for path in paths]
        for conversation in conversations:
            agent = f"locomo-{conversation.sample_id}"
            memory.register_agent(MemoryScope(agent=agent))
            started = time.perf_counter()
            memory.remember_many(agent, conversation.episodes())
            ingest_s += time.perf_counter() - started
            turns += len(conversation.turns)
        for conversation in conversations:
            agent = f"locomo-{conversation.sample_id}"
            baselines = Baselines(conversation, embedder)
            total_turn_tokens.append(sum(count_tokens(t) for t in baselines.texts))
            for q in conversation.questions:
                if q.category not in (1, 2, 3, 4) or not q.evidence:
                    continue
                started = time.perf_counter()
                result = memory.retrieve(q.question, agent, top_k=max(ks))
                latencies["alma-graph"].append((time.perf_counter() - started) * 1000)
                # Timed again with its query embedding cached, as the ablations' are: what each part costs.
                started = time.perf_counter()
                memory.retrieve(q.question, agent, top_k=max(ks))
                latencies["alma-graph, embedding cached"].append((time.perf_counter() - started) * 1000)
                for name, ablation in ablations.items():
                    started = time.perf_counter()
                    less = ablation.retrieve(RetrievalRequest(query=q.question, agent=agent, top_k=max(ks)))
                    latencies[name].append((time.perf_counter() - started) * 1000)
                    for kk in ks:
                        found = [sid for item in less.items[:kk] for sid in item.source_ids]
                        per_q[f"{name}@{kk}"].append(scored(q.category, found, q.evidence,
                                                            [i.text for i in less.items[:kk]]))
                if judge is not None and (judge_limit is None or judged < judge_limit):
                    judged += 1
                    dates = {t.dia_id: t.timestamp.date().isoformat() for t in conversation.turns}
                    ids, texts = baselines.top("fusion", q.question, k)
                    contexts = {
                        "alma-graph": MemorySlice(query=q.question, agent=agent, items=result.items[:k], took_ms=0).to_context(),
                        "fusion": "\n".join(f"[{dates[i]}] {t}" for i, t in zip(ids, texts)),
                    }
                    for name, context in contexts.items():
                        verdicts[name].append((q.category, judge.verdict(q.question, q.answer, context).correct))
                for kk in ks:
                    items = result.items[:kk]
                    found = [sid for item in items for sid in item.source_ids]
                    per_q[f"alma-graph@{kk}"].append(scored(q.category, found, q.evidence, [i.text for i in items]))
                    for method in methods[1:]:
                        ids, texts = baselines.top(method, q.question, kk)
                        per_q[f"{method}@{kk}"].append(scored(q.category, ids, q.evidence, texts))
        memory.close()
    summary: dict[str, dict] = {}
    for name, rows in per_q.items():
        entry = {
            "recall": statistics.fmean(r["recall"] for r in rows),
            "hit": statistics.fmean(r["hit"] for r in rows),
            "context_tokens": statistics.fmean(r["tokens"] for r in rows),
            "questions": len(rows),
        }
        for cat in (1, 2, 3, 4):
            sub = [r["recall"] for r in rows if r["category"] == cat]
            entry[f"recall_{CATEGORIES[cat]}"] = statistics.fmean(sub) if sub else None
        summary[name] = entry
    percentiles = {name: {"p50": ms[len(ms) // 2], "p95": ms[int(len(ms) * 0.95)]}
                   for name, ms in ((name, sorted(ms)) for name, ms in latencies.items())}
    judged_scores = {
        name: {"J": statistics.fmean(ok for _, ok in rows), "questions": len(rows),
               **{f"J_{CATEGORIES[c]}": statistics.fmean(ok for cat, ok in rows if cat == c)
                  for c in (1, 2, 3, 4) if any(cat == c for cat, _ in rows)}}
        for name, rows in verdicts.items()
    }
    return {
        "llm_judged": judged_scores or None,
        "k": k,
        "embedder": embedder.name,
        "conversations": [Path(p).name for p in paths],
        "methods": summary,
        # alma-graph's times include embedding the question; the others' (alma-graph again, then
        # the ablations, right after it) find the embedding cached.
        "alma_retrieve_ms": percentiles.pop("alma-graph"),
        "cached_retrieve_ms": percentiles,
        "ingest_s": ingest_s,
        "turns": turns,
        "mean_conversation_tokens": statistics.fmean(total_turn_tokens),
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = report["k"]
    methods = ["alma-graph", "fusion", "bm25", "dense"]
    categories = [CATEGORIES[c] for c in (1, 2, 3, 4)]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.2
    for i, method in enumerate(methods):
        entry = report["methods"][f"{method}@{k}"]
        values = [entry[f"recall_{c}"] or 0 for c in categories] + [entry["recall"]]
        ax.bar([x + i * width for x in range(len(values))], values, width, label=method)
    ax.set_xticks([x + 1.5 * width for x in range(len(categories) + 1)], categories + ["all"])
    ax.set_ylabel(f"recall@{k}")
    ax.set_ylim(0, 1)
    ax.set_title(f"LoCoMo retrieval recall@{k} by question category ({report['embedder']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def print_table(report: dict) -> None:
    cols = ["recall", "hit", "recall_multi-hop", "recall_temporal", "recall_open-domain",
            "recall_single-hop", "context_tokens"]
    print(f"LoCoMo retrieval, embedder {report['embedder']}, {len(report['conversations'])} conversations, "
          f"{next(iter(report['methods'].values()))['questions']} questions (categories 1-4)")
    print(f"{'method':<18}" + "".join(f"{c.replace('recall_', 'r:'):>15}" for c in cols))
    for name, entry in sorted(report["methods"].items(), key=lambda kv: (int(kv[0].split('@')[1]), kv[0])):
        print(f"{name:<18}" + "".join(f"{entry[c]:>15.3f}" if entry[c] is not None else f"{'-':>15}" for c in cols))
    lat = report["alma_retrieve_ms"]
    for name, ablation in report["cached_retrieve_ms"].items():
        print(f"{name:<29} retrieve p50 {ablation['p50']:.1f} ms, p95 {ablation['p95']:.1f} ms (query embedding cached)")
    print(f"alma-graph retrieve p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms; ingest of {report['turns']:,} turns {report['ingest_s']:.1f} s; "
          f"whole conversation ~{report['mean_conversation_tokens']:.0f} tokens")
    judged = report["llm_judged"]
    if judged is None:
        print("LLM-judged accuracy: skipped (no --llm-base-url given)")
    else:
        for name, entry in judged.items():
            cats = " ".join(f"{key[2:]} {value:.3f}" for key, value in entry.items() if key.startswith("J_"))
            print(f"LLM-judged J, {name} context: {entry['J']:.3f} over {entry['questions']} questions ({cats})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="LoCoMo-format conversation files")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--also-k", type=int, nargs="*", default=[20], help="further cut-offs to report")
    parser.add_argument("--embedder", default="local")
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument("--png", help="write a bar chart of recall per category to this file")
    parser.add_argument("--llm-base-url", help="an OpenAI-compatible endpoint: enables LLM-judged accuracy")
    parser.add_argument("--llm-model", default="gpt-4o-mini", help="the model that answers")
    parser.add_argument("--judge-model", help="the model that judges (default: --llm-model)")
    parser.add_argument("--llm-api-key", help="API key (default: $OPENAI_API_KEY)")
    parser.add_argument("--llm-max-questions", type=int, help="judge only this many questions")
    args = parser.parse_args(argv)
    judge = None
    if args.llm_base_url:
        from llm_judge import LLMJudge

        judge = LLMJudge(args.llm_base_url, args.llm_model, args.judge_model,
                         args.llm_api_key or os.environ.get("OPENAI_API_KEY"))
    report = evaluate(args.data, args.k, args.embedder, tuple(args.also_k), judge, args.llm_max_questions)
    print_table(report)
    report_files.write(report, args.json, args.png, plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
