"""The `alma-graph` command line, run in-process through `main([...])` on a real embedded Kuzu
database with the hashing embedder (and once in a subprocess, against a held database)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alma_graph import GraphMemory
from alma_graph.cli import main

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"kuzu://{tmp_path / 'db'}"


@pytest.fixture
def cli(url: str, capsys: pytest.CaptureFixture[str]):
    """Run the CLI on the test database; returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--url", url, "--embedder", "hashing", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def stats(cli) -> dict:
    code, out, _ = cli("stats", "--json")
    assert code == 0
    return json.loads(out)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


TURNS = [
    {"text": "Alice: I adopted a grey cat called Pixel last spring.", "session": "s1",
     "timestamp": "2024-05-01T10:00:00", "source_id": "D1:1"},
    {"text": "Bob: Nice! Does Pixel get along with your dog?", "session": "s1", "source_id": "D1:2"},
    {"text": "Alice: We moved to Lisbon in June for my new job.", "session": "s2",
     "timestamp": "2024-07-01T09:00:00", "source_id": "D2:1", "metadata": {"mood": "happy"}},
    {"text": "Bob: How is the job at the observatory going?", "session": "s2", "source_id": "D2:2"},
    {"text": "Alice: I started learning the cello this winter.", "session": "s3",
     "timestamp": 1_704_067_200, "source_id": "D3:1"},
]


def test_agent_add_and_list(cli) -> None:
    code, out, err = cli("agent", "list")
    assert code == 0 and out == "" and "no agents yet" in err

    code, out, _ = cli("agent", "add", "coder", "--can-learn", "Heuristic", "Outcome",
                       "--description", "writes code")
    assert code == 0
    assert "'coder'" in out and "Heuristic, Outcome" in out
    code, _, _ = cli("agent", "add", "helper", "--cannot-learn", "UserPreference")
    assert code == 0

    code, out, _ = cli("agent", "list")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["coder", "helper"]
    assert "writes code" in lines[0] and "cannot learn UserPreference" in lines[1]

    # a bad scope is a user error with a clear message, not a traceback
    code, _, err = cli("agent", "add", "bad", "--can-learn", "Nonsense")
    assert code == 2
    assert err.startswith("error: ") and "Nonsense" in err and "Traceback" not in err


def test_import_jsonl_then_stats(cli, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "turns.jsonl", [TURNS[0], "", *TURNS[1:]])  # blank lines are skipped
    code, _, err = cli("import", str(data), "--agent", "alice")
    assert code == 2 and "agent 'alice' does not exist" in err and "--create-agent" in err

    code, out, err = cli("import", str(data), "--agent", "alice", "--create-agent", "--batch-size", "2")
    assert code == 0, err
    assert "imported 5 episodes in 3 sessions for agent 'alice'" in out
    assert "episodes/s" in out
    assert "importing" in err  # the progress bar, on stderr

    counts = stats(cli)
    assert counts["nodes"]["Agent"] == 1
    assert counts["nodes"]["Episode"] == 5
    assert counts["nodes"]["Session"] == 3
    assert counts["edges"]["IN_SESSION"] == 5
    assert counts["edges"]["NEXT"] == 2  # s1: 1, s2: 1, s3: 0
    assert counts["edges"]["HAS_SESSION"] == 3
    assert "Episode" in counts["indexes"] and "5 rows" in counts["indexes"]["Episode"]

    code, out, _ = cli("stats")
    assert code == 0
    assert "nodes:" in out and "edges:" in out and "indexes:" in out
    assert any(line.split() == ["Episode", "5"] for line in out.splitlines())


def test_import_from_stdin_appends_to_sessions(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("agent", "add", "alice")[0] == 0
    assert cli("import", str(write_jsonl(tmp_path / "a.jsonl", TURNS[:2])), "--agent", "alice", "--quiet")[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps({"text": "Alice: later turn", "session": "s1"}) + "\n"))
    code, out, err = cli("import", "-", "--agent", "alice", "--quiet")
    assert code == 0 and err == ""
    assert "imported 1 episodes in 1 sessions" in out
    counts = stats(cli)
    assert counts["nodes"]["Episode"] == 3 and counts["nodes"]["Session"] == 1
    assert counts["edges"]["NEXT"] == 2


