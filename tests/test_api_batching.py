"""Nested traversal fields are batched: the statements a query runs do not grow with the number
of items it walks from (no N+1)."""

from __future__ import annotations

import asyncio

import pytest

from alma_graph import GraphMemory, MemoryScope
from alma_graph.api.context import Context
from alma_graph.api.schema import build_schema
from alma_graph.services.keys import ADMIN

WALK = """query($n: Int!) { agent(name: "coder") { memories(limit: $n) {
  id learnedBy { name } supersededBy { id } supersedes { id }
  derivedFrom { id ... on Episode { session { id episodeCount } } }
  related(depth: 2) { item { id } } } } }"""


@pytest.fixture
def memory(tmp_path):
    with GraphMemory(f"kuzu://{tmp_path / 'db'}", embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="coder"))
        for i in range(30):
            turns = memory.remember_many("coder", [{"text": f"turn {i} a", "session": f"s{i}"},
                                                   {"text": f"turn {i} b", "session": f"s{i}"}])
            memory.add_knowledge("coder", "python", f"fact {i}", derived_from=[t.id for t in turns])
        yield memory


def statements(memory: GraphMemory, n: int) -> tuple[int, list]:
    calls = []
    execute = memory.backend.execute

    def counting(query, params=None):
        calls.append(query)
        return execute(query, params)

    memory.backend.execute = counting
    try:
        result = asyncio.run(build_schema().execute(WALK, {"n": n}, context_value=Context(memory, ADMIN)))
    finally:
        memory.backend.execute = execute
    assert not result.errors, result.errors
    return len(calls), result.data["agent"]["memories"]


def test_statements_do_not_grow_with_the_items_walked(memory):
    few, few_items = statements(memory, 3)
    many, many_items = statements(memory, 30)
    assert len(few_items) == 3 and len(many_items) == 30
    assert all(len(m["derivedFrom"]) == 2 and m["derivedFrom"][0]["session"]["episodeCount"] == 2 for m in many_items)
    assert all(m["learnedBy"] == {"name": "coder"} for m in many_items)
    assert many == few
