"""Bad input is refused with an error that names the field, and never changes what is stored.
Values travel as query parameters, so text full of Cypher and quotes is stored verbatim."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np
import pytest

import alma_graph
from alma_graph import GraphMemory, MemoryScope, NotFoundError, ValidationError
from alma_graph.embed import HashingEmbedder

INJECTION_AGENT = "x'}) DETACH DELETE n //"
INJECTION_TYPE = "Heuristic) DETACH DELETE (n"
INJECTION_FIELD = "text = 'x', n.agent"


@pytest.fixture(scope="module")
def stored(new_db_url):
    """A database with some of everything; every bad call below must leave it exactly as is."""
    memory = GraphMemory(new_db_url("bad-input"), embedder="hashing")
    memory.register_agent(MemoryScope(agent="coder"))
    memory.register_agent(MemoryScope(agent="other", cannot_learn=["UserPreference"]))
    e = memory.remember("the deploy failed at 3am", "coder", session="s1", source_id="pager:1")
    memory.remember("rolled back to v41", "coder", session="s1")
    k = memory.add_knowledge("coder", domain="ops", fact="deploys need a rollback plan", derived_from=[e.id])
    p = memory.add_preference("coder", user="ann", category="alerts", preference="no pages at night")
    for i in range(3):
        memory.learn("coder", f"deploy {i}", True, "blue-green", task_type="deploy")
    ids = {"episode": e.id, "knowledge": k.id, "preference": p.id}
    yield memory, ids
    memory.close()


def assert_unchanged(memory: GraphMemory, ids: dict[str, str], before: dict[str, int]) -> None:
    assert memory.stats() == before
    for node_id in ids.values():
        assert memory.get(node_id).id == node_id
    assert memory.get(ids["knowledge"]).is_valid
    assert memory.retrieve("rollback plan", "coder", types=["DomainKnowledge"])[0].id == ids["knowledge"]


K = "knowledge"  # the id every update call below targets
BAD_CALLS: dict[str, tuple[Callable[[GraphMemory, dict[str, str]], object], str]] = {
    # wrong types
    "int as episode text": (lambda m, i: m.remember(42, "coder"), "episodes[0].text"),
    "int as fact": (lambda m, i: m.add_knowledge("coder", domain="d", fact=42), "fact"),
    "list as condition": (lambda m, i: m.add_heuristic("coder", condition=["a"], strategy="s"), "condition"),
    "bytes as preference": (lambda m, i: m.add_preference("coder", user="u", category="c", preference=b"p"),
                            "preference"),
    "int as query": (lambda m, i: m.retrieve(7, "coder"), "query"),
    "int as id": (lambda m, i: m.get(7), "id"),
    "str as confidence": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence="high"),
                          "confidence"),
    "confidence 1.5": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence=1.5), "confidence"),
    "confidence -0.1": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence=-0.1), "confidence"),
    "confidence nan": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence=math.nan),
                       "confidence"),
    "bool as confidence": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence=True),
                           "confidence"),
    "importance 2": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", importance=2), "importance"),
    "update confidence 1.5": (lambda m, i: m.update(i[K], confidence=1.5), "confidence"),
    "update importance str": (lambda m, i: m.update(i[K], importance="very"), "importance"),
    "str as bool field": (lambda m, i: m.add_memory("Outcome", "coder", {
        "task": "t", "task_type": "x", "success": "yes", "strategy_used": "s"}), "success"),
    "negative count": (lambda m, i: m.add_memory("Heuristic", "coder", {
        "condition": "c", "strategy": "s", "occurrence_count": -1}), "occurrence_count"),
    "negative duration": (lambda m, i: m.learn("coder", "t", True, "s", duration_ms=-5), "duration_ms"),
    "int as error": (lambda m, i: m.learn("coder", "t", False, "s", error=500), "error"),
    "top_k 0": (lambda m, i: m.retrieve("q", "coder", top_k=0), "top_k"),
    "top_k '10'": (lambda m, i: m.retrieve("q", "coder", top_k="10"), "top_k"),
    "top_k -3": (lambda m, i: m.retrieve("q", "coder", top_k=-3), "top_k"),
    "top_k 2.5": (lambda m, i: m.retrieve("q", "coder", top_k=2.5), "top_k"),
    "top_k True": (lambda m, i: m.retrieve("q", "coder", top_k=True), "top_k"),
    "top_k too big": (lambda m, i: m.retrieve("q", "coder", top_k=10**6), "top_k"),
    # metadata
    "list as metadata": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", metadata=["a"]), "metadata"),
    "str as episode metadata": (lambda m, i: m.remember("hi", "coder", metadata="k=v"), "episodes[0].metadata"),
    "int as update metadata": (lambda m, i: m.update(i[K], metadata=5), "metadata"),
    "datetime in metadata": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f",
                                                           metadata={"when": datetime.now()}), "metadata"),
    "set in metadata": (lambda m, i: m.remember("hi", "coder", metadata={"tags": {"a", "b"}}),
                        "episodes[0].metadata"),
    "object in update metadata": (lambda m, i: m.update(i[K], metadata={"x": object()}), "metadata"),
    "non-str metadata key": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", metadata={1: "a"}),
                             "metadata"),
    # times
    "since after until": (lambda m, i: m.retrieve("q", "coder", since="2024-02-01", until="2024-01-01"), "since"),
    "unparseable since": (lambda m, i: m.retrieve("q", "coder", since="last tuesday"), "since"),
    "unparseable until": (lambda m, i: m.retrieve("q", "coder", until=[2024]), "until"),
    "unparseable timestamp": (lambda m, i: m.remember("hi", "coder", timestamp="yesterday"),
                              "episodes[0].timestamp"),
    "implausible epoch": (lambda m, i: m.remember("hi", "coder", timestamp=1e15), "episodes[0].timestamp"),
    "bad valid_from": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", valid_from="soon"),
                       "valid_from"),
    # empty, whitespace, NUL, oversized text
    "empty episode text": (lambda m, i: m.remember("", "coder"), "episodes[0].text"),
    "whitespace episode text": (lambda m, i: m.remember("  \n\t ", "coder"), "episodes[0].text"),
    "whitespace second episode": (lambda m, i: m.remember_many("coder", [{"text": "ok"}, {"text": " "}]),
                                  "episodes[1].text"),
    "empty fact": (lambda m, i: m.add_knowledge("coder", domain="d", fact=""), "fact"),
    "whitespace domain": (lambda m, i: m.add_knowledge("coder", domain="   ", fact="f"), "domain"),
    "missing required field": (lambda m, i: m.add_memory("DomainKnowledge", "coder", {"domain": "d"}), "fact"),
    "whitespace query": (lambda m, i: m.retrieve("   ", "coder"), "query"),
    "empty task": (lambda m, i: m.learn("coder", "", True, "s"), "task"),
    "whitespace strategy": (lambda m, i: m.learn("coder", "t", True, "  "), "strategy_used"),
    "whitespace task_type": (lambda m, i: m.learn("coder", "t", True, "s", task_type=" "), "task_type"),
    "empty update field": (lambda m, i: m.update(i[K], fact=" "), "fact"),
    "empty session": (lambda m, i: m.remember("hi", "coder", session=""), "episodes[0].session"),
    "NUL in fact": (lambda m, i: m.add_knowledge("coder", domain="d", fact="a\x00b"), "fact"),
    "oversized text": (lambda m, i: m.remember("x" * 100_001, "coder"), "episodes[0].text"),
    "no changes in update": (lambda m, i: m.update(i[K]), "changes"),
    # unknown types and fields
    "unknown type in types": (lambda m, i: m.retrieve("q", "coder", types=["Fact"]), "types"),
    "empty types": (lambda m, i: m.retrieve("q", "coder", types=[]), "types"),
    "unknown type in add_memory": (lambda m, i: m.add_memory("Fact", "coder", {"text": "t"}), "type"),
    "lowercase type in add_memory": (lambda m, i: m.add_memory("heuristic", "coder", {}), "type"),
    "unknown field in add_memory": (lambda m, i: m.add_memory("DomainKnowledge", "coder", {
        "domain": "d", "fact": "f", "colour": "red"}), "colour"),
    "common field in add_memory": (lambda m, i: m.add_memory("DomainKnowledge", "coder", {
        "domain": "d", "fact": "f", "agent": "other"}), "agent"),
    "unknown field in update": (lambda m, i: m.update(i[K], colour="red"), "colour"),
    "text in update": (lambda m, i: m.update(i[K], text="sneaky"), "text"),
    "id in update": (lambda m, i: m.update(i[K], id="heur_x"), "id"),
    "valid_to in update": (lambda m, i: m.update(i[K], valid_to=None), "valid_to"),
    "unknown episode field": (lambda m, i: m.remember_many("coder", [{"text": "t", "speaker": "ann"}]),
                              "episodes[0].speaker"),
    "non-mapping episode": (lambda m, i: m.remember_many("coder", ["just text"]), "episodes[0]"),
    "str as derived_from": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", derived_from=i[K]),
                            "derived_from"),
    "ints in derived_from": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", derived_from=[1]),
                             "derived_from"),
    "another agent's memory in supersedes": (lambda m, i: m.add_knowledge("other", domain="d", fact="f",
                                                                           supersedes=[i[K]]), "supersedes"),
    "update of an episode": (lambda m, i: m.update(i["episode"], text="x"), "id"),
    # injection attempts in names
    "injection in agent (add)": (lambda m, i: m.add_knowledge(INJECTION_AGENT, domain="d", fact="f"), "agent"),
    "injection in agent (retrieve)": (lambda m, i: m.retrieve("q", INJECTION_AGENT), "agent"),
    "injection in agent (remember)": (lambda m, i: m.remember("hi", INJECTION_AGENT), "agent"),
    "injection in agent (learn)": (lambda m, i: m.learn(INJECTION_AGENT, "t", True, "s"), "agent"),
    "injection in agent (get_agent)": (lambda m, i: m.get_agent(INJECTION_AGENT), "agent"),
    "injection in agent (sessions)": (lambda m, i: m.sessions(INJECTION_AGENT), "agent"),
    "injection in types": (lambda m, i: m.retrieve("q", "coder", types=[INJECTION_TYPE]), "types"),
    "injection in types as str": (lambda m, i: m.retrieve("q", "coder", types=INJECTION_TYPE), "types"),
    "injection in add_memory type": (lambda m, i: m.add_memory(INJECTION_TYPE, "coder", {}), "type"),
    "injection in update field": (lambda m, i: m.update(i[K], **{INJECTION_FIELD: "y"}), INJECTION_FIELD),
    "injection in add_memory field": (lambda m, i: m.add_memory("DomainKnowledge", "coder", {
        "domain": "d", "fact": "f", INJECTION_FIELD: "y"}), INJECTION_FIELD),
    "injection in episode field": (lambda m, i: m.remember_many("coder", [{"text": "t", INJECTION_FIELD: 1}]),
                                   f"episodes[0].{INJECTION_FIELD}"),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_input_is_a_validation_error_naming_the_field_and_changes_nothing(stored, case):
    memory, ids = stored
    call, field = BAD_CALLS[case]
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        call(memory, ids)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert isinstance(err.value, ValueError) and isinstance(err.value, alma_graph.AlmaGraphError)
    assert_unchanged(memory, ids, before)


NOT_FOUND_CALLS = {
    "unknown agent (add)": lambda m, i: m.add_knowledge("ghost", domain="d", fact="f"),
    "unknown agent (retrieve)": lambda m, i: m.retrieve("q", "ghost"),
    "unknown agent (learn)": lambda m, i: m.learn("ghost", "t", True, "s"),
    "unknown id (get)": lambda m, i: m.get("x' OR '1'='1"),
    "unknown id (update)": lambda m, i: m.update("doma_missing", fact="x"),
    "unknown id (forget)": lambda m, i: m.forget("') DETACH DELETE n //", hard=True),
    "unknown id (history)": lambda m, i: m.history("nope"),
    "unknown derived_from": lambda m, i: m.add_knowledge("coder", domain="d", fact="f", derived_from=["ep_nope"]),
    "unknown episode in learn": lambda m, i: m.learn("coder", "t", True, "s", episodes=["ep_nope"]),
}


@pytest.mark.parametrize("case", list(NOT_FOUND_CALLS))
def test_unknown_agents_and_ids_are_not_found_and_change_nothing(stored, case):
    memory, ids = stored
    before = memory.stats()
    with pytest.raises(NotFoundError):
        NOT_FOUND_CALLS[case](memory, ids)
    assert_unchanged(memory, ids, before)


def test_injection_in_a_registered_agent_name_is_refused_and_changes_nothing(stored):
    memory, ids = stored
    before = memory.stats()
    with pytest.raises(ValueError, match="not a valid agent name"):
        memory.register_agent(INJECTION_AGENT)
    with pytest.raises(ValueError, match="unknown memory type"):
        memory.register_agent("fine", can_learn=[INJECTION_TYPE])
    assert_unchanged(memory, ids, before)
    assert [a.name for a in memory.agents()] == ["coder", "other"]


def test_injection_in_a_registered_agent_name_is_a_validation_error_naming_the_field(stored):
    memory, _ = stored
    with pytest.raises(ValidationError) as err:
        memory.register_agent(INJECTION_AGENT)
    assert err.value.field == "scope.agent"


def test_an_episode_in_supersedes_is_a_validation_error_naming_supersedes(stored):
    memory, ids = stored
    before = memory.stats()
    try:
        with pytest.raises(ValidationError) as err:
            memory.add_knowledge("coder", domain="d", fact="f", supersedes=[ids["episode"]])
        assert err.value.field == "supersedes"
    finally:
        assert_unchanged(memory, ids, before)


@pytest.mark.parametrize("metadata", [[1], "k=v"])
def test_non_mapping_metadata_in_learn_is_a_validation_error(stored, metadata):
    memory, ids = stored
    before = memory.stats()
    try:
        with pytest.raises(ValidationError) as err:
            memory.learn("coder", "t", True, "s", metadata=metadata)
        assert err.value.field == "metadata"
    finally:
        assert_unchanged(memory, ids, before)


def test_empty_task_type_in_learn_is_a_validation_error(memory, agent):
    before = memory.stats()
    with pytest.raises(ValidationError) as err:
        memory.learn(agent, "t", True, "s", task_type="")
    assert err.value.field == "task_type"
    assert memory.stats() == before


# -- an embedder that returns vectors of the wrong width ---------------------------------------


class WrongWidthEmbedder(HashingEmbedder):
    """Claims 384 dimensions (and the name hashing-v2-384) but returns other widths."""

    def __init__(self, width: int):
        super().__init__()
        self.width = width

    def embed(self, texts):
        vectors = super().embed(texts)
        return np.tile(vectors, 3)[:, : self.width]


WRITES_WITH_EMBEDDINGS = {
    "add_knowledge": lambda m, i: m.add_knowledge("coder", domain="d", fact="a new fact"),
    "remember": lambda m, i: m.remember("a new turn", "coder", session="s1"),
    "remember_many": lambda m, i: m.remember_many("coder", [{"text": f"turn {n}"} for n in range(4)]),
    "learn": lambda m, i: m.learn("coder", "a new task", True, "blue-green", task_type="deploy"),
    "update content": lambda m, i: m.update(i["knowledge"], fact="changed"),
}


@pytest.fixture
def wrong_width(memory, agent, reopen):
    e = memory.remember("first turn", agent, session="s1")
    k = memory.add_knowledge(agent, domain="d", fact="kept fact", derived_from=[e.id])
    ids = {"episode": e.id, "knowledge": k.id}

    def _open(width: int) -> tuple[GraphMemory, dict[str, str]]:
        return reopen(embedder=WrongWidthEmbedder(width)), ids

    return _open


@pytest.mark.parametrize("width", [10, 768])
@pytest.mark.parametrize("write", list(WRITES_WITH_EMBEDDINGS))
def test_wrong_embedding_width_is_an_error_and_nothing_is_written(wrong_width, write, width):
    memory, ids = wrong_width(width)
    before = memory.stats()
    with pytest.raises(ValidationError) as raised:
        WRITES_WITH_EMBEDDINGS[write](memory, ids)
    assert raised.value.field == "embedder"
    assert memory.stats() == before
    assert memory.get(ids["knowledge"]).is_valid and memory.get(ids["knowledge"]).fact == "kept fact"
    assert [e.text for e in memory.episodes("s1")] == ["first turn"]


def test_wrong_embedding_width_on_retrieve_is_a_validation_error(wrong_width):
    memory, _ = wrong_width(10)
    with pytest.raises(ValidationError):
        memory.retrieve("kept fact", "coder")


@pytest.mark.parametrize("write", list(WRITES_WITH_EMBEDDINGS))
def test_wrong_embedding_width_on_write_is_an_alma_graph_error(wrong_width, write):
    memory, ids = wrong_width(10)
    with pytest.raises(alma_graph.AlmaGraphError):
        WRITES_WITH_EMBEDDINGS[write](memory, ids)


# -- hostile text is data, not query ------------------------------------------------------------

HOSTILE_TEXTS = [
    INJECTION_AGENT,
    "'); MATCH (n) DETACH DELETE n; //",
    '"}) RETURN 1 UNION MATCH (n) SET n.agent = "evil" //',
    "$param {a: 1} `backtick` \\ back\\slash",
    "-- /* comment */ ; CALL drop_fts_index('Episode', 'episode_text_fts')",
    "line one\nline two\ttabbed\r\nwindows",
    "unicode ✓ émoji 🚀 中文 ﬁ",
    "'",
    '"',
    "(",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=[f"text{i}" for i in range(len(HOSTILE_TEXTS))])
def test_text_with_cypher_and_quote_characters_is_stored_and_returned_verbatim(memory, agent, text):
    session = text.strip()[:200] or "s"
    e = memory.remember(text, agent, session=session, source_id=text, metadata={text: text})
    k = memory.add_knowledge(agent, domain=text, fact=text, source=text, metadata={"v": text})
    p = memory.add_preference(agent, user=text, category=text, preference=text)
    got_e, got_k = memory.get(e.id), memory.get(k.id)
    assert (got_e.text, got_e.session, got_e.source_id, got_e.metadata) == (text, session, text, {text: text})
    assert (got_k.domain, got_k.fact, got_k.source, got_k.metadata) == (text, text, text, {"v": text})
    assert memory.get(p.id).user == text
    assert [x.text for x in memory.episodes(session)] == [text]

    v2 = memory.update(k.id, fact=text + " (v2)")
    assert memory.get(v2.id).fact == text + " (v2)"
    result = memory.retrieve(text, agent, top_k=10)
    returned = {item.id: item for item in result}
    assert returned[e.id].text == text and returned[e.id].source_ids == (text,)
    assert {item.memory.agent for item in result if item.memory} == {agent}

    stats = memory.stats()
    assert (stats["Episode"], stats["DomainKnowledge"], stats["UserPreference"], stats["Agent"]) == (1, 2, 1, 1)
    assert memory.backend.execute("MATCH (n:Episode) RETURN n.agent AS a") == [{"a": agent}]


def test_hostile_query_strings_do_not_break_retrieval(memory, agent):
    memory.add_knowledge(agent, domain="d", fact="plain fact about queries")
    for query in HOSTILE_TEXTS + ["*", "AND OR NOT", "~!@#$%^&*()_+", "a" * 5000]:
        result = memory.retrieve(query, agent)
        assert all(item.memory.agent == agent for item in result)
    assert memory.stats()["DomainKnowledge"] == 1


def test_timestamps_before_1970_and_far_future_round_trip(memory, agent):
    old = datetime(1969, 7, 20, 20, 17, tzinfo=timezone.utc)
    future = datetime(2999, 1, 1, tzinfo=timezone.utc)
    assert memory.get(memory.remember("moon landing", agent, timestamp=old).id).timestamp == old
    assert memory.get(memory.remember("far future", agent, timestamp=future).id).timestamp == future
