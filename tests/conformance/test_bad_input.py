"""Bad input is refused with an error naming the field and changes nothing stored; a write that
fails halfway leaves nothing behind; text full of query syntax is data, stored verbatim."""

from __future__ import annotations

from datetime import datetime

import pytest

from alma_graph import BackendError, NotFoundError, ValidationError

from .graph_checks import assert_session_is_one_chain


@pytest.fixture
def stored(memory, agent) -> dict[str, str]:
    """Some of everything; the tests below check it is all still there, unchanged."""
    memory.register_agent("other")
    memory.remember("someone else's turn", "other", session="other-s")
    e = memory.remember("the deploy failed at 3am", agent, session="s1", source_id="pager:1")
    memory.remember("rolled back to v41", agent, session="s1")
    k = memory.add_knowledge(agent, domain="ops", fact="deploys need a rollback plan", derived_from=[e.id])
    return {"episode": e.id, "knowledge": k.id}


def assert_unchanged(memory, stored: dict[str, str], before: dict[str, int]) -> None:
    assert memory.stats() == before
    knowledge = memory.get(stored["knowledge"])
    assert knowledge.is_valid and knowledge.fact == "deploys need a rollback plan"
    assert [e.text for e in memory.episodes("s1")] == ["the deploy failed at 3am", "rolled back to v41"]
    assert_session_is_one_chain(memory, "s1", 2)


K = "knowledge"
BAD_CALLS = {
    "int as episode text": (lambda m, i: m.remember(42, "coder", session="s1"), "episodes[0].text"),
    "blank fact": (lambda m, i: m.add_knowledge("coder", domain="d", fact="   "), "fact"),
    "NUL in fact": (lambda m, i: m.add_knowledge("coder", domain="d", fact="a\x00b"), "fact"),
    "confidence 1.5": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f", confidence=1.5), "confidence"),
    "datetime in metadata": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f",
                                                           metadata={"when": datetime.now()}), "metadata"),
    "string as bool field": (lambda m, i: m.add_memory("Outcome", "coder", {
        "task": "t", "task_type": "x", "success": "yes", "strategy_used": "s"}), "success"),
    "unknown field": (lambda m, i: m.add_memory("Heuristic", "coder", {
        "condition": "c", "strategy": "s", "colour": "red"}), "colour"),
    "unknown memory type": (lambda m, i: m.add_memory("Fact", "coder", {"fact": "f"}), "type"),
    "derived_from as a string": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f",
                                                               derived_from=i["episode"]), "derived_from"),
    "episode in supersedes": (lambda m, i: m.add_knowledge("coder", domain="d", fact="f",
                                                            supersedes=[i["episode"]]), "supersedes"),
    "another agent's session": (lambda m, i: m.remember("hi", "coder", session="other-s"), "session"),
    "second episode of a batch blank": (lambda m, i: m.remember_many("coder", [
        {"text": "a fine turn", "session": "s1"}, {"text": "", "session": "s1"}]), "episodes[1].text"),
    "misspelt episode field": (lambda m, i: m.remember_many("coder", [{"text": "t", "sesion": "s1"}]),
                               "episodes[0].sesion"),
    "unparseable timestamp": (lambda m, i: m.remember("hi", "coder", timestamp="yesterday"),
                              "episodes[0].timestamp"),
    "update with no change": (lambda m, i: m.update(i[K]), "changes"),
    "update of an unknown field": (lambda m, i: m.update(i[K], nonsense=1), "nonsense"),
    "update importance 2": (lambda m, i: m.update(i[K], importance=2), "importance"),
    "update of an episode": (lambda m, i: m.update(i["episode"], fact="x"), "id"),
    "forget of an episode": (lambda m, i: m.forget(i["episode"]), "id"),
    "bad agent name": (lambda m, i: m.register_agent("no spaces allowed"), "scope.agent"),
    "top_k 0": (lambda m, i: m.retrieve("q", "coder", top_k=0), "top_k"),
    "since after until": (lambda m, i: m.retrieve("q", "coder", since="2024-02-01", until="2024-01-01"), "since"),
    "unknown type in types": (lambda m, i: m.retrieve("q", "coder", types=["Fact"]), "types"),
}


def test_bad_input_is_a_validation_error_naming_the_field_and_changes_nothing(memory, stored):
    before = memory.stats()
    for case, (call, field) in BAD_CALLS.items():
        with pytest.raises(ValidationError) as err:
            call(memory, stored)
        assert err.value.field == field, case
    assert_unchanged(memory, stored, before)