def test_import_bad_line_writes_nothing(cli, tmp_path: Path) -> None:
    rows = [TURNS[0], TURNS[1], {"text": 5, "session": "s1"}, *TURNS[2:]]
    data = write_jsonl(tmp_path / "bad.jsonl", rows)
    code, out, err = cli("import", str(data), "--agent", "alice", "--create-agent", "--batch-size", "1")
    assert code == 2
    assert out == ""
    message = err.strip().splitlines()[-1]
    assert message.startswith("error: ")
    assert "bad.jsonl line 3" in message and "field 'text'" in message
    assert "expected a string" in message and "nothing was imported" in message
    assert "Traceback" not in err

    counts = stats(cli)
    assert counts["nodes"]["Episode"] == 0
    assert counts["nodes"]["Session"] == 0
    assert counts["nodes"]["Agent"] == 0  # --create-agent did not create it either

    # other kinds of bad line
    for line, field, problem in [
        ('{"text": "ok", "timestamp": "yesterday"}', "timestamp", "ISO-8601"),
        ('{"text": "ok", "speaker": "Bob"}', "speaker", "not an episode field"),
        ('{"text": "ok", "metadata": [1, 2]}', "metadata", "expected a mapping"),
        ('{"text": "broken', None, "not valid JSON"),
        ('["a", "list"]', None, "expected a JSON object"),
    ]:
        path = write_jsonl(tmp_path / "one.jsonl", [TURNS[0], line])
        code, _, err = cli("import", str(path), "--agent", "alice", "--create-agent")
        assert code == 2, line
        assert "one.jsonl line 2" in err and problem in err, err
        if field:
            assert f"field '{field}'" in err
    assert stats(cli)["nodes"]["Episode"] == 0

    code, _, err = cli("import", str(tmp_path / "missing.jsonl"), "--agent", "alice", "--create-agent")
    assert code == 2 and "cannot read" in err and "missing.jsonl" in err


def test_import_refuses_another_agents_session(cli, tmp_path: Path) -> None:
    cli("agent", "add", "alice")
    cli("agent", "add", "bob")
    assert cli("import", str(write_jsonl(tmp_path / "a.jsonl", TURNS[:2])), "--agent", "alice", "--quiet")[0] == 0
    rows = [{"text": "Bob: fresh session", "session": "b1"}, {"text": "Bob: hijack", "session": "s1"}]
    code, _, err = cli("import", str(write_jsonl(tmp_path / "b.jsonl", rows)), "--agent", "bob", "--quiet")
    assert code == 2
    assert "b.jsonl line 2" in err and "field 'session'" in err and "belongs to agent 'alice'" in err
    assert stats(cli)["nodes"]["Episode"] == 2


