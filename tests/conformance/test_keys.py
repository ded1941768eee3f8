"""API keys and batched reads on every backend: they are plain Cypher over the ApiKey label and
the memory labels, so each database must run them the same way."""

from __future__ import annotations

import pytest

from alma_graph import MemoryScope
from alma_graph.errors import AuthenticationError, NotFoundError, ValidationError


def test_a_key_verifies_until_revoked(memory):
    memory.register_agent(MemoryScope(agent="coder"))
    key, token = memory.keys.create("coder", label="ci")
    identity = memory.keys.verify(token)
    assert (identity.agent, identity.admin, identity.key_id) == ("coder", False, key.id)
    admin, admin_token = memory.keys.create(admin=True)
    assert memory.keys.verify(admin_token).admin
    with pytest.raises(AuthenticationError, match="not known"):
        memory.keys.verify(token[:-1] + ("A" if token[-1] != "A" else "B"))
    memory.keys.revoke(key.id)
    with pytest.raises(AuthenticationError, match="revoked"):
        memory.keys.verify(token)
    assert [(k.id, k.revoked_at is not None) for k in memory.keys.list()] == [(key.id, True), (admin.id, False)]


def test_keys_name_an_existing_agent_or_are_admin(memory):
    with pytest.raises(NotFoundError):
        memory.keys.create("nobody")
    with pytest.raises(ValidationError, match="agent"):
        memory.keys.create("nobody", admin=True)
    with pytest.raises(NotFoundError):
        memory.keys.revoke("0123456789abcdef")


def test_batched_reads_respect_readers(memory):
    for name in ("coder", "writer"):
        memory.register_agent(MemoryScope(agent=name))
    turn = memory.remember("the deploy broke", "coder", session="coder/s1")
    mine = memory.add_knowledge("coder", "ops", "deploys break on Fridays", derived_from=[turn.id])
    theirs = memory.add_knowledge("writer", "style", "short sentences")
    services = memory.memories
    assert set(services.items([mine.id, theirs.id, turn.id], frozenset({"coder"}))) == {mine.id, turn.id}
    assert set(services.items([mine.id, theirs.id])) == {mine.id, theirs.id}
    derived = services.neighbours([mine.id, theirs.id], "DERIVED_FROM", outgoing=True, readers=frozenset({"coder"}))
    assert [e.id for e in derived[mine.id]] == [turn.id] and derived[theirs.id] == []
    walk = services.related([mine.id], depth=2, relations=["DERIVED_FROM", "NEXT"], readers=frozenset({"coder"}))
    assert [(r.item.id, r.relation, r.direction, r.distance) for r in walk[mine.id]] == \
        [(turn.id, "DERIVED_FROM", "out", 1)]
    assert services.related([mine.id], depth=1, relations=["DERIVED_FROM"], readers=frozenset({"writer"}))[mine.id] == []
