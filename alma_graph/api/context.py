"""What every resolver gets: the client, who is asking, and batching loaders.

The store is synchronous (Kuzu and the drivers block), so every call into it runs on a worker
thread: the event loop stays free for other requests, websockets and health checks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import anyio.to_thread
from strawberry.dataloader import DataLoader

from ..client import GraphMemory
from ..services.keys import Identity

T = TypeVar("T")


class Context:
    def __init__(self, memory: GraphMemory, identity: Identity | None):
        self.memory = memory
        self.identity = identity
        self.connection_params: dict[str, object] | None = None  # set by websocket connection_init
        self._loaders: dict[Hashable, DataLoader] = {}
        self._readers: frozenset[str] | None = None

    @property
    def who(self) -> Identity:
        if self.identity is None:  # a websocket before connection_init: on_ws_connect refuses it
            raise PermissionError("not authenticated")
        return self.identity

    async def readers(self) -> frozenset[str] | None:
        """The agents whose memories this request may read (its agent, those sharing with it,
        those it inherits from); None for an admin key, which reads every agent's. Looked up once
        per request (per connection for a websocket)."""
        who = self.who
        if who.agent is None:
            return None
        if self._readers is None:
            self._readers = await self.run(self.memory.readable_agents, who.agent)
        return self._readers

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))

    def loader(self, key: Hashable, load: Callable[[Sequence[Any]], dict[Any, Any]], default: Any = None) -> DataLoader:
        """A per-request loader: every `load(k)` made while resolving one level of a query
        becomes a single `load(keys)` call on a worker thread (no query per item). Not cached:
        a mutation earlier in the same request must be visible to the fields after it."""
        if key not in self._loaders:
            async def batch(keys: list[Any]) -> list[Any]:
                found = await self.run(load, list(dict.fromkeys(keys)))
                return [found.get(k, default) for k in keys]

            self._loaders[key] = DataLoader(load_fn=batch, cache=False)
        return self._loaders[key]
