"""The GraphQL API, end to end: a real `alma-graph serve` process on embedded Kuzu, over HTTP and
websockets, with API keys."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from contextlib import contextmanager

import httpx
import pytest
from websockets.sync.client import connect

from alma_graph import GraphMemory, MemoryScope
from alma_graph.schema import SCHEMA_VERSION

from api_server import serve

ADD = """mutation($agent: String, $fact: String!, $opts: MemoryOptions) {
  addKnowledge(agent: $agent, domain: "python", fact: $fact, options: $opts) { id agent text valid }
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("api")
    url = f"kuzu://{folder / 'db'}"
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="alice"))
        memory.register_agent(MemoryScope(agent="bob", cannot_learn=["AntiPattern"]))
        keys = {name: memory.keys.create(name)[1] for name in ("alice", "bob")}
        keys["admin"] = memory.keys.create(admin=True)[1]
        revoked, keys["revoked"] = memory.keys.create("alice")
        memory.keys.revoke(revoked.id)
    with serve(url, log_dir=folder) as running:
        running.keys = keys
        running.db_url = url
        yield running


def errors(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return response.json()["errors"]


# -- authentication ---------------------------------------------------------------------------

def test_health_needs_no_key(server):
    body = httpx.get(f"{server.url}/health").json()
    assert body["status"] == "ok" and body["schemaVersion"] == SCHEMA_VERSION and body["auth"] == "api-key"


@pytest.mark.parametrize("key", [None, "alma_0123456789abcdef_" + "x" * 43, "not-a-key", "revoked"])
def test_a_request_without_a_valid_key_gets_401(server, key):
    response = server.post("{ viewer { agent } }", key=server.keys.get(key, key))
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_key_acts_as_its_agent(server):
    assert server.data("{ viewer { agent admin } }", key=server.keys["alice"])["viewer"] == {"agent": "alice", "admin": False}
    created = server.data(ADD, {"fact": "alice's fact about generators"}, key=server.keys["alice"])["addKnowledge"]
    assert created["agent"] == "alice"
    denied = errors(server.post(ADD, {"agent": "bob", "fact": "x"}, key=server.keys["alice"]))[0]
    assert denied["extensions"] == {"code": "FORBIDDEN", "field": "agent",
                                    "problem": "this API key acts as agent 'alice', not 'bob'"}


def test_only_admin_keys_register_agents(server):
    mutation = 'mutation { registerAgent(name: "carol", cannotLearn: ["Outcome"]) { name scope { cannotLearn } } }'
    assert errors(server.post(mutation, key=server.keys["alice"]))[0]["extensions"]["code"] == "FORBIDDEN"
    agent = server.data(mutation, key=server.keys["admin"])["registerAgent"]
    assert agent == {"name": "carol", "scope": {"cannotLearn": ["Outcome"]}}
    # an admin key names the agent it acts as
    missing = errors(server.post(ADD, {"fact": "x"}, key=server.keys["admin"]))[0]["extensions"]
    assert missing["field"] == "agent" and missing["code"] == "BAD_INPUT"


# -- what an agent sees -----------------------------------------------------------------------

def test_an_agent_never_sees_another_agents_memories(server):
    bob = server.keys["bob"]
    secret = server.data(ADD, {"fact": "bob's secret about asyncio"}, key=bob)["addKnowledge"]["id"]
    alice = server.keys["alice"]
    assert server.data("query($id: ID!) { memory(id: $id) { id } }", {"id": secret}, key=alice)["memory"] is None
    found = server.data('{ memories(query: "secret asyncio", topK: 20) { item { id agent } } }', key=alice)
    assert all(i["item"]["agent"] == "alice" for i in found["memories"])
    assert server.data("{ agents { name } }", key=alice)["agents"] == [{"name": "alice"}]
    assert server.data('{ agent(name: "bob") { name } }', key=alice)["agent"] is None
    gone = errors(server.post('mutation($id: ID!) { forget(id: $id) }', {"id": secret}, key=alice))[0]
    assert gone["extensions"]["code"] == "NOT_FOUND"
    assert server.data("query($id: ID!) { memory(id: $id) { id } }", {"id": secret}, key=bob)["memory"]["id"] == secret
    names = {a["name"] for a in server.data("{ agents { name } }", key=server.keys["admin"])["agents"]}
    assert {"alice", "bob"} <= names


def test_traversal_stops_at_what_the_caller_may_read(server):
    alice, bob = server.keys["alice"], server.keys["bob"]
    episodes = server.data('mutation { remember(episodes: [{text: "bob said the deploy broke", session: "bob/s1"}]) '
                           "{ id } }", key=bob)["remember"]
    derived = server.data(ADD, {"fact": "deploys break on Fridays",
                                "opts": {"derivedFrom": [episodes[0]["id"]]}}, key=bob)["addKnowledge"]["id"]
    walk = "query($id: ID!) { memory(id: $id) { related(depth: 2) { item { id agent } } } }"
    seen = server.data(walk, {"id": derived}, key=bob)["memory"]["related"]
    assert [r["item"]["id"] for r in seen] == [episodes[0]["id"]]
    assert server.data(walk, {"id": derived}, key=alice)["memory"] is None
    assert server.data('{ episodes(session: "bob/s1") { id } }', key=alice)["episodes"] == []


# -- operations -------------------------------------------------------------------------------

def test_every_memory_type_and_a_provenance_walk(server):
    alice = server.keys["alice"]
    turns = server.data(
        'mutation { remember(episodes: [{text: "the build failed on the flaky test", session: "alice/s1"},'
        ' {text: "retrying the test with a fixed seed fixed it", session: "alice/s1"}]) '
        "{ id seq session { id episodeCount } } }", key=alice)["remember"]
    assert [t["seq"] for t in turns] == [0, 1] and turns[1]["session"]["episodeCount"] == 2
    ids = [t["id"] for t in turns]
    heuristic = server.data(
        'mutation($ids: [ID!]!) { addHeuristic(condition: "a test is flaky", strategy: "fix the random seed", '
        "options: {derivedFrom: $ids, confidence: 0.8}) { id confidence } }", {"ids": ids}, key=alice)["addHeuristic"]
    assert heuristic["confidence"] == 0.8
    server.data('mutation { addPreference(user: "sam", category: "style", preference: "short answers") { id } }', key=alice)
    server.data('mutation { addAntiPattern(pattern: "sleep in tests", whyBad: "slow and flaky", '
                'betterAlternative: "wait on the event") { id } }', key=alice)
    updated = server.data(
        'mutation($id: ID!) { updateMemory(id: $id, fields: {strategy: "seed every random source"}) '
        "{ id ... on Heuristic { strategy supersedes { id valid } } } }", {"id": heuristic["id"]}, key=alice)["updateMemory"]
    assert updated["supersedes"] == [{"id": heuristic["id"], "valid": False}]
    chain = server.data(
        """query($id: ID!) { memory(id: $id) { ... on Memory {
             supersededBy { id } learnedBy { name }
             derivedFrom { id ... on Episode { session { id } } }
             related(depth: 2, edgeTypes: [SUPERSEDES, DERIVED_FROM, NEXT]) { relation direction distance via item { id } } } } }""",
        {"id": heuristic["id"]}, key=alice)["memory"]
    assert chain["supersededBy"] == [{"id": updated["id"]}] and chain["learnedBy"] == {"name": "alice"}
    assert sorted(d["id"] for d in chain["derivedFrom"]) == sorted(ids)
    relations = {(r["relation"], r["direction"], r["item"]["id"]) for r in chain["related"]}
    assert ("SUPERSEDES", "IN", updated["id"]) in relations and ("DERIVED_FROM", "OUT", ids[0]) in relations
    assert server.data('mutation($id: ID!) { forget(id: $id) }', {"id": updated["id"]}, key=alice)["forget"] is True
    after = server.data("query($id: ID!) { memory(id: $id) { ... on Memory { valid validTo invalidatedAt } } }",
                        {"id": updated["id"]}, key=alice)["memory"]
    assert after["valid"] is False and after["invalidatedAt"] and after["validTo"] is None
    server.data('mutation($id: ID!) { forget(id: $id, hard: true) }', {"id": updated["id"]}, key=alice)
    assert server.data("query($id: ID!) { memory(id: $id) { id } }", {"id": updated["id"]}, key=alice)["memory"] is None


def test_learn_forms_a_heuristic(server):
    alice = server.keys["alice"]
    learn = ('mutation($ok: Boolean!) { learn(task: "parse the CSV export", taskType: "parsing", success: $ok, '
             'strategyUsed: "use the csv module") { outcome { id success } heuristic { id strategy } notes } }')
    results = [server.data(learn, {"ok": True}, key=alice)["learn"] for _ in range(3)]
    assert all(r["outcome"]["success"] for r in results)
    assert results[-1]["heuristic"]["strategy"] == "use the csv module"


def test_retrieval_with_explanations_and_filters(server):
    alice = server.keys["alice"]
    server.data(ADD, {"fact": "list comprehensions are faster than map with lambda"}, key=alice)
    found = server.data(
        '{ memories(query: "comprehension speed", topK: 3, types: ["DomainKnowledge"], explain: true) '
        "{ score kind item { text } explanation { summary foundBy factors { name weight } } } }", key=alice)["memories"]
    assert found[0]["item"]["text"].startswith("[python] list comprehensions")
    assert {f["name"] for f in found[0]["explanation"]["factors"]} >= {"similarity", "recency"}
    plain = server.data('{ memories(query: "comprehension") { explanation { summary } } }', key=alice)["memories"]
    assert all(p["explanation"] is None for p in plain)
    empty = server.data('{ memories(query: "comprehension", until: "2001-01-01T00:00:00Z") { score } }', key=alice)
    assert empty["memories"] == []


def test_bad_input_names_the_field(server):
    alice = server.keys["alice"]
    bad = errors(server.post(ADD, {"fact": "x", "opts": {"confidence": 2}}, key=alice))[0]
    assert bad["extensions"]["code"] == "BAD_INPUT" and bad["extensions"]["field"] == "confidence"
    assert bad["path"] == ["addKnowledge"]
    kinds = errors(server.post('{ memories(query: "x", types: ["Nonsense"]) { score } }', key=alice))[0]
    assert kinds["extensions"]["field"] == "types" and "Nonsense" in kinds["message"]
    scope = errors(server.post('mutation { addAntiPattern(pattern: "p", whyBad: "w") { id } }', key=server.keys["bob"]))[0]
    assert scope["extensions"]["code"] == "FORBIDDEN" and "AntiPattern" in scope["message"]
    typed = errors(server.post('{ memories(query: 5) { score } }', key=alice))[0]
    assert "String cannot represent" in typed["message"]


# -- limits -----------------------------------------------------------------------------------

def test_depth_cost_alias_and_body_limits(server):
    alice = server.keys["alice"]
    deep = "{ memories(query: \"x\") { item { ... on Memory { supersedes { supersedes { supersedes { supersedes " \
           "{ supersedes { supersedes { supersedes { supersedes { supersedes { id } } } } } } } } } } } } }"
    assert "exceeds maximum operation depth" in errors(server.post(deep, key=alice))[0]["message"]
    costly = ('{ memories(query: "x", topK: 1000) { item { related(depth: 4) { item { related(depth: 2) '
              "{ item { id } } } } } } }")
    cost = errors(server.post(costly, key=alice))[0]
    assert cost["extensions"]["code"] == "QUERY_TOO_COSTLY" and cost["extensions"]["cost"] > cost["extensions"]["limit"]
    aliases = "{ " + " ".join(f"a{i}: viewer {{ agent }}" for i in range(40)) + " }"
    assert "aliases" in errors(server.post(aliases, key=alice))[0]["message"]
    big = httpx.post(server.graphql, content=b"{" + b" " * 2_000_000 + b"}",
                     headers={"Authorization": f"Bearer {alice}", "content-type": "application/json"})
    assert big.status_code == 413 and big.json()["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"
    assert server.data("{ viewer { agent } }", key=alice)  # still serving


# -- subscriptions ------------------------------------------------------------------------------

@contextmanager
def _subscribe(server, key: str | None):
    with connect(server.websocket, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"} if key else {}}))
        yield ws


def _next_event(ws, timeout: float = 10) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] == "next":
            return message["payload"]
        assert message["type"] in ("ping", "pong", "connection_ack"), message


def test_subscriptions_deliver_the_agents_events(server):
    subscription = ("subscription { memoryEvents(types: [MEMORY_CREATED, MEMORY_INVALIDATED]) "
                    "{ type memoryId agent memoryType memory { text valid } } }")
    alice, bob = server.keys["alice"], server.keys["bob"]
    with _subscribe(server, alice) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": subscription}}))
        server.data(ADD, {"fact": "bob's event alice must not see"}, key=bob)
        created = server.data(ADD, {"fact": "alice's event"}, key=alice)["addKnowledge"]
        event = _next_event(ws)["data"]["memoryEvents"]
        assert event == {"type": "MEMORY_CREATED", "memoryId": created["id"], "agent": "alice",
                         "memoryType": "DomainKnowledge", "memory": {"text": created["text"], "valid": True}}
        server.data('mutation($id: ID!) { forget(id: $id) }', {"id": created["id"]}, key=alice)
        assert _next_event(ws)["data"]["memoryEvents"]["type"] == "MEMORY_INVALIDATED"


def test_a_subscription_without_a_key_is_refused(server):
    with _subscribe(server, None) as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 4403


# -- the process ------------------------------------------------------------------------------

def test_a_cli_command_on_the_served_database_fails_clearly(server):
    result = subprocess.run([sys.executable, "-m", "alma_graph.cli", "--url", server.db_url, "--embedder", "hashing",
                             "keys", "create", "--agent", "alice"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "open in another process" in result.stderr and "alma-graph serve" in result.stderr


def test_insecure_mode_binds_only_to_loopback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "alma_graph.cli", "--url", f"kuzu://{tmp_path / 'db'}",
                             "--embedder", "hashing", "serve", "--insecure", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "loopback" in result.stderr


def test_concurrent_clients_all_get_answers(server):
    alice = server.keys["alice"]
    failures: list[str] = []

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            for i in range(5):
                r = http.post(server.graphql, json={"query": '{ memories(query: "flaky test %d") { score } }' % (n * i)},
                              headers={"Authorization": f"Bearer {alice}"})
                if r.status_code != 200 or r.json().get("errors"):
                    failures.append(r.text)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_sharing_respects_the_keys_identity(server):
    alice, bob = server.keys["alice"], server.keys["bob"]
    fact = server.data(ADD, {"fact": "bob shares: the cache warms at 6am"}, key=bob)["addKnowledge"]["id"]
    lookup = "query($id: ID!) { memory(id: $id) { id agent } }"
    assert server.data(lookup, {"id": fact}, key=alice)["memory"] is None
    shared = server.data('mutation { shareWith(agents: ["alice"]) { name scope { shareWith } } }', key=bob)
    try:
        assert shared["shareWith"] == {"name": "bob", "scope": {"shareWith": ["alice"]}}
        assert server.data(lookup, {"id": fact}, key=alice)["memory"] == {"id": fact, "agent": "bob"}
        found = server.data('{ memories(query: "when does the cache warm", topK: 20) { item { id agent } } }', key=alice)
        assert {"id": fact, "agent": "bob"} in [i["item"] for i in found["memories"]]
        assert {a["name"] for a in server.data("{ agents { name } }", key=alice)["agents"]} == {"alice", "bob"}
        refused = errors(server.post('mutation($id: ID!) { forget(id: $id) }', {"id": fact}, key=alice))[0]
        assert refused["extensions"]["code"] == "FORBIDDEN" and "only its owner" in refused["message"]
        denied = errors(server.post('mutation { shareWith(agents: ["alice"], agent: "bob") { name } }', key=alice))[0]
        assert denied["extensions"]["code"] == "FORBIDDEN"  # an agent grants reads of its own memories only
    finally:
        server.data('mutation { shareWith(agents: []) { name } }', key=bob)
    assert server.data(lookup, {"id": fact}, key=alice)["memory"] is None
    assert server.data(lookup, {"id": fact}, key=bob)["memory"]["agent"] == "bob"


def test_history_walks_the_chain_with_who_why_and_when(server):
    alice = server.keys["alice"]
    turn = server.data('mutation { remember(episodes: [{text: "the cache key must include the locale", '
                       'session: "alice/h"}]) { id } }', key=alice)["remember"][0]["id"]
    first = server.data(ADD, {"fact": "cache keys include the locale", "opts": {"derivedFrom": [turn]}},
                        key=alice)["addKnowledge"]["id"]
    second = server.data('mutation($id: ID!) { updateMemory(id: $id, fields: {fact: "cache keys include locale and '
                         'currency"}) { id } }', {"id": first}, key=alice)["updateMemory"]["id"]
    query = ("query($id: ID!) { history(id: $id) { root { id } learnedBy reason learnedAt "
             "nodes { id } edges { source relation target at reason } } }")
    chain = server.data(query, {"id": second}, key=alice)["history"]
    assert chain["root"] == {"id": second} and (chain["learnedBy"], chain["reason"]) == ("alice", "update")
    edges = {(e["source"], e["relation"], e["target"]): e for e in chain["edges"]}
    assert edges[(second, "SUPERSEDES", first)]["reason"] == "update" and edges[(second, "SUPERSEDES", first)]["at"]
    assert (first, "DERIVED_FROM", turn) in edges and {n["id"] for n in chain["nodes"]} >= {first, second, turn}
    assert server.data(query, {"id": second}, key=server.keys["bob"])["history"] is None


def test_a_websocket_message_over_the_limit_closes_the_connection(server):
    with connect(server.websocket, subprotocols=["graphql-transport-ws"], open_timeout=10, max_size=None) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"padding": "x" * 2_000_000}}))
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1009  # message too big
