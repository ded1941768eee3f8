"""Webhooks on embedded Kuzu, against a real HTTP receiver on loopback: signed deliveries that
survive a receiver being down, arrive in order per memory, carry an id to de-duplicate on, and
an endpoint that fails for good is marked failed, shown, and can be enabled again."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from alma_graph import GraphMemory
from alma_graph.cli import main
from alma_graph.errors import NotFoundError, ValidationError
from alma_graph.services.webhook_dispatch import DeliverySettings, sign, verify
from webhook_receiver import Receiver, wait_for

FAST = DeliverySettings(poll_seconds=0.05, timeout_seconds=2, backoff_base_seconds=0.02, backoff_cap_seconds=0.1)


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def coder(memory: GraphMemory) -> GraphMemory:
    memory.register_agent("coder")
    return memory


def _write_history(memory: GraphMemory) -> list[tuple[str, str]]:
    """Three memories, each created, updated and invalidated: (memory id, event type) in order."""
    written = []
    for n in range(3):
        fact = memory.add_knowledge("coder", "python", f"fact number {n}")
        memory.update(fact.id, confidence=0.9)
        memory.forget(fact.id)
        written += [(fact.id, "memory.created"), (fact.id, "memory.updated"), (fact.id, "memory.invalidated")]
    return written


def _per_memory(events: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for e in events:
        out[e["memory_id"]].append(e["type"])
    return dict(out)


def test_a_delivery_is_signed_and_names_its_event(coder, receiver):
    hook, secret = coder.webhooks.add(receiver.url, ["memory.created"])
    assert secret.startswith("whsec_") and len(secret) > 40
    coder.start_webhook_delivery(FAST)
    fact = coder.add_knowledge("coder", "python", "dicts keep insertion order")
    wait_for(lambda: receiver.received, what="a delivery")
    got = receiver.received[0]
    h = got.headers
    assert verify(secret, h["x-alma-timestamp"], got.body, h["x-alma-signature"])
    assert h["x-alma-signature"] == sign(secret, h["x-alma-timestamp"], got.body)
    assert not verify(secret, h["x-alma-timestamp"], got.body.replace(b"memory.created", b"memory.deleted"), h["x-alma-signature"])
    assert not verify("whsec_another_secret_entirely", h["x-alma-timestamp"], got.body, h["x-alma-signature"])
    assert not verify(secret, h["x-alma-timestamp"], got.body, h["x-alma-signature"],
                      now=int(h["x-alma-timestamp"]) + 301)  # stale: a replay
    event = got.event
    assert (event["type"], event["memory_id"], event["agent"], event["memory_type"], event["webhook"]) == \
        ("memory.created", fact.id, "coder", "DomainKnowledge", hook.id)
    assert h["x-alma-event-id"] == event["id"] and h["x-alma-event-type"] == "memory.created"
    assert h["content-type"] == "application/json" and event["at"].endswith("+00:00")


def test_a_receiver_that_was_down_gets_everything_in_order_per_memory(coder, receiver):
    coder.webhooks.add(receiver.url)
    receiver.stop()  # down before anything is written
    coder.start_webhook_delivery(FAST)
    written = _write_history(coder)
    wait_for(lambda: coder.webhooks.list()[0].last_error, what="a failed attempt while the receiver is down")
    assert coder.webhooks.list()[0].status == "active"
    receiver.start()
    wait_for(lambda: len(receiver.received) >= len(written), what="every delivery")
    events = receiver.events()
    assert _per_memory(events) == _per_memory([{"memory_id": m, "type": t} for m, t in written])
    for mine in _per_memory(events):
        sequence = [e["sequence"] for e in events if e["memory_id"] == mine]
        assert sequence == sorted(sequence)
    wait_for(lambda: coder.webhooks.list()[0].pending == 0, what="the outbox to empty")
    assert coder.webhooks.list()[0].delivered == len(written)


def test_an_unacknowledged_delivery_is_sent_again_with_the_same_event_id(coder, receiver):
    coder.webhooks.add(receiver.url)
    receiver.statuses = [500]  # took it, then failed to answer 2xx: the sender cannot know
    coder.start_webhook_delivery(FAST)
    coder.add_knowledge("coder", "python", "sets are unordered")
    wait_for(lambda: len(receiver.received) == 2, what="the retry")
    first, second = receiver.received
    assert first.headers["x-alma-event-id"] == second.headers["x-alma-event-id"] == second.event["id"]
    assert first.body == second.body


def test_a_rejecting_endpoint_is_marked_failed_and_resumes_when_enabled(coder, receiver):
    hook, _ = coder.webhooks.add(receiver.url)
    receiver.status = 410
    coder.start_webhook_delivery(FAST)
    written = _write_history(coder)
    wait_for(lambda: coder.webhooks.list()[0].status == "failed", what="the webhook to fail")
    state = coder.webhooks.list()[0]
    assert len(receiver.received) == 1  # a 4xx is not retried
    assert state.failed == 1 and state.pending == len(written) - 1 and "HTTP 410" in state.last_error
    assert state.failed_at is not None
    more = coder.add_knowledge("coder", "python", "written while the webhook was failed")
    assert coder.webhooks.list()[0].pending == len(written)  # still recorded: nothing is lost
    receiver.status = 200
    coder.webhooks.enable(hook.id)
    wait_for(lambda: len(receiver.received) == len(written) + 2, what="the deliveries to resume")
    events = receiver.events()[1:]
    expected = written + [(more.id, "memory.created")]
    assert _per_memory(events) == _per_memory([{"memory_id": m, "type": t} for m, t in expected])


def test_an_endpoint_still_failing_after_max_attempts_is_failed(coder, receiver):
    coder.webhooks.add(receiver.url)
    receiver.status = 503
    coder.start_webhook_delivery(DeliverySettings(poll_seconds=0.05, backoff_base_seconds=0.01,
                                                  backoff_cap_seconds=0.02, max_attempts=3))
    coder.add_knowledge("coder", "python", "an event nobody takes")
    wait_for(lambda: coder.webhooks.list()[0].status == "failed", what="the webhook to fail")
    assert len(receiver.received) == 3
    assert "gave up after 3 attempts" in coder.webhooks.list()[0].last_error


def test_only_the_chosen_event_types_are_recorded(coder, receiver):
    coder.webhooks.add(receiver.url, ["memory.invalidated"])
    fact = coder.add_knowledge("coder", "python", "lists are mutable")
    coder.forget(fact.id)
    assert coder.webhooks.list()[0].pending == 1
    coder.start_webhook_delivery(FAST)
    wait_for(lambda: receiver.received, what="a delivery")
    assert [e["type"] for e in receiver.events()] == ["memory.invalidated"]


def test_learning_events_reach_webhooks(coder, receiver):
    coder.webhooks.add(receiver.url, ["heuristic.formed"])
    for _ in range(4):
        coder.learn("coder", "parse the CSV export", True, "use the csv module", task_type="parsing")
    assert coder.webhooks.list()[0].pending == 1


def test_pending_deliveries_survive_closing_the_database(coder, reopen, receiver):
    coder.webhooks.add(receiver.url)
    receiver.stop()
    written = _write_history(coder)
    memory = reopen(coder, deliver_webhooks=FAST)
    assert memory.webhooks.list()[0].pending == len(written)
    receiver.start()
    wait_for(lambda: len(receiver.received) == len(written), what="every delivery after reopening")


def test_bad_webhooks_are_refused_naming_the_field(memory):
    for url in ("ftp://example.com/hook", "example.com/hook", "http://", "http://host:99999/x", ""):
        with pytest.raises(ValidationError, match="^url: "):
            memory.webhooks.add(url)
    with pytest.raises(ValidationError, match="^events: unknown event type 'memory.exploded'"):
        memory.webhooks.add("https://example.com/hook", ["memory.exploded"])
    with pytest.raises(ValidationError, match="^events: name at least one"):
        memory.webhooks.add("https://example.com/hook", [])
    with pytest.raises(ValidationError, match="^secret: "):
        memory.webhooks.add("https://example.com/hook", secret="short")
    with pytest.raises(NotFoundError):
        memory.webhooks.remove("0123456789abcdef")
    with pytest.raises(NotFoundError):
        memory.webhooks.enable("nope")


def test_removing_a_webhook_drops_what_it_was_owed(coder):
    hook, _ = coder.webhooks.add("https://example.com/hook")
    coder.add_knowledge("coder", "python", "owed to a webhook about to go")
    coder.webhooks.remove(hook.id)
    assert coder.webhooks.list() == []
    assert coder.stats()["WebhookDelivery"] == 0


def test_settings_come_from_the_environment():
    settings = DeliverySettings.from_env({"ALMA_WEBHOOK_MAX_ATTEMPTS": "7", "ALMA_WEBHOOK_BACKOFF_CAP_SECONDS": "2.5"})
    assert (settings.max_attempts, settings.backoff_cap_seconds) == (7, 2.5)
    with pytest.raises(ValidationError, match="ALMA_WEBHOOK_POLL_SECONDS"):
        DeliverySettings.from_env({"ALMA_WEBHOOK_POLL_SECONDS": "soon"})
    delays = [DeliverySettings(backoff_base_seconds=1, backoff_cap_seconds=8).backoff(n) for n in range(1, 8)]
    assert all(0.5 <= d <= 1 for d in delays[:1]) and all(4 <= d <= 8 for d in delays[3:])


# -- the command line --------------------------------------------------------------------------

@pytest.fixture
def url_cli(db_url, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--url", db_url, "--embedder", "hashing", *args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def test_cli_adds_lists_and_removes_webhooks_without_showing_secrets(url_cli, receiver):
    code, out, err = url_cli("webhooks", "add", receiver.url, "--events", "memory.created", "memory.deleted")
    secret = out.strip()
    assert code == 0 and secret.startswith("whsec_") and "shown once" in err
    code, out, err = url_cli("webhooks", "add", "https://example.com/b", "--secret", "a-secret-of-my-own-choosing")
    assert code == 0 and out == ""  # a secret the operator chose is not echoed
    code, out, _ = url_cli("webhooks", "list")
    assert code == 0 and receiver.url in out and "memory.created, memory.deleted" in out and "pending 0" in out
    assert secret not in out and "a-secret-of-my-own-choosing" not in out
    code, out, _ = url_cli("webhooks", "list", "--json")
    hooks = json.loads(out)
    assert [h["status"] for h in hooks] == ["active", "active"] and all("secret" not in h for h in hooks)
    assert url_cli("webhooks", "remove", hooks[1]["id"])[0] == 0
    code, _, err = url_cli("webhooks", "add", "gopher://example.com")
    assert code == 2 and "url:" in err


def test_cli_delivers_once_and_shows_a_failed_webhook(db_url, url_cli, receiver, monkeypatch):
    with GraphMemory(db_url, embedder="hashing") as memory:
        memory.register_agent("coder")
        hook, _ = memory.webhooks.add(receiver.url)
        memory.add_knowledge("coder", "python", "first")
        memory.add_knowledge("coder", "python", "second")
    code, out, _ = url_cli("webhooks", "deliver", "--once")
    assert code == 0 and "0 deliveries still pending" in out and len(receiver.received) == 2
    with GraphMemory(db_url, embedder="hashing") as memory:
        memory.add_knowledge("coder", "python", "third")
    receiver.status = 400
    url_cli("webhooks", "deliver", "--once")
    code, out, _ = url_cli("webhooks", "list")
    assert f"{hook.id}  failed" in out and "failed 1" in out and "last error: HTTP 400" in out
    receiver.status = 200
    code, out, _ = url_cli("webhooks", "enable", hook.id)
    assert code == 0 and "1 deliveries waiting" in out
    url_cli("webhooks", "deliver", "--once")
    assert len(receiver.received) == 4 and receiver.events()[-1]["id"] == receiver.events()[-2]["id"]
