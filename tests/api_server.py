"""A real `alma-graph serve` process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    url: str  # http://127.0.0.1:<port>
    process: subprocess.Popen
    log: Path

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def websocket(self) -> str:
        return self.graphql.replace("http://", "ws://")

    def post(self, query: str, variables: dict | None = None, key: str | None = None, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(self.graphql, json={"query": query, "variables": variables or {}}, headers=headers,
                          timeout=60, **kwargs)

    def data(self, query: str, variables: dict | None = None, key: str | None = None) -> dict:
        """The `data` of a query that must succeed."""
        response = self.post(query, variables, key)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]


@contextmanager
def serve(db_url: str, *extra: str, embedder: str = "hashing", log_dir: Path, timeout: float = 60,
          env: dict[str, str] | None = None):
    port = free_port()
    log = log_dir / f"serve-{port}.log"
    command = [sys.executable, "-m", "alma_graph.cli", "serve", "--url", db_url, "--embedder", embedder,
               "--port", str(port), "--log-level", "warning", *extra]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env=None if env is None else {**os.environ, **env})
    server = RunningServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"alma-graph serve exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"alma-graph serve did not answer within {timeout}s:\n{log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
