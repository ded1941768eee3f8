"""`GraphMemory`: the Python front door. Thin: the behaviour lives in `services/`.

    >>> from alma_graph import GraphMemory, MemoryScope
    >>> with GraphMemory("kuzu:///tmp/demo", embedder="hashing") as memory:
    ...     _ = memory.register_agent(MemoryScope(agent="coder"))
    ...     _ = memory.add_knowledge("coder", domain="python", fact="dict preserves insertion order")
    ...     memory.retrieve("is dict ordered?", agent="coder", top_k=1)[0].memory.fact
    'dict preserves insertion order'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from . import validation as v
from .backends import open_backend
from .embed import Embedder, make_embedder
from .errors import ValidationError
from .events import Callback, EventBus, Subscription
from .model import (
    Agent,
    AntiPattern,
    DomainKnowledge,
    Episode,
    Heuristic,
    History,
    LearnResult,
    Memory,
    MemoryScope,
    MemorySlice,
    Session,
    UserPreference,
)
from .services.keys import KeyService
from .services.learning import Learner, LearningConfig
from .services.memories import MemoryService
from .services.retrieval import RetrievalRequest, Retriever, resolve_labels
from .services.webhook_dispatch import DeliverySettings, WebhookDispatcher
from .services.webhooks import WebhookService
from .services.scoring import RetrievalConfig
from .store import GraphStore

MAX_TOP_K = 1000


class GraphMemory:
    """Agent memory on a property graph.

    `GraphMemory()` opens embedded Kuzu under ./alma_graph_data with the local
    all-MiniLM-L6-v2 embedder; `GraphMemory(url, embedder=...)` opens any backend.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        embedder: str | Embedder = "local",
        retrieval: RetrievalConfig | None = None,
        learning: LearningConfig | None = None,
        deliver_webhooks: bool | DeliverySettings = False,
        **backend_options: object,
    ):
        self.embedder = make_embedder(embedder)
        self.backend = open_backend(url, **backend_options)
        try:
            self.store = GraphStore(self.backend, self.embedder)
        except BaseException:
            self.backend.close()
            raise
        self.events = EventBus()
        self.memories = MemoryService(self.store, self.events)
        self.learner = Learner(self.memories, learning)
        self.retriever = Retriever(self.store, retrieval)
        self.keys = KeyService(self.memories)
        # The outbox is written inside every memory write's transaction (see services/webhooks.py).
        self.webhooks = WebhookService(self.backend)
        self.events.add_recorder(self.webhooks.record)
        self._dispatcher: WebhookDispatcher | None = None
        if deliver_webhooks:
            self.start_webhook_delivery(None if deliver_webhooks is True else deliver_webhooks)

    # -- agents -----------------------------------------------------------------------------

    def register_agent(self, scope: MemoryScope | str, **scope_fields: object) -> Agent:
        """Create or update an agent and its scope.

        `register_agent(MemoryScope(agent="coder", can_learn=["Heuristic"]))`, or
        `register_agent("coder", cannot_learn=["UserPreference"])`.
        """
        if isinstance(scope, str):
            scope = MemoryScope(agent=scope, **scope_fields)  # type: ignore[arg-type]
        elif scope_fields:
            raise ValidationError("scope", "pass either a MemoryScope or a name with scope fields")
        return self.memories.register_agent(scope)

    def share_with(self, agent: str, others: Sequence[str]) -> Agent:
        """Let `others` read `agent`'s memories (replacing whom it shared with); the rest of its scope stays."""
        return self.memories.share_with(agent, others)

    def get_agent(self, name: str) -> Agent:
        return self.memories.agent(name)

    def agents(self) -> list[Agent]:
        return self.store.list_agents()

    # -- learning and explicit memories -------------------------------------------------------

    def learn(
        self,
        agent: str,
        task: str,
        outcome: bool | str,
        strategy_used: str,
        *,
        task_type: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
        episodes: Sequence[str] = (),
        metadata: Mapping[str, object] | None = None,
    ) -> LearnResult:
        """Record an outcome; form or strengthen a Heuristic / AntiPattern when the evidence says so."""
        return self.learner.learn(
            agent, task, outcome, strategy_used, task_type=task_type, duration_ms=duration_ms,
            error=error, episodes=tuple(episodes), metadata=metadata,
        )

    def add_heuristic(self, agent: str, condition: str, strategy: str, **options: object) -> Heuristic:
        return self.memories.add("Heuristic", agent, {"condition": condition, "strategy": strategy}, **options)  # type: ignore[return-value, arg-type]

    def add_preference(self, agent: str, user: str, category: str, preference: str,
                       source: str | None = None, **options: object) -> UserPreference:
        fields = {"user": user, "category": category, "preference": preference, "source": source}
        return self.memories.add("UserPreference", agent, fields, **options)  # type: ignore[return-value, arg-type]

    def add_knowledge(self, agent: str, domain: str, fact: str, source: str | None = None,
                      **options: object) -> DomainKnowledge:
        fields = {"domain": domain, "fact": fact, "source": source}
        return self.memories.add("DomainKnowledge", agent, fields, **options)  # type: ignore[return-value, arg-type]

    def add_anti_pattern(self, agent: str, pattern: str, why_bad: str,
                         better_alternative: str | None = None, **options: object) -> AntiPattern:
        fields = {"pattern": pattern, "why_bad": why_bad, "better_alternative": better_alternative}
        return self.memories.add("AntiPattern", agent, fields, **options)  # type: ignore[return-value, arg-type]

    def add_memory(self, memory_type: str, agent: str, fields: Mapping[str, object], **options: object) -> Memory:
        """Write a memory of any type by name (`options`: confidence, importance, metadata,
        valid_from, derived_from, supersedes)."""
        return self.memories.add(memory_type, agent, fields, **options)  # type: ignore[arg-type]

    # -- episodes ---------------------------------------------------------------------------

    def remember(
        self,
        text: str,
        agent: str,
        *,
        session: str | None = None,
        timestamp: object = None,
        source_id: str | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> Episode:
        """Record one raw observation (a turn, a tool result, a chunk) as an Episode."""
        episode = {"text": text, "session": session, "timestamp": timestamp, "source_id": source_id,
                   "metadata": metadata}
        return self.memories.remember(agent, [episode])[0]

    def remember_many(self, agent: str, episodes: Iterable[Mapping[str, object]]) -> list[Episode]:
        """Record many episodes in one batch: dicts with text, session, timestamp, source_id, metadata."""
        return self.memories.remember(agent, episodes)

    def sessions(self, agent: str) -> list[Session]:
        return self.store.sessions(self.memories.agent(agent).name)

    def episodes(self, session: str) -> list[Episode]:
        return self.store.session_episodes(v.text("session", session))

    # -- reading ----------------------------------------------------------------------------

    def retrieve(
        self,
        query: str,
        agent: str,
        *,
        top_k: int = 10,
        types: Sequence[str] | None = None,
        since: object = None,
        until: object = None,
        include_invalidated: bool = False,
    ) -> MemorySlice:
        """The memories and episodes most useful for `query`, scored and explained."""
        name = self.memories.agent(agent).name
        request = RetrievalRequest(
            query=v.text("query", query),
            agent=name,
            readers=tuple(sorted(self.memories.readable(name))),
            top_k=v.positive_int("top_k", top_k, maximum=MAX_TOP_K),
            labels=resolve_labels(types),
            since_ms=None if since is None else v.timestamp_ms("since", since),
            until_ms=None if until is None else v.timestamp_ms("until", until),
            include_invalidated=bool(include_invalidated),
        )
        if request.since_ms is not None and request.until_ms is not None and request.since_ms > request.until_ms:
            raise ValidationError("since", "is later than until")
        return self.retriever.retrieve(request)

    def get(self, node_id: str) -> Memory | Episode:
        return self.memories.get(node_id)

    def update(self, memory_id: str, *, agent: str | None = None, **changes: object) -> Memory:
        """Change a memory; content changes write a new version that SUPERSEDES the old one.
        With `agent`, the call acts as that agent, which must own the memory."""
        return self.memories.update(memory_id, agent, **changes)

    def forget(self, memory_id: str, *, agent: str | None = None, hard: bool = False) -> None:
        """Invalidate a memory (kept, with valid_to set); `hard=True` deletes it. With `agent`,
        the call acts as that agent, which must own the memory."""
        self.memories.forget(memory_id, agent, hard=hard)

    def readable_agents(self, agent: str) -> frozenset[str]:
        """The agents whose memories `agent` reads: itself, those sharing with it, those it inherits from."""
        return self.memories.readable(agent)

    def history(self, node_id: str) -> History:
        """The provenance chain: what the memory derives from, supersedes, and who learned it."""
        return self.memories.history(node_id)

    def subscribe(self, callback: Callback, *, types: Sequence[str] | None = None,
                  agents: Sequence[str] | None = None) -> Subscription:
        """Call `callback(event)` after every committed memory write (of `types`, by `agents`);
        `subscription.close()` stops it. Callbacks run on the writing thread: keep them short."""
        return self.events.subscribe(callback, types=types, agents=agents)

    def stats(self) -> dict[str, int]:
        return self.store.stats()

    def refresh_indexes(self) -> dict[str, str]:
        """Build vector indexes for tables that have outgrown exact search."""
        return self.backend.refresh_indexes()

    # -- lifecycle --------------------------------------------------------------------------

    def start_webhook_delivery(self, settings: DeliverySettings | None = None) -> WebhookDispatcher:
        """Send webhook deliveries from a background thread until `close()` (settings default to
        `DeliverySettings.from_env()`). On embedded Kuzu only the process holding the database can."""
        if self._dispatcher is None:
            self._dispatcher = WebhookDispatcher(self.webhooks, settings or DeliverySettings.from_env())
            self.events.subscribe(self._dispatcher.wake)
            self._dispatcher.start()
        return self._dispatcher

    def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
        self.backend.close()

    def __enter__(self) -> GraphMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
