"""Queries, mutations and subscriptions. Each resolver checks who is asking, then calls the same
service layer as the Python client (`GraphMemory`); no rule lives here twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from .. import validation as v
from ..errors import AccessDeniedError, AlmaGraphError, NotFoundError, ValidationError
from ..events import MemoryEvent as MemoryEventModel
from . import consolidation as consolidation_api
from . import webhooks as webhook_api
from .types import (
    Agent, History, ProvenanceEdge, AntiPattern, DomainKnowledge, Episode, EventType, Heuristic, Info, Item, LearnResult, Memory,
    MemoryEvent, ScoredItem, UserPreference, to_agent, to_event, to_item, to_learn_result, to_scored,
)

EVENT_QUEUE = 1000
MAX_HISTORY_DEPTH = 20  # events a slow subscriber may fall behind by before its stream ends


@strawberry.type
class Viewer:
    agent: str | None = strawberry.field(description="The agent this API key acts as; null for an admin key.")
    admin: bool


@strawberry.type
class Query:
    @strawberry.field(description="Who the request acts as.")
    def viewer(self, info: Info) -> Viewer:
        who = info.context.who
        return Viewer(agent=who.agent, admin=who.admin)

    @strawberry.field(description="The memories and episodes most useful for `query`, best first. "
                                  "`explain: true` adds each score's breakdown.")
    async def memories(
        self, info: Info, query: str, agent: str | None = None, top_k: int = 10, types: list[str] | None = None,
        since: datetime | None = None, until: datetime | None = None, explain: bool = False,
        include_invalidated: bool = False,
        as_of: Annotated[datetime | None, strawberry.argument(
            description="A past moment: only what held in the world then and was already known.")] = None,
        when: Annotated[str | None, strawberry.argument(
            description='A time phrase ("last week", "in March", "2 days ago"); intersected with since/until.')] = None,
        reference: Annotated[datetime | None, strawberry.argument(
            description="The time `when` is read at (default: asOf, else now).")] = None,
    ) -> list[ScoredItem]:
        ctx = info.context
        found = await ctx.run(ctx.memory.retrieve, query, ctx.who.acting_as(agent), top_k=top_k, types=types,
                              since=since, until=until, include_invalidated=include_invalidated, as_of=as_of,
                              when=when, reference=reference)
        return [to_scored(item, explain) for item in found]

    @strawberry.field(description="One memory or episode by id; null if it does not exist or is not yours.")
    async def memory(self, info: Info, id: strawberry.ID) -> Item | None:
        ctx = info.context
        found = await ctx.run(ctx.memory.memories.items, [str(id)], await ctx.readers())
        return to_item(found[str(id)]) if str(id) in found else None

    @strawberry.field(description="A memory's provenance chain, both ways, to `maxDepth` steps; only nodes the "
                                  "caller may read, and the edges between them. Null if the root is not readable.")
    async def history(self, info: Info, id: strawberry.ID, max_depth: int = 10) -> History | None:
        ctx = info.context
        readers = await ctx.readers()
        depth = v.positive_int("maxDepth", max_depth, maximum=MAX_HISTORY_DEPTH)
        if str(id) not in await ctx.run(ctx.memory.memories.items, [str(id)], readers):
            return None
        chain = await ctx.run(ctx.memory.history, str(id), max_depth=depth)
        items = await ctx.run(ctx.memory.memories.items, [n.id for n in chain.nodes], readers)
        return History(
            root=to_item(items[str(id)]), learned_by=chain.learned_by, learned_at=chain.learned_at,
            reason=chain.reason, nodes=[to_item(items[n.id]) for n in chain.nodes if n.id in items],
            edges=[ProvenanceEdge(source=strawberry.ID(e.source), relation=e.relation, target=strawberry.ID(e.target),
                                  at=e.at, reason=e.reason)
                   for e in chain.edges if e.source in items and e.target in items],
        )

    @strawberry.field(description="The agents the caller may see.")
    async def agents(self, info: Info) -> list[Agent]:
        ctx = info.context
        return [to_agent(a) for a in await ctx.run(ctx.memory.store.list_agents, await ctx.readers())]

    @strawberry.field
    async def agent(self, info: Info, name: str) -> Agent | None:
        ctx = info.context
        readers = await ctx.readers()
        if readers is not None and name not in readers:
            return None
        found = await ctx.run(ctx.memory.store.list_agents, [name])
        return to_agent(found[0]) if found else None

    @strawberry.field(description="A session's episodes in order.")
    async def episodes(self, info: Info, session: str) -> list[Episode]:
        ctx = info.context
        readers = await ctx.readers()
        if readers is not None:
            owner = (await ctx.run(ctx.memory.store.session_owners, [session])).get(session)
            if owner not in readers:
                return []
        return [to_item(e) for e in await ctx.run(ctx.memory.episodes, session)]  # type: ignore[misc]

    webhooks: list[webhook_api.Webhook] = strawberry.field(
        resolver=webhook_api.webhooks, description="Webhook endpoints and their delivery state (admin keys only).")


@strawberry.input
class MemoryOptions:
    confidence: float = 0.5
    importance: float = 0.5
    metadata: JSON | None = None
    valid_from: datetime | None = strawberry.field(default=None, description="World time: when the fact began to hold.")
    valid_to: datetime | None = strawberry.field(default=None, description="World time: when it stopped holding.")
    derived_from: list[strawberry.ID] = strawberry.field(default_factory=list)
    supersedes: list[strawberry.ID] = strawberry.field(default_factory=list)

    def as_kwargs(self) -> dict[str, object]:
        return {"confidence": self.confidence, "importance": self.importance, "metadata": self.metadata,
                "valid_from": self.valid_from, "valid_to": self.valid_to, "derived_from": [str(i) for i in self.derived_from],
                "supersedes": [str(i) for i in self.supersedes]}


@strawberry.input
class EpisodeInput:
    text: str
    session: str | None = None
    timestamp: datetime | None = None
    source_id: str | None = None
    metadata: JSON | None = None


async def _add(info: Info, memory_type: str, agent: str | None, fields: dict[str, object],
               options: MemoryOptions | None) -> Memory:
    ctx = info.context
    kwargs = (options or MemoryOptions()).as_kwargs()
    created = await ctx.run(ctx.memory.add_memory, memory_type, ctx.who.acting_as(agent), fields, **kwargs)
    return to_item(created)  # type: ignore[return-value]


async def _acting_on(info: Info, memory_id: str) -> str | None:
    """The agent a change to a memory acts as (None: an admin key). A memory the agent cannot
    read is unknown to it; one it reads but does not own is refused by the service."""
    ctx = info.context
    readers = await ctx.readers()
    if readers is not None and not await ctx.run(ctx.memory.memories.items, [memory_id], readers):
        raise NotFoundError("memory", memory_id)
    return ctx.who.agent


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create or update an agent and its scope (admin keys only).")
    async def register_agent(self, info: Info, name: str, can_learn: list[str] | None = None,
                             cannot_learn: list[str] | None = None, share_with: list[str] | None = None,
                             inherit_from: list[str] | None = None, description: str = "") -> Agent:
        ctx = info.context
        ctx.who.require_admin("registerAgent")
        agent = await ctx.run(ctx.memory.register_agent, name, can_learn=can_learn or (),
                              cannot_learn=cannot_learn or (), share_with=share_with or (),
                              inherit_from=inherit_from or (), description=description)
        return to_agent(agent)

    @strawberry.mutation(description="The agents that may read the acting agent's memories (replaces the list). "
                                     "An agent grants this for its own memories; reading others' is theirs to grant.")
    async def share_with(self, info: Info, agents: list[str], agent: str | None = None) -> Agent:
        ctx = info.context
        return to_agent(await ctx.run(ctx.memory.share_with, ctx.who.acting_as(agent), agents))

    @strawberry.mutation(description="Record an outcome; forms or strengthens a Heuristic or AntiPattern "
                                     "when the evidence says so.")
    async def learn(self, info: Info, task: str, success: bool, strategy_used: str, agent: str | None = None,
                    task_type: str | None = None, duration_ms: float | None = None, error: str | None = None,
                    episodes: list[strawberry.ID] | None = None, metadata: JSON | None = None) -> LearnResult:
        ctx = info.context
        result = await ctx.run(ctx.memory.learn, ctx.who.acting_as(agent), task, success, strategy_used,
                               task_type=task_type, duration_ms=duration_ms, error=error,
                               episodes=[str(e) for e in episodes or ()], metadata=metadata)
        return to_learn_result(result)

    @strawberry.mutation
    async def add_heuristic(self, info: Info, condition: str, strategy: str, agent: str | None = None,
                            options: MemoryOptions | None = None) -> Heuristic:
        return await _add(info, "Heuristic", agent, {"condition": condition, "strategy": strategy}, options)  # type: ignore[return-value]

    @strawberry.mutation
    async def add_preference(self, info: Info, user: str, category: str, preference: str,
                             source: str | None = None, agent: str | None = None,
                             options: MemoryOptions | None = None) -> UserPreference:
        fields = {"user": user, "category": category, "preference": preference, "source": source}
        return await _add(info, "UserPreference", agent, fields, options)  # type: ignore[return-value]

    @strawberry.mutation
    async def add_knowledge(self, info: Info, domain: str, fact: str, source: str | None = None,
                            agent: str | None = None, options: MemoryOptions | None = None) -> DomainKnowledge:
        fields = {"domain": domain, "fact": fact, "source": source}
        return await _add(info, "DomainKnowledge", agent, fields, options)  # type: ignore[return-value]

    @strawberry.mutation
    async def add_anti_pattern(self, info: Info, pattern: str, why_bad: str, better_alternative: str | None = None,
                               agent: str | None = None, options: MemoryOptions | None = None) -> AntiPattern:
        fields = {"pattern": pattern, "why_bad": why_bad, "better_alternative": better_alternative}
        return await _add(info, "AntiPattern", agent, fields, options)  # type: ignore[return-value]

    @strawberry.mutation(description="Record raw observations (turns, tool results) as episodes, in one batch.")
    async def remember(self, info: Info, episodes: list[EpisodeInput], agent: str | None = None) -> list[Episode]:
        ctx = info.context
        rows = [{"text": e.text, "session": e.session, "timestamp": e.timestamp, "source_id": e.source_id,
                 "metadata": e.metadata} for e in episodes]
        created = await ctx.run(ctx.memory.remember_many, ctx.who.acting_as(agent), rows)
        return [to_item(e) for e in created]  # type: ignore[misc]

    @strawberry.mutation(description="Change a memory. Confidence, importance and metadata change in place; "
                                     "a change to its own `fields` writes a new version that supersedes it.")
    async def update_memory(self, info: Info, id: strawberry.ID, confidence: float | None = None,
                            importance: float | None = None, metadata: JSON | None = None,
                            fields: JSON | None = None) -> Memory:
        ctx = info.context
        acting = await _acting_on(info, str(id))
        if fields is not None and not isinstance(fields, dict):
            raise ValidationError("fields", "expected an object of field names and values")
        changes = {k: val for k, val in (("confidence", confidence), ("importance", importance),
                                         ("metadata", metadata)) if val is not None}
        changes.update(fields or {})
        return to_item(await ctx.run(ctx.memory.update, str(id), agent=acting, **changes))  # type: ignore[return-value]

    @strawberry.mutation(description="Invalidate a memory (kept in its history); `hard: true` deletes it.")
    async def forget(self, info: Info, id: strawberry.ID, hard: bool = False) -> bool:
        ctx = info.context
        acting = await _acting_on(info, str(id))
        await ctx.run(ctx.memory.forget, str(id), agent=acting, hard=hard)
        return True

    add_webhook: webhook_api.NewWebhook = strawberry.mutation(
        resolver=webhook_api.add_webhook, description="Call `url` on memory events of `events` (default: all), "
                                                   "signed with `secret` or a generated one (admin keys only).")
    remove_webhook: bool = strawberry.mutation(
        resolver=webhook_api.remove_webhook, description="Remove a webhook and the deliveries it is still owed.")
    enable_webhook: webhook_api.Webhook = strawberry.mutation(
        resolver=webhook_api.enable_webhook, description="Re-enable a failed webhook; its waiting deliveries resume.")
    consolidate: consolidation_api.ConsolidationResult = strawberry.mutation(
        resolver=consolidation_api.consolidate,
        description="Merge the acting agent's near-duplicate memories (of `memoryType`, or of every type but Outcome) "
                    "whose cosine reaches `similarityThreshold` (default 0.85): each group becomes one new memory "
                    "that is MERGED_FROM the originals, which are invalidated. `dryRun: true` only says what would merge.")
    compress: consolidation_api.CompressionResult = strawberry.mutation(
        resolver=consolidation_api.compress,
        description="Sum up the acting agent's old memories (learned and last retrieved over `olderThanDays` ago) "
                    "whose confidence is below `keepConfidence`, by type and topic (cosine from `similarityThreshold`, "
                    "default 0.5): each group of two or more becomes one summary memory MERGED_FROM the originals "
                    "(reason compression), which are invalidated. `dryRun: true` only says what would be summed up.")


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Memory events as they are committed: of every agent whose memories the "
                                         "caller reads (for an admin key, every agent), or of `agent` alone.")
    async def memory_events(self, info: Info, types: list[EventType] | None = None,
                            agent: str | None = None) -> AsyncGenerator[MemoryEvent, None]:
        ctx = info.context
        who = ctx.who
        if who.agent is None:  # an admin key: every agent's events, or the one it names
            agents = None if agent is None else [agent]
        else:
            readers = await ctx.readers()
            if agent is not None and agent not in readers:  # type: ignore[operator]
                raise AccessDeniedError("agent", f"agent {who.agent!r} does not read {agent!r}'s memories")
            agents = sorted(readers) if agent is None else [agent]  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[MemoryEventModel | None] = asyncio.Queue(EVENT_QUEUE)

        def deliver(event: MemoryEventModel | None) -> None:
            if queue.full():  # fell too far behind: end the stream rather than drop events silently
                queue.get_nowait()
                event = None
            queue.put_nowait(event)

        subscription = ctx.memory.subscribe(
            lambda event: loop.call_soon_threadsafe(deliver, event),
            types=None if types is None else [t.value for t in types], agents=agents,
        )
        try:
            while (event := await queue.get()) is not None:
                yield to_event(event)
            raise AlmaGraphError(f"memoryEvents: the subscriber fell more than {EVENT_QUEUE} events behind; "
                                 "subscribe again and re-read what changed")
        finally:
            subscription.close()
