"""A real HTTP server speaking the OpenAI chat-completions protocol, standing in for a language
model: it answers each request with the next canned reply and keeps every request it received.

    with ChatServer(['{"fields": {...}}']) as server:
        ChatModel(LLMConfig(model="m", base_url=server.url))
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

from json_http import JsonHandler


class ChatServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, replies: list[str] | None = None, status: int = 200):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies or [])
        self.status = status
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def prompts(self) -> list[str]:
        """The user message of every request, in order."""
        return [r["messages"][-1]["content"] for r in self.requests]

    def __enter__(self) -> ChatServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(JsonHandler):
    server: ChatServer

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.requests.append(body)
            self.server.authorizations.append(self.headers.get("Authorization"))
            content = self.server.replies.pop(0) if self.server.replies else "{}"
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
        if self.server.status != 200:
            return self._send(self.server.status, {"error": {"message": "model overloaded", "type": "server_error"}})
        self._send(200, {
            "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })
