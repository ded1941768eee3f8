"""Shared fixtures: a real embedded Kuzu database in a fresh tmp folder per test.

Creating the schema (node/rel tables and six full-text indexes) costs ~0.5 s, so one empty
database is created per test session by `GraphMemory` itself and copied (a closed Kuzu
database is a single file) into each test's own tmp folder. Every test still gets its own,
independent database folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from alma_graph import GraphMemory, MemoryScope

DB_NAME = "memory.kuzu"


def kuzu_url(folder: Path) -> str:
    return f"kuzu://{folder / DB_NAME}"


@pytest.fixture(scope="session")
def empty_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed, empty alma-graph database (hashing embedder, 384-d) to copy from."""
    folder = tmp_path_factory.mktemp("template")
    GraphMemory(kuzu_url(folder), embedder="hashing").close()
    return folder


def copy_empty_db(template: Path, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for item in template.iterdir():
        if item.is_file():
            shutil.copy2(item, folder / item.name)
    return kuzu_url(folder)


@pytest.fixture(scope="session")
def new_db_url(tmp_path_factory: pytest.TempPathFactory, empty_db_template: Path) -> Callable[[str], str]:
    """Factory for module-scoped fixtures: `new_db_url("name")` -> URL of a fresh, empty database."""

    def _new(name: str) -> str:
        return copy_empty_db(empty_db_template, tmp_path_factory.mktemp(name) / "db")

    return _new


@pytest.fixture
def db_url(tmp_path: Path, empty_db_template: Path) -> str:
    """URL of a fresh, empty database folder for this test."""
    return copy_empty_db(empty_db_template, tmp_path / "db")


@pytest.fixture
def open_memory(db_url: str) -> Iterator[Callable[..., GraphMemory]]:
    """Factory: open a GraphMemory (default: this test's folder, hashing embedder).

    Every client opened through it is closed at teardown.
    """
    opened: list[GraphMemory] = []

    def _open(url: str | None = None, embedder: object = "hashing", **options: object) -> GraphMemory:
        client = GraphMemory(url or db_url, embedder=embedder, **options)  # type: ignore[arg-type]
        opened.append(client)
        return client

    yield _open
    for client in reversed(opened):
        client.close()


@pytest.fixture
def memory(open_memory: Callable[..., GraphMemory]) -> GraphMemory:
    """A GraphMemory on a fresh tmp folder with the hashing embedder, closed at teardown."""
    return open_memory()


@pytest.fixture
def agent(memory: GraphMemory) -> str:
    """The agent "coder", registered with an unrestricted scope."""
    memory.register_agent(MemoryScope(agent="coder"))
    return "coder"


@pytest.fixture
def reopen(memory: GraphMemory, open_memory: Callable[..., GraphMemory]) -> Callable[..., GraphMemory]:
    """Close a client and open the same folder again: `memory = reopen(memory)`.

    Extra keyword arguments (e.g. `embedder=...`) go to `GraphMemory`.
    """

    def _reopen(current: GraphMemory = memory, **options: object) -> GraphMemory:
        url = current.backend.url
        current.close()
        return open_memory(url, **options)

    return _reopen
