"""Checks on the stored graph that several conformance tests share.

Plain Cypher through `memory.backend.execute`, in the small dialect every backend reads.
"""

from __future__ import annotations

from alma_graph import GraphMemory, History, MemorySlice


def edges(history: History) -> set[tuple[str, str, str]]:
    return {(e.source, e.relation, e.target) for e in history.edges}


def ids_of(result: MemorySlice) -> list[str]:
    return [item.id for item in result]


def count(memory: GraphMemory, cypher: str, **params: object) -> int:
    """The single count a `... RETURN count(x) AS c` statement returns."""
    return int(memory.backend.execute(cypher, params)[0]["c"])


def next_pairs(memory: GraphMemory, session: str) -> list[tuple[int, int]]:
    """(seq, seq) of every NEXT edge between the session's episodes, sorted; duplicates kept."""
    rows = memory.backend.execute(
        "MATCH (a:Episode)-[:NEXT]->(b:Episode) WHERE a.session = $s RETURN a.seq AS a, b.seq AS b",
        {"s": session},
    )
    return sorted((int(r["a"]), int(r["b"])) for r in rows)


def assert_session_is_one_chain(memory: GraphMemory, session: str, expected_episodes: int) -> None:
    """The session exists once, holds `expected_episodes` episodes numbered 0..n-1, and NEXT links
    each episode to the one after it: no gaps, no duplicates, no forks."""
    n = expected_episodes
    assert count(memory, "MATCH (s:Session) WHERE s.id = $s RETURN count(s) AS c", s=session) == 1
    assert count(memory, "MATCH (:Agent)-[r:HAS_SESSION]->(s:Session) WHERE s.id = $s RETURN count(r) AS c",
                 s=session) == 1
    assert [e.seq for e in memory.episodes(session)] == list(range(n))
    assert count(memory, "MATCH (e:Episode)-[r:IN_SESSION]->(s:Session) WHERE s.id = $s RETURN count(r) AS c",
                 s=session) == n
    assert next_pairs(memory, session) == [(i, i + 1) for i in range(n - 1)]


# One call per write path, each writing exactly one memory of the named type (when allowed).
WRITES = {
    "Heuristic": lambda m, a: m.add_heuristic(a, condition="c", strategy="s"),
    "UserPreference": lambda m, a: m.add_preference(a, user="u", category="c", preference="p"),
    "DomainKnowledge": lambda m, a: m.add_knowledge(a, domain="d", fact="f"),
    "AntiPattern": lambda m, a: m.add_anti_pattern(a, pattern="p", why_bad="w"),
    "Outcome": lambda m, a: m.learn(a, "task", True, "strategy"),
}
# Unlike the WRITES above, so that writing both is two memories, not a repeat that strengthens one.
ADD_MEMORY_FIELDS = {
    "Heuristic": {"condition": "c2", "strategy": "s2"},
    "UserPreference": {"user": "u2", "category": "c2", "preference": "p2"},
    "DomainKnowledge": {"domain": "d2", "fact": "f2"},
    "AntiPattern": {"pattern": "p2", "why_bad": "w2"},
    "Outcome": {"task": "t", "task_type": "x", "success": True, "strategy_used": "s"},
}
