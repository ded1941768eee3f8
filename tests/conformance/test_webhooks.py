"""The webhook outbox on every backend: a write and the deliveries it owes are stored together or
not at all, survive reopening the database, and go out in order per memory (plain Cypher over
the Webhook and WebhookDelivery labels, so each database must run it the same way)."""

from __future__ import annotations

import pytest

from alma_graph import MemoryScope
from alma_graph.services.webhook_dispatch import DeliverySettings, WebhookDispatcher

from webhook_receiver import Receiver


def test_a_failing_write_records_no_delivery(memory):
    memory.register_agent(MemoryScope(agent="coder"))
    memory.webhooks.add("https://example.com/hooks")

    def broken_recorder(events):  # runs after the outbox's recorder, inside the same transaction
        raise RuntimeError("the write fails after its deliveries were recorded")

    memory.events.add_recorder(broken_recorder)
    with pytest.raises(RuntimeError):
        memory.add_knowledge("coder", "ops", "never stored")
    counts = memory.stats()
    assert counts["DomainKnowledge"] == 0 and counts["WebhookDelivery"] == 0
    assert memory.webhooks.list()[0].pending == 0


def test_deliveries_survive_reopening_and_go_out_in_order(backend, memory):
    memory.register_agent(MemoryScope(agent="coder"))
    with Receiver() as receiver:
        hook, _ = memory.webhooks.add(receiver.url)
        receiver.stop()
        written = []
        for n in range(2):
            fact = memory.add_knowledge("coder", "ops", f"runbook step {n}")
            memory.update(fact.id, confidence=0.8)
            memory.forget(fact.id)
            written += [(fact.id, "memory.created"), (fact.id, "memory.updated"), (fact.id, "memory.invalidated")]
        memory = backend.reopen(memory)
        assert memory.webhooks.list()[0].pending == len(written)
        receiver.start()
        dispatcher = WebhookDispatcher(memory.webhooks, DeliverySettings())
        try:
            dispatcher.deliver_until_idle()
        finally:
            dispatcher.stop()
    got = [(r.event["memory_id"], r.event["type"]) for r in receiver.received]
    assert sorted(got) == sorted(written)
    for memory_id in {m for m, _ in written}:
        assert [t for m, t in got if m == memory_id] == [t for m, t in written if m == memory_id]
    state = memory.webhooks.list()[0]
    assert (state.pending, state.delivered, state.status) == (0, len(written), "active")
