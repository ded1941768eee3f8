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
from datetime import timedelta

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
from .llm import ChatModel
from .services.compression import CompressionResult, Compressor
from .services.consolidation import ConsolidationResult, Consolidator, ScheduledConsolidation
from .services.learning import Learner, LearningConfig
from .services.merging import ConsolidationConfig
from .services.reconcile import Reconciler
from .services.memories import MemoryService
from .services.retrieval import RetrievalRequest, Retriever, resolve_labels, time_window
from .services.webhook_dispatch import DeliverySettings, WebhookDispatcher
from .services.webhooks import WebhookService
from .services.scoring import RetrievalConfig
from .store import GraphStore

MAX_TOP_K = 1000


class GraphMemory:
    """Agent memory on a property graph.

    `GraphMemory()` opens embedded Kuzu under ./alma_graph_data with the local
    all-MiniLM-L6-v2 embedder; `GraphMemory(url, embedder=...)` opens any backend.
    `deliver_webhooks=True` (or a `DeliverySettings`) also sends the webhook outbox from a
    background thread (see `start_webhook_delivery`).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        embedder: str | Embedder = "local",
        retrieval: RetrievalConfig | None = None,
        learning: LearningConfig | None = None,
        deliver_webhooks: bool | DeliverySettings = False,
        consolidation: ConsolidationConfig | None = None,
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
        # Repeats and contradictions on write, and consolidation, share one config and model.
        self.consolidation = consolidation or ConsolidationConfig()
        self.model = ChatModel(self.consolidation.llm) if self.consolidation.llm else None
        reconciler = Reconciler(self.store, self.consolidation, self.model) if self.consolidation.on_write else None
        self.memories = MemoryService(self.store, self.events, reconciler)
        self.consolidator = Consolidator(self.memories, self.consolidation, self.model)
        self.compressor = Compressor(self.memories, self.consolidation, self.model)
        self._consolidating: ScheduledConsolidation | None = None
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
        valid_from, valid_to, derived_from, supersedes).

        valid_from/valid_to are world time, when the fact held ("lived in Paris from 2019 to
        2022"); created_at and invalidated_at record when it was learned and stopped being believed.
        """
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
        as_of: object = None,
        when: str | None = None,
        reference: object = None,
    ) -> MemorySlice:
        """The memories and episodes most useful for `query`, scored and explained.

        `since`/`until` bound an item's world time (a memory's valid_from, an episode's
        timestamp); `when` does the same with a phrase ("last week", "in March", "2 days ago")
        read at `reference` (default `as_of`, else now), intersected with since/until when both
        are given. `as_of` looks back: only what held in the world at that moment and was known
        then (created by then, not yet invalidated).

            memory.retrieve("where does the user live?", "assistant", as_of="2021-06-01")
            memory.retrieve("what broke?", "ci-bot", when="last week")
        """
        name = self.memories.agent(agent).name
        as_of_ms = None if as_of is None else v.timestamp_ms("as_of", as_of)
        since_ms, until_ms = time_window(since, until, when, reference, as_of_ms)
        request = RetrievalRequest(
            query=v.text("query", query),
            agent=name,
            readers=tuple(sorted(self.memories.readable(name))),
            top_k=v.positive_int("top_k", top_k, maximum=MAX_TOP_K),
            labels=resolve_labels(types),
            since_ms=since_ms,
            until_ms=until_ms,
            include_invalidated=bool(include_invalidated),
            as_of_ms=as_of_ms,
        )
        return self.retriever.retrieve(request)

    def get(self, node_id: str) -> Memory | Episode:
        return self.memories.get(node_id)

    def update(self, memory_id: str, *, agent: str | None = None, **changes: object) -> Memory:
        """Change a memory; content changes write a new version that SUPERSEDES the old one.
        With `agent`, the call acts as that agent, which must own the memory."""
        return self.memories.update(memory_id, agent, **changes)

    def forget(self, memory_id: str, *, agent: str | None = None, hard: bool = False) -> None:
        """Invalidate a memory (kept, with invalidated_at set); `hard=True` deletes it. With `agent`,
        the call acts as that agent, which must own the memory."""
        self.memories.forget(memory_id, agent, hard=hard)

    def readable_agents(self, agent: str) -> frozenset[str]:
        """The agents whose memories `agent` reads: itself, those sharing with it, those it inherits from."""
        return self.memories.readable(agent)

    def history(self, node_id: str, *, max_depth: int = 10) -> History:
        """The provenance chain: what the memory was created from, by which agent and why, what it
        superseded and what superseded it, with when each edge was written."""
        return self.memories.history(node_id, max_depth=max_depth)

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

    def link_concepts(self) -> dict[str, int]:
        """Link the memories and episodes stored before concepts existed to their concepts (the
        words retrieval matches a query's meaning against); items linked per label."""
        return self.store.link_unlinked_items()

    def consolidate(self, agent: str, memory_type: str | None = None, similarity_threshold: float | None = None,
                    dry_run: bool = False) -> ConsolidationResult:
        """Merge `agent`'s near-duplicate memories (of `memory_type`, or of every type but Outcome):
        each group becomes one new memory with MERGED_FROM edges to the originals, which are
        invalidated, not deleted. `similarity_threshold` is the cosine two memories must reach
        (default 0.85, from `ConsolidationConfig`); `dry_run=True` only says what would merge.

            result = memory.consolidate("coder", dry_run=True)
            for group in result.groups:
                print(group.texts, "->", group.text)
        """
        return self.consolidator.consolidate(agent, memory_type, similarity_threshold, dry_run)

    def compress(self, agent: str, older_than: timedelta = timedelta(days=90), keep_confidence: float = 0.8,
                 dry_run: bool = False, memory_type: str | None = None,
                 similarity_threshold: float | None = None) -> CompressionResult:
        """Sum up `agent`'s old memories (learned and last retrieved over `older_than` ago) whose
        confidence is below `keep_confidence`: by type and topic, each group of two or more becomes
        one summary memory, MERGED_FROM the originals (reason "compression"), which are invalidated,
        not deleted. `similarity_threshold` is the cosine that puts two in one topic (default 0.5,
        `ConsolidationConfig.topic_similarity`); `dry_run=True` only says what would be summed up.

            result = memory.compress("coder", older_than=timedelta(days=180), dry_run=True)
            for group in result.groups:
                print(len(group.summarized), "->", group.text)
        """
        return self.compressor.compress(agent, older_than, keep_confidence, dry_run, memory_type, similarity_threshold)

    def start_consolidation(self, every_s: float) -> ScheduledConsolidation:
        """Consolidate every agent's memories every `every_s` seconds on a background thread, until `close()`."""
        if self._consolidating is None:
            self._consolidating = ScheduledConsolidation(self.consolidator, every_s)
            self._consolidating.start()
        return self._consolidating

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
        if self._consolidating is not None:
            self._consolidating.stop()
            self._consolidating = None
        if self._dispatcher is not None:
            self._dispatcher.stop()
            self._dispatcher = None
        self.backend.close()

    def __enter__(self) -> GraphMemory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