def test_retrieve_text_and_json(cli, tmp_path: Path) -> None:
    cli("import", str(write_jsonl(tmp_path / "t.jsonl", TURNS)), "--agent", "alice", "--create-agent", "--quiet")

    code, out, _ = cli("retrieve", "what is the name of the cat Pixel", "--agent", "alice", "--top-k", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("3 results for 'what is the name of the cat Pixel'")
    assert lines[1].lstrip().startswith("1. ") and "Pixel" in lines[1] and "[sources: D1:" in lines[1]
    assert len(lines) == 4

    code, out, _ = cli("retrieve", "cat Pixel", "--agent", "alice", "--explain", "--top-k", "2")
    assert code == 0
    assert "similarity" in out and "recency" in out and "found by" in out and "dense=" in out
    assert "closest concept '" in out and "concept=" in out

    code, out, _ = cli("retrieve", "cat Pixel", "--agent", "alice", "--json", "--since", "2024-04-01",
                       "--until", "2024-06-01", "--types", "Episode")
    assert code == 0
    data = json.loads(out)
    assert data["agent"] == "alice" and data["query"] == "cat Pixel"
    assert [item["source_ids"] for item in data["items"]] == [["D1:1"]]  # the one turn in the window
    item = data["items"][0]
    assert item["kind"] == "episode" and item["episode"]["text"].startswith("Alice: I adopted")
    assert set(item["explanation"]["factors"]) == {"similarity", "recency", "success", "confidence", "importance"}

    code, _, err = cli("retrieve", "x", "--agent", "nobody")
    assert code == 2 and "'nobody' does not exist" in err
    code, _, err = cli("retrieve", "x", "--agent", "alice", "--since", "last week")
    assert code == 2 and "since" in err and "ISO-8601" in err
    with pytest.raises(SystemExit) as exit_info:
        cli("retrieve", "x", "--agent", "alice", "--top-k", "0")
    assert exit_info.value.code == 2


def test_show_and_history_of_a_memory(url: str, cli) -> None:
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent("coder")
        (episode,) = memory.remember_many("coder", [{"text": "User: the API returns dates in UTC",
                                                      "session": "s1", "source_id": "D1:1"}])
        first = memory.add_knowledge("coder", domain="api", fact="dates are UTC", derived_from=[episode.id])
        second = memory.update(first.id, fact="dates are UTC, ISO-8601 strings")

    code, out, _ = cli("show", second.id)
    assert code == 0
    assert out.startswith(f"DomainKnowledge {second.id}")
    assert "text: [api] dates are UTC, ISO-8601 strings" in out and "agent: coder" in out

    code, out, _ = cli("show", second.id, "--json")
    data = json.loads(out)
    assert data["type"] == "DomainKnowledge" and data["fact"] == "dates are UTC, ISO-8601 strings"

    code, out, _ = cli("show", episode.id, "--json")
    assert code == 0 and json.loads(out)["type"] == "Episode" and json.loads(out)["source_id"] == "D1:1"

    code, out, _ = cli("history", second.id)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"DomainKnowledge {second.id}") and "(learned by coder " in lines[0]
    assert lines[0].endswith(", update)")  # why the root was written
    assert any(re.search(rf"-\[SUPERSEDES [0-9-]+ [0-9:]+ \(update\)\]-> DomainKnowledge {first.id}", line)
               and "(invalidated)" in line for line in lines)
    assert any(f"(update)]-> Episode {episode.id}" in line and "dates in UTC" in line for line in lines)

    code, out, _ = cli("history", episode.id, "--json")
    data = json.loads(out)
    assert data["root"] == episode.id and data["learned_by"] is None
    assert {(e["source"], e["relation"], e["target"]) for e in data["edges"]} >= {
        (first.id, "DERIVED_FROM", episode.id), (second.id, "SUPERSEDES", first.id)}

    code, _, err = cli("show", "mem_does_not_exist")
    assert code == 2 and err == "error: memory or episode 'mem_does_not_exist' does not exist\n"


def test_index_refresh(cli) -> None:
    cli("agent", "add", "a")
    code, out, _ = cli("index", "refresh")
    assert code == 0 and "nothing to do" in out and "Episode" in out


def test_index_concepts_links_items_stored_before_concepts_existed(cli, url: str) -> None:
    cli("agent", "add", "a")
    with GraphMemory(url, embedder="hashing") as memory:
        memory.remember_many("a", [{"text": "turtles swim in the lake", "session": "s"},
                                   {"text": "ok", "session": "s"}])
        memory.add_knowledge("a", domain="pets", fact="turtles live for decades")
        memory.backend.execute("MATCH ()-[m:MENTIONS]->() DELETE m")  # as a database written before concepts
        memory.backend.execute("MATCH (c:Concept) DELETE c")
    code, out, _ = cli("index", "concepts")
    assert code == 0 and out == "Episode: linked 1 items to their concepts\nDomainKnowledge: linked 1 items to their concepts\n"
    assert stats(cli)["edges"]["MENTIONS"] == 7  # turtles swim lake; pets turtles live decades
    code, out, _ = cli("index", "concepts")
    assert code == 0 and "nothing to do" in out


def test_global_options_after_the_command(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["agent", "add", "late", "--url", url, "--embedder", "hashing"]) == 0
    assert main(["--url", url, "--embedder", "hashing", "agent", "list"]) == 0
    assert "late" in capsys.readouterr().out


