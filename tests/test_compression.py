"""Compression: an agent's old (learned and last retrieved before the cutoff), valid memories below
`keep_confidence` are grouped by type and topic, and each group of two or more becomes one
summary memory MERGED_FROM the originals (reason "compression"; invalidated, kept), in one atomic
write. The summary is extractive offline, or the language model's (over the real
chat-completions protocol, to a local server) when one is configured. Also its CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from chat_server import ChatServer

from alma_graph import GraphMemory, ValidationError
from alma_graph.cli import main
from alma_graph.errors import ModelError
from alma_graph.llm import LLMConfig
from alma_graph.services.merging import ConsolidationConfig
from alma_graph.validation import now_ms

PILE_UP = ConsolidationConfig(on_write=False)
DAY_MS = 86_400_000
VAULT = ("the deploy script needs the staging key",
         "deploys to staging need the key from vault. It is rotated monthly.",
         "the staging deploy fails without the vault key")


def backdate(memory: GraphMemory, label: str, ids: list[str], days: int) -> None:
    """Make memories look learned `days` ago (created_at is system time, set by the store)."""
    at = now_ms() - days * DAY_MS
    memory.backend.execute(f"MATCH (n:{label}) WHERE n.id IN $ids SET n.created_at = $at", {"ids": ids, "at": at})


@pytest.fixture
def aged(open_memory) -> tuple[GraphMemory, dict[str, str]]:
    """An agent with three old, unsure facts on one topic, an old unrelated one, an old confident
    one on the topic, a recent one on the topic, and an old heuristic."""
    memory = open_memory(consolidation=PILE_UP)
    memory.register_agent("coder")
    turn = memory.remember("the deploy broke because the vault key was missing", "coder")
    ids = {f"vault{i}": memory.add_knowledge("coder", "ops", fact, confidence=0.4 + 0.1 * i,
                                              derived_from=[turn.id] if i == 0 else []).id
           for i, fact in enumerate(VAULT)}
    ids["cafeteria"] = memory.add_knowledge("coder", "ops", "the cafeteria opens at nine", confidence=0.3).id
    ids["sure"] = memory.add_knowledge("coder", "ops", "the staging deploy needs the vault key", confidence=0.9).id
    ids["heuristic"] = memory.add_heuristic("coder", "the staging deploy fails", "fetch the vault key first").id
    backdate(memory, "DomainKnowledge", list(ids.values()), days=200)
    backdate(memory, "Heuristic", [ids["heuristic"]], days=200)
    ids["recent"] = memory.add_knowledge("coder", "ops", "the staging deploy needs the new vault key", confidence=0.4).id
    ids["episode"] = turn.id
    return memory, ids


def test_a_dry_run_says_what_would_be_summed_up_and_writes_nothing(aged):
    memory, ids = aged
    before = memory.stats()
    result = memory.compress("coder", dry_run=True)
    assert result.dry_run and result.examined == 7 and memory.stats() == before
    [group] = result.groups
    assert set(group.summarized) == {ids["vault0"], ids["vault1"], ids["vault2"]}  # one topic, old and unsure
    assert group.memory_type == "DomainKnowledge" and group.summary_id is None and group.summarized_by == "offline"
    assert group.confidence == pytest.approx(0.5)  # the originals' mean: a summary confirms nothing
    assert all(memory.get(i).is_valid for i in group.summarized)


def test_compression_writes_one_summary_and_invalidates_the_originals(aged):
    memory, ids = aged
    events: list[tuple[str, str, str | None]] = []
    memory.subscribe(lambda e: events.append((e.type, e.memory_id, e.previous_id)))
    [group] = memory.compress("coder").groups
    summary = memory.get(group.summary_id)
    assert summary.is_valid and summary.text == group.text and summary.domain == "ops"
    # extractive: the originals' own sentences, each once, at most three
    sentences = summary.fact.split("; ")
    assert 1 <= len(sentences) <= 3 and all(any(s in text for text in group.texts) for s in sentences)
    assert all(not memory.get(i).is_valid for i in group.summarized)  # invalidated, never deleted
    assert [memory.get(ids[k]).is_valid for k in ("cafeteria", "sure", "recent", "heuristic")] == [True] * 4
    history = memory.history(summary.id)
    assert {(e.target, e.reason) for e in history.edges if e.relation == "MERGED_FROM"} == \
        {(i, "compression") for i in group.summarized}
    assert (summary.id, "DERIVED_FROM", ids["episode"]) in {(e.source, e.relation, e.target) for e in history.edges}
    assert events[:2] == [("memory.created", summary.id, None),
                          ("memory.consolidated", summary.id, group.summarized[0])]
    assert sorted(events[2:]) == sorted(("memory.invalidated", i, None) for i in group.summarized)
    # the summary stands in for the originals in retrieval
    found = [i.id for i in memory.retrieve("vault key staging deploy", "coder", types=["DomainKnowledge"])]
    assert summary.id in found and not set(group.summarized) & set(found)
    assert memory.compress("coder").groups == ()  # the summary is new: nothing old is left to sum up


def test_a_recently_retrieved_memory_is_not_old_however_long_ago_it_was_learned(aged):
    memory, ids = aged
    memory.retrieve("the deploy script needs the staging key", "coder", types=["DomainKnowledge"], top_k=1)
    [group] = memory.compress("coder", dry_run=True).groups
    assert ids["vault0"] not in group.summarized and len(group.summarized) == 2


def test_the_cutoff_and_keep_confidence_decide_what_is_compressed(aged):
    memory, ids = aged
    assert memory.compress("coder", older_than=timedelta(days=365), dry_run=True).groups == ()
    [group] = memory.compress("coder", keep_confidence=1.0, dry_run=True).groups
    assert ids["sure"] in group.summarized and len(group.summarized) == 4
    everything = memory.compress("coder", older_than=timedelta(0), keep_confidence=1.0, dry_run=True)
    assert ids["recent"] in everything.groups[0].summarized


def test_outcomes_are_never_compressed_and_bad_arguments_are_refused(aged):
    memory, _ = aged
    with pytest.raises(ValidationError, match="events"):
        memory.compress("coder", memory_type="Outcome")
    with pytest.raises(ValidationError, match="older_than"):
        memory.compress("coder", older_than=timedelta(days=-1))
    with pytest.raises(ValidationError, match="keep_confidence"):
        memory.compress("coder", keep_confidence=2)


def test_the_offline_summary_keeps_the_most_central_sentences_once(memory):
    summary = memory.compressor.extract([
        "the deploy needs the vault key. The vault key rotates monthly.",
        "The deploy needs the vault key!",
        "lunch is at noon",
        None,
    ], sentences=2)
    assert summary == "the deploy needs the vault key; The vault key rotates monthly"


def _with_model(open_memory, server: ChatServer) -> GraphMemory:
    return open_memory(consolidation=ConsolidationConfig(on_write=False, llm=LLMConfig(model="summarizer",
                                                                                         base_url=server.url)))


def test_the_model_writes_the_summary(aged, open_memory):
    memory, ids = aged
    url = memory.backend.url
    memory.close()
    answer = {"fields": {"domain": "ops", "fact": "staging deploys need the vault key", "source": None}, "reason": "-"}
    with ChatServer([json.dumps(answer)]) as server:
        memory = _with_model(lambda **o: open_memory(url, **o), server)
        [group] = memory.compress("coder").groups
    assert group.summarized_by == "llm" and group.note is None
    assert memory.get(group.summary_id).fact == "staging deploys need the vault key"
    [request] = server.requests
    assert request["model"] == "summarizer" and "Summarize them into ONE memory" in server.prompts()[0]
    assert all(json.dumps(memory.get(i).fact) in server.prompts()[0] for i in group.summarized)


@pytest.mark.parametrize("reply", [
    "no idea",
    '{"fields": {"domain": "ops", "fact": ""}}',
    json.dumps({"fields": {"domain": "ops", "fact": " and ".join(VAULT * 2)}}),  # longer than the originals
])
def test_an_unusable_model_summary_falls_back_to_the_offline_one_and_says_so(aged, open_memory, reply):
    memory, _ = aged
    url = memory.backend.url
    memory.close()
    with ChatServer([reply]) as server:
        memory = _with_model(lambda **o: open_memory(url, **o), server)
        [group] = memory.compress("coder").groups
    assert group.summarized_by == "offline" and "unusable" in group.note
    assert memory.get(group.summary_id).text == group.text


def test_an_unreachable_model_fails_the_run_and_writes_nothing(aged, open_memory):
    memory, _ = aged
    url = memory.backend.url
    memory.close()
    with ChatServer(status=500) as server:
        memory = _with_model(lambda **o: open_memory(url, **o), server)
        before = memory.stats()
        with pytest.raises(ModelError):
            memory.compress("coder")
    assert memory.stats() == before


def test_the_cli_shows_a_dry_run_then_compresses(tmp_path: Path, capsys):
    url = f"kuzu://{tmp_path / 'db'}"
    with GraphMemory(url, embedder="hashing", consolidation=PILE_UP) as memory:
        memory.register_agent("coder")
        ids = [memory.add_knowledge("coder", "ops", fact, confidence=0.5).id for fact in VAULT]
        backdate(memory, "DomainKnowledge", ids, days=100)
    run = ["--url", url, "--embedder", "hashing", "compress", "--agent", "coder"]
    assert main([*run, "--older-than", "120d", "--dry-run"]) == 0
    assert "would sum up 0 old ones" in capsys.readouterr().out
    assert main([*run, "--older-than", "90d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would sum up 3 old ones" in out and "(dry run)" in out and "= [ops]" in out
    assert main([*run, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dry_run"] is False and sorted(result["groups"][0]["summarized"]) == sorted(ids)
    assert main([*run, "--keep-confidence", "2"]) == 2
    assert "keep_confidence" in capsys.readouterr().err
