"""GraphiQL in headless Chromium against a real `alma-graph serve`: the page loads only local
assets, an API key typed into its Headers tab authenticates a retrieval query, and a subscription
runs over the websocket (the key travels in connection_init). Screenshot: tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from alma_graph import GraphMemory, MemoryScope
from alma_graph.api.graphiql import ASSET_FILES, install_assets
from api_server import serve
from browser import chromium_page

ARTIFACTS = Path(__file__).parent / "artifacts"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .CodeMirror:visible"  # the Headers tab, open by default


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("graphiql")
    assets = install_assets()  # `make install` has put them in place; a no-op then
    url = f"kuzu://{folder / 'db'}"
    with GraphMemory(url, embedder="hashing") as memory:
        memory.register_agent(MemoryScope(agent="coder"))
        memory.add_knowledge("coder", "python", "dicts keep insertion order since 3.7")
        _, key = memory.keys.create("coder")
    with serve(url, log_dir=folder, env={"ALMA_GRAPH_ASSETS": str(assets)}) as running:
        running.key = key
        yield running


def _type(page, editor: str, text: str):
    """Replace an editor's text by typing it as a user would; returns the editor's element."""
    element = page.locator(editor)
    element.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)  # CodeMirror closes { and " itself and types over the closing ones
    assert element.evaluate("e => e.CodeMirror.getValue()").split() == text.split()
    return element.element_handle()


def _run(page, operation: str) -> None:
    editor = _type(page, QUERY_EDITOR, operation)
    # GraphiQL parses the query 100 ms after the last keystroke and picks HTTP or the websocket
    # from that parse: run before it and a subscription would go out as an HTTP POST.
    page.wait_for_function("e => e.CodeMirror.documentAST?.loc.source.body === e.CodeMirror.getValue()",
                           arg=editor)
    page.locator(".graphiql-execute-button").click()


def test_graphiql_queries_and_subscribes_against_the_server(server):
    local = urlsplit(server.url).netloc
    with chromium_page() as page:
        requests: list[str] = []
        failures: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("websocket", lambda websocket: requests.append(websocket.url))
        page.on("requestfailed", lambda request: failures.append(f"{request.url}: {request.failure}"))
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(server.graphql, wait_until="networkidle")
        response = page.locator(".graphiql-response")
        _type(page, HEADERS_EDITOR, '{"Authorization": "Bearer %s"}' % server.key)
        _run(page, '{ memories(query: "are dicts ordered", topK: 1) { score item { text } } }')
        expect(response).to_contain_text("dicts keep insertion order since 3.7")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "graphiql.png"))

        _run(page, "subscription { memoryEvents { type memory { text } } }")
        page.wait_for_timeout(500)  # the subscription is open before the write it should see
        server.data('mutation { addKnowledge(domain: "python", fact: "sets are unordered") { id } }', key=server.key)
        expect(response).to_contain_text('"type": "MEMORY_CREATED"')
        expect(response).to_contain_text("sets are unordered")

    assert failures == [] and errors == []
    assert [url for url in requests if urlsplit(url).netloc != local] == []
    assert {f"{server.url}/graphiql/{name}" for name in ASSET_FILES} <= set(requests)
    assert server.websocket in requests  # the subscription went over the websocket