def test_demo_builtin_sample(cli) -> None:
    code, out, err = cli("demo", "--sample")
    assert code == 0, err
    assert "built-in sample (12 turns over 2 sessions)" in out
    assert "imported 12 episodes" in out
    assert "formed a heuristic" in out
    assert out.count("\nretrieve ") == 3
    assert "found by" in out and "Heuristic" in out and "UserPreference" in out
    assert "nodes:" in out and "indexes:" in out
    counts = stats(cli)
    assert counts["nodes"]["Episode"] == 12 and counts["nodes"]["Session"] == 2
    assert counts["nodes"]["Heuristic"] == 1 and counts["nodes"]["UserPreference"] == 1
    assert counts["nodes"]["Outcome"] == 5

    # the heuristic's provenance: the outcomes it was formed from, and their conversation turns
    code, out, _ = cli("retrieve", "flaky test", "--agent", "demo", "--types", "Heuristic", "--json")
    heuristic = json.loads(out)["items"][0]["memory"]
    assert heuristic["memory_type"] == "Heuristic" and heuristic["success_count"] == 3
    code, out, err = cli("history", heuristic["id"])
    assert code == 0, err
    assert out.startswith(f"Heuristic {heuristic['id']}") and "(learned by demo " in out.splitlines()[0]
    assert len(re.findall(r"-\[DERIVED_FROM [^\]]* \(learning\)\]-> Outcome", out)) == 3
    assert re.search(r"-\[DERIVED_FROM [^\]]*\]-> Episode", out)

    # running it again retrieves from what is there instead of importing twice
    code, out, _ = cli("demo", "--sample")
    assert code == 0 and "already holds this conversation" in out
    assert stats(cli)["nodes"]["Episode"] == 12


def test_demo_locomo_file(cli, tmp_path: Path) -> None:
    conversation = {
        "speaker_a": "Ann", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [{"speaker": "Ann", "dia_id": "D1:1", "text": "I planted tomatoes today."},
                      {"speaker": "Ben", "dia_id": "D1:2", "text": "Look at my new bike!",
                       "img_url": ["http://x"], "blip_caption": "a photo of a red bicycle"}],
        "session_2_date_time": "10:05 am on 2 June, 2023",
        "session_2": [{"speaker": "Ann", "dia_id": "D2:1", "text": "The tomatoes are red already."}],
        "qa": [{"question": "What did Ann plant?", "answer": "tomatoes", "evidence": ["D1:1"], "category": 4},
               {"question": "What is unanswerable?", "adversarial_answer": "x", "evidence": [], "category": 5}],
    }
    path = tmp_path / "conv.json"
    path.write_text(json.dumps(conversation), encoding="utf-8")
    code, out, err = cli("demo", "--data", str(path), "--agent", "ann")
    assert code == 0, err
    assert "(3 turns)" in out and "retrieve 'What did Ann plant?'  (expected: tomatoes)" in out
    assert "evidence D1:1: retrieved at rank" in out
    assert "What is unanswerable" not in out

    code, out, _ = cli("retrieve", "bicycle", "--agent", "ann", "--json")
    items = json.loads(out)["items"]
    texts = {i["episode"]["source_id"]: (i["episode"]["text"], i["episode"]["session"], i["episode"]["timestamp"])
             for i in items}
    # the second turn of session 1: a minute after the session's start, keeping turn order in time
    assert texts["D1:2"] == ("Ben: Look at my new bike! [shares an image: a photo of a red bicycle]",
                             f"{path.stem}-session_1", "2023-05-08T13:57:00Z")

    path.write_text("{}", encoding="utf-8")
    code, _, err = cli("demo", "--data", str(path), "--agent", "other")
    assert code == 2 and "not a LoCoMo conversation" in err and "Traceback" not in err


def test_database_held_by_another_process(url: str) -> None:
    """The CLI in a second process exits 3, quickly, telling the user who holds the database."""
    with GraphMemory(url, embedder="hashing"):
        started = time.monotonic()
        result = subprocess.run(
            [str(PROJECT_ROOT / ".venv/bin/python"), "-m", "alma_graph.cli", "--url", url,
             "--embedder", "hashing", "stats"],
            capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: ")
    assert "another process" in result.stderr and "alma-graph serve" in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 30
