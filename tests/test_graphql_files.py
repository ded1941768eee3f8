"""graphql/: the SDL matches the running schema, and every example operation runs against a real
server and returns data without errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import parse, validate
from websockets.sync.client import connect

from alma_graph import GraphMemory, MemoryScope
from alma_graph.api import schema as api_schema
from api_server import serve

EXAMPLES = sorted((Path(__file__).parents[1] / "graphql" / "examples").glob("*.graphql"))


def test_the_sdl_file_matches_the_schema():
    assert api_schema.main(["--check"]) == 0, "run: python -m alma_graph.api.schema"


def test_every_example_is_valid_against_the_schema():
    assert len(EXAMPLES) >= 10
    schema = api_schema.build_schema()._schema
    for path in EXAMPLES:
        assert validate(schema, parse(path.read_text())) == [], path.name


def _header(path: Path) -> tuple[dict, bool]:
    variables, admin = {}, False
    for line in path.read_text().splitlines():
        if line.startswith("# variables:"):
            variables = json.loads(line.split(":", 1)[1])
        admin = admin or line.strip() == "# key: admin"
    return variables, admin


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("examples")
    url = f"kuzu://{folder / 'db'}"
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="ci-bot"))
        memory.register_agent(MemoryScope(agent="reviewer"))
        turns = memory.remember_many("ci-bot", [
            {"text": "test_upload timed out in the release build", "session": "ci-triage"},
            {"text": "a fixed port for the fake S3 server fixed it", "session": "ci-triage"},
        ])
        known = memory.add_knowledge("ci-bot", "ci", "the release pipeline retries a failed test once",
                                     derived_from=[t.id for t in turns])
        stale = memory.add_knowledge("ci-bot", "ci", "uploads go to the old bucket")
        keys = {"agent": memory.keys.create("ci-bot")[1], "admin": memory.keys.create(admin=True)[1]}
    with serve(url, log_dir=folder) as running:
        running.keys = keys
        running.ids = {"id": known.id, "forgetId": stale.id}
        yield running


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not p.read_text().count("subscription ")],
                         ids=lambda p: p.stem)
def test_example_runs(server, path):
    variables, admin = _header(path)
    document = parse(path.read_text())
    declared = {d.variable.name.value for op in document.definitions for d in op.variable_definitions or ()}
    variables.update({k: v for k, v in server.ids.items() if k in declared})
    data = server.data(path.read_text(), variables, key=server.keys["admin" if admin else "agent"])
    assert data and all(value not in (None, []) for value in data.values()), data


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.read_text().count("subscription ")], ids=lambda p: p.stem)
def test_subscription_example_receives_an_event(server, path):
    with connect(server.websocket, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {server.keys['agent']}"}}))
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": path.read_text()}}))
        created = server.data('mutation { addKnowledge(domain: "ci", fact: "caches expire after a day") { id } }',
                              key=server.keys["agent"])["addKnowledge"]
        while (message := json.loads(ws.recv(timeout=10)))["type"] != "next":
            assert message["type"] in ("ping", "pong"), message
        event = message["payload"]["data"]["memoryEvents"]
        assert event["memoryId"] == created["id"] and event["type"] == "MEMORY_CREATED"