MISSING_IDS = {
    "derived_from": lambda m, i: m.add_knowledge("coder", domain="d", fact="f",
                                                 derived_from=[i["episode"], "ep_missing"]),
    "supersedes": lambda m, i: m.add_knowledge("coder", domain="d", fact="f", supersedes=["ep_missing"]),
    "learn episodes": lambda m, i: m.learn("coder", "t", True, "s", episodes=["ep_missing"]),
    "get": lambda m, i: m.get("ep_missing"),
    "update": lambda m, i: m.update("ep_missing", fact="x"),
    "forget": lambda m, i: m.forget("ep_missing"),
    "hard forget": lambda m, i: m.forget("ep_missing", hard=True),
    "history": lambda m, i: m.history("ep_missing"),
    "unknown agent": lambda m, i: m.remember("hello", "ghost"),
}


def test_a_missing_id_is_not_found_and_nothing_is_written(memory, stored):
    before = memory.stats()
    for case, call in MISSING_IDS.items():
        with pytest.raises(NotFoundError) as err:
            call(memory, stored)
        assert err.value.key in ("ep_missing", "ghost"), case
    assert_unchanged(memory, stored, before)


def fail_on(monkeypatch, memory, rel: str) -> None:
    """Make the backend fail when a write reaches its `rel` edges (the nodes already written)."""
    create_edges = memory.backend.create_edges

    def failing(edge_type, *args, **kwargs):
        if edge_type == rel:
            raise BackendError(f"injected failure while writing {rel} edges")
        return create_edges(edge_type, *args, **kwargs)

    monkeypatch.setattr(memory.backend, "create_edges", failing)


@pytest.mark.parametrize("rel, write", [
    ("NEXT", lambda m, i: m.remember_many("coder", [{"text": f"turn {n}", "session": "s1"} for n in range(3)])),
    ("HAS_SESSION", lambda m, i: m.remember("the first turn of a new session", "coder", session="s2")),
    ("DERIVED_FROM", lambda m, i: m.add_knowledge("coder", domain="d", fact="f", derived_from=[i["episode"]])),
    ("SUPERSEDES", lambda m, i: m.update(i["knowledge"], fact="deploys need no plan")),
    # The new words' Concept nodes are written just before their MENTIONS edges.
    ("MENTIONS", lambda m, i: m.add_knowledge("coder", domain="zoology", fact="axolotls regrow limbs")),
])
def test_a_write_that_fails_halfway_leaves_nothing_behind(monkeypatch, memory, stored, rel, write):
    before = memory.stats()
    fail_on(monkeypatch, memory, rel)
    with pytest.raises(BackendError, match="injected failure"):
        write(memory, stored)
    monkeypatch.undo()
    assert memory.sessions("coder")[0].id == "s1" and len(memory.sessions("coder")) == 1
    assert_unchanged(memory, stored, before)
    write(memory, stored)  # the same write goes through once the failure is gone
    assert memory.stats() != before


HOSTILE_TEXTS = [
    "x'}) DETACH DELETE n //",
    "'); MATCH (n) DETACH DELETE n; //",
    '"}) RETURN 1 UNION MATCH (n) SET n.agent = "evil" //',
    "$param {a: 1} `backtick` \\ back\\slash",
    "-- /* comment */ ; CALL db.idx.fulltext.drop('Episode')",
    "@text:(a|b) -c* ~d %e% \"f\" AND OR NOT +g title:h^2",
    "line one\nline two\ttabbed\r\nwindows",
    "unicode ✓ émoji 🚀 中文 ﬁ",
]


def test_text_full_of_query_syntax_is_stored_verbatim(memory, agent):
    for n, text in enumerate(HOSTILE_TEXTS):
        e = memory.remember(text, agent, session=f"hostile {n} {text}"[:200], source_id=text, metadata={text: text})
        k = memory.add_knowledge(agent, domain=text, fact=text, source=text, metadata={"v": text})
        assert memory.get(e.id) == e and memory.get(k.id) == k
        assert (e.text, e.source_id, e.metadata, k.fact, k.domain) == (text, text, {text: text}, text, text)
    stats = memory.stats()
    assert (stats["Episode"], stats["DomainKnowledge"], stats["Agent"]) == (len(HOSTILE_TEXTS),) * 2 + (1,)
    assert {r["a"] for r in memory.backend.execute("MATCH (n:Episode) RETURN n.agent AS a")} == {agent}


@pytest.mark.requires("vector_search")
def test_queries_full_of_query_syntax_are_searched_as_plain_words(memory, agent):
    written = []
    for text in HOSTILE_TEXTS:
        e = memory.remember(text, agent)
        written.append({e.id, memory.add_knowledge(agent, domain="hostile", fact=text).id})
    for text, own in zip(HOSTILE_TEXTS, written):
        assert own & {item.id for item in memory.retrieve(text, agent, top_k=5)}, text
    for text in ["*", "AND OR NOT", "~!@#$%^&*()_+", "\"unbalanced", "a" * 5000, "\x01\x02 \\"]:
        memory.retrieve(text, agent, top_k=5)  # nothing to find, nothing to break
    assert {item.id for item in memory.retrieve("evil UNION", agent, top_k=2)} == written[2]
    assert memory.stats()["Episode"] == len(HOSTILE_TEXTS)
