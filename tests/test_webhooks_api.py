"""Webhooks through a real `alma-graph serve` process: configured over GraphQL (admin keys only),
delivered by the server, and not lost when the server is killed (SIGKILL) before it could
deliver: the restarted server sends everything, in order per memory."""

from __future__ import annotations

import pytest

from alma_graph import GraphMemory
from alma_graph.services.webhook_dispatch import verify
from api_server import serve
from webhook_receiver import Receiver, wait_for

# Fast retries, so a test waits for deliveries in fractions of a second.
FAST = {"ALMA_WEBHOOK_POLL_SECONDS": "0.05", "ALMA_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
        "ALMA_WEBHOOK_BACKOFF_CAP_SECONDS": "0.2"}
ADD_WEBHOOK = """mutation($url: String!, $events: [EventType!]) {
  addWebhook(url: $url, events: $events) { secret webhook { id url events status } }
}"""
WEBHOOKS = "{ webhooks { id status pending failed delivered lastError failedAt } }"
ADD = 'mutation($fact: String!) { addKnowledge(agent: "coder", domain: "ops", fact: $fact) { id } }'


@pytest.fixture
def database(db_url):
    url = db_url
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent("coder")
        keys = {"admin": memory.keys.create(admin=True)[1], "agent": memory.keys.create("coder")[1]}
    return url, keys


def _write(server, key: str) -> list[tuple[str, str]]:
    """Two memories, each created, updated and forgotten, over GraphQL: (memory id, event type)."""
    written = []
    for n in range(2):
        memory_id = server.data(ADD, {"fact": f"deploys need approval {n}"}, key)["addKnowledge"]["id"]
        server.data('mutation($id: ID!) { updateMemory(id: $id, importance: 0.9) { id } }', {"id": memory_id}, key)
        server.data('mutation($id: ID!) { forget(id: $id) }', {"id": memory_id}, key)
        written += [(memory_id, "memory.created"), (memory_id, "memory.updated"), (memory_id, "memory.invalidated")]
    return written


def test_deliveries_survive_a_killed_server(database, tmp_path):
    url, keys = database
    receiver = Receiver().start()
    receiver.stop()  # the receiver is down while the first server runs
    with serve(url, log_dir=tmp_path, env=FAST) as server:
        added = server.data(ADD_WEBHOOK, {"url": receiver.url}, keys["admin"])["addWebhook"]
        secret = added["secret"]
        assert added["webhook"]["status"] == "ACTIVE" and len(added["webhook"]["events"]) == 7
        written = _write(server, keys["agent"])
        wait_for(lambda: server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]["lastError"],
                 what="an attempt while the receiver is down")
        assert server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]["pending"] == len(written)
        server.process.kill()  # SIGKILL: no shutdown, no flush
        server.process.wait()
    receiver.start()
    try:
        with serve(url, log_dir=tmp_path, env=FAST) as server:
            wait_for(lambda: len(receiver.received) >= len(written), what="every delivery after the restart")
            wait_for(lambda: server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]["pending"] == 0,
                     what="the outbox to empty")
    finally:
        receiver.stop()
    got = [(r.event["memory_id"], r.event["type"]) for r in receiver.received]
    for memory_id in {m for m, _ in written}:
        assert [t for m, t in got if m == memory_id] == [t for m, t in written if m == memory_id]
    for r in receiver.received:
        assert verify(secret, r.headers["x-alma-timestamp"], r.body, r.headers["x-alma-signature"])
    assert len({r.headers["x-alma-event-id"] for r in receiver.received}) == len(written)


def test_webhooks_over_graphql_are_for_admins_and_show_a_failed_endpoint(database, tmp_path):
    url, keys = database
    with Receiver() as receiver, serve(url, log_dir=tmp_path, env=FAST) as server:
        receiver.status = 403
        denied = server.post(WEBHOOKS, key=keys["agent"]).json()["errors"][0]
        assert denied["extensions"]["code"] == "FORBIDDEN" and denied["extensions"]["field"] == "webhooks"
        bad = server.post(ADD_WEBHOOK, {"url": "file:///etc/passwd"}, key=keys["admin"]).json()["errors"][0]
        assert bad["extensions"]["code"] == "BAD_INPUT" and bad["extensions"]["field"] == "url"
        hook = server.data(ADD_WEBHOOK, {"url": receiver.url, "events": ["MEMORY_CREATED"]},
                           keys["admin"])["addWebhook"]["webhook"]
        server.data(ADD, {"fact": "the pager rotates weekly"}, keys["agent"])
        wait_for(lambda: server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]["status"] == "FAILED",
                 what="the webhook to fail")
        state = server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]
        assert (state["failed"], state["pending"]) == (1, 0) and "HTTP 403" in state["lastError"] and state["failedAt"]
        receiver.status = 200
        enabled = server.data('mutation($id: ID!) { enableWebhook(id: $id) { status } }', {"id": hook["id"]},
                              keys["admin"])
        assert enabled["enableWebhook"]["status"] == "ACTIVE"
        wait_for(lambda: server.data(WEBHOOKS, key=keys["admin"])["webhooks"][0]["delivered"] == 1,
                 what="the delivery after enabling")
        assert server.data('mutation($id: ID!) { removeWebhook(id: $id) }', {"id": hook["id"]},
                           keys["admin"]) == {"removeWebhook": True}
        assert server.data(WEBHOOKS, key=keys["admin"])["webhooks"] == []
