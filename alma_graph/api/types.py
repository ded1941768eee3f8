"""GraphQL object types: the model's memories, episodes and agents, with traversal fields.

Every traversal field goes through a per-request loader (see context.py), so a list of items
asking for `derivedFrom` costs one batched read per label, not one query per item.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from .. import model
from ..events import EVENT_TYPES, MemoryEvent as MemoryEventModel
from ..services.memories import MAX_RELATED_DEPTH
from ..validation import from_ms
from .context import Context

Info = strawberry.Info[Context, None]


@strawberry.enum(description="Edges between memories and episodes that `related` can walk.")
class EdgeType(Enum):
    DERIVED_FROM = "DERIVED_FROM"
    SUPERSEDES = "SUPERSEDES"
    MERGED_FROM = "MERGED_FROM"
    NEXT = "NEXT"


@strawberry.enum
class Direction(Enum):
    OUT = "out"
    IN = "in"


# One member per event type events.py defines ("memory.created" -> MEMORY_CREATED), so a new
# event type reaches GraphQL without a second list to keep in step.
EventType = strawberry.enum(
    Enum("EventType", {t.replace(".", "_").upper(): t for t in EVENT_TYPES}),
    description="Memory events a subscription can ask for.",
)


async def _items(info: Info, item_id: str, rel: str, outgoing: bool) -> list[Item]:
    ctx = info.context
    memories = ctx.memory.memories
    readers = await ctx.readers()
    loader = ctx.loader(("neighbours", rel, outgoing, readers),
                        lambda ids: memories.neighbours(ids, rel, outgoing=outgoing, readers=readers), default=[])
    return [to_item(o) for o in await loader.load(item_id)]


@strawberry.interface(description="Anything retrieval can return: a memory or an episode.")
class Item:
    id: strawberry.ID
    agent: str
    text: str

    @strawberry.field(description=f"Nodes within `depth` steps (at most {MAX_RELATED_DEPTH}) along `edgeTypes`, "
                                  "either direction, nearest first; only what the caller may read.")
    async def related(self, info: Info, depth: int = 1, edge_types: list[EdgeType] | None = None) -> list[Related]:
        ctx = info.context
        relations = tuple(e.value for e in (edge_types or list(EdgeType)))
        readers = await ctx.readers()
        memories = ctx.memory.memories
        loader = ctx.loader(("related", depth, relations, readers),
                            lambda ids: memories.related(ids, depth=depth, relations=relations, readers=readers),
                            default=[])
        return [
            Related(item=to_item(r.item), relation=EdgeType(r.relation), direction=Direction(r.direction),
                    distance=r.distance, via=strawberry.ID(r.via))
            for r in await loader.load(str(self.id))
        ]


@strawberry.type
class Related:
    item: Item
    relation: EdgeType
    direction: Direction
    distance: int
    via: strawberry.ID = strawberry.field(description="The node this one was reached from.")


@strawberry.interface(description="Fields every memory type has.")
class Memory(Item):
    memory_type: str
    created_at: datetime
    updated_at: datetime
    valid_from: datetime = strawberry.field(description="World time: when the fact began to hold.")
    valid_to: datetime | None = strawberry.field(description="World time: when it stopped holding; null while it holds.")
    invalidated_at: datetime | None = strawberry.field(
        description="System time: when it stopped being believed (forgotten or superseded).")
    valid: bool = strawberry.field(description="Still believed: not invalidated.")
    confidence: float
    importance: float
    access_count: int
    last_access: datetime | None
    metadata: JSON

    @strawberry.field(description="The episodes and memories this memory was derived from.")
    async def derived_from(self, info: Info) -> list[Item]:
        return await _items(info, str(self.id), "DERIVED_FROM", True)

    @strawberry.field(description="Memories derived from this one.")
    async def derived_memories(self, info: Info) -> list[Item]:
        return await _items(info, str(self.id), "DERIVED_FROM", False)

    @strawberry.field(description="The earlier versions this memory replaced.")
    async def supersedes(self, info: Info) -> list[Memory]:
        return await _items(info, str(self.id), "SUPERSEDES", True)  # type: ignore[return-value]

    @strawberry.field(description="The version that replaced this memory, if any.")
    async def superseded_by(self, info: Info) -> list[Memory]:
        return await _items(info, str(self.id), "SUPERSEDES", False)  # type: ignore[return-value]

    @strawberry.field(description="The near-duplicates this memory was consolidated from.")
    async def merged_from(self, info: Info) -> list[Memory]:
        return await _items(info, str(self.id), "MERGED_FROM", True)  # type: ignore[return-value]

    @strawberry.field(description="The agent that learned this memory.")
    async def learned_by(self, info: Info) -> Agent | None:
        return await load_agent(info, self.agent)


@strawberry.type
class Heuristic(Memory):
    condition: str
    strategy: str
    occurrence_count: int
    success_count: int


@strawberry.type
class Outcome(Memory):
    task: str
    task_type: str
    success: bool
    strategy_used: str
    duration_ms: float | None
    error: str | None


@strawberry.type
class UserPreference(Memory):
    user: str
    category: str
    preference: str
    source: str | None


@strawberry.type
class DomainKnowledge(Memory):
    domain: str
    fact: str
    source: str | None


@strawberry.type
class AntiPattern(Memory):
    pattern: str
    why_bad: str
    better_alternative: str | None
    occurrence_count: int


@strawberry.type
class Episode(Item):
    session_id: str
    timestamp: datetime
    seq: int
    source_id: str | None
    created_at: datetime
    metadata: JSON

    @strawberry.field
    async def session(self, info: Info) -> Session | None:
        ctx = info.context
        store = ctx.memory.store
        loader = ctx.loader("sessions", lambda ids: {s.id: s for s in store.sessions_by_id(ids)})
        found = await loader.load(self.session_id)
        return None if found is None else to_session(found)

    @strawberry.field(description="Memories derived from this episode.")
    async def derived_memories(self, info: Info) -> list[Item]:
        return await _items(info, str(self.id), "DERIVED_FROM", False)


@strawberry.type
class Session:
    id: strawberry.ID
    agent: str
    started_at: datetime
    episode_count: int

    @strawberry.field(description="The session's episodes in order.")
    async def episodes(self, info: Info) -> list[Episode]:
        episodes = await info.context.run(info.context.memory.episodes, str(self.id))
        return [to_item(e) for e in episodes]  # type: ignore[misc]


@strawberry.type
class Scope:
    can_learn: list[str]
    cannot_learn: list[str]
    share_with: list[str] = strawberry.field(description="Agents that read this agent's memories.")
    inherit_from: list[str] = strawberry.field(description="Agents whose memories this agent reads.")
    description: str


@strawberry.type
class Agent:
    name: str
    scope: Scope
    created_at: datetime

    @strawberry.field(description="The agent's memories, newest first.")
    async def memories(self, info: Info, types: list[str] | None = None, limit: int = 20,
                       include_invalidated: bool = False) -> list[Memory]:
        found = await info.context.run(info.context.memory.memories.recent, self.name, types=types, limit=limit,
                                       include_invalidated=include_invalidated)
        return [to_item(m) for m in found]  # type: ignore[misc]

    @strawberry.field
    async def sessions(self, info: Info) -> list[Session]:
        return [to_session(s) for s in await info.context.run(info.context.memory.store.sessions, self.name)]


async def load_agent(info: Info, name: str) -> Agent | None:
    ctx = info.context
    store = ctx.memory.store
    found = await ctx.loader("agents", lambda names: {a.name: a for a in store.list_agents(names)}).load(name)
    return None if found is None else to_agent(found)


@strawberry.type
class Factor:
    name: str
    value: float
    weight: float
    contribution: float


@strawberry.type
class Evidence:
    name: str = strawberry.field(description="dense, lexical or graph")
    value: float


@strawberry.type
class Explanation:
    factors: list[Factor]
    relevance: list[Evidence]
    found_by: list[str]
    via: str | None
    concept: str | None = strawberry.field(description="The item's word closest in meaning to the query.")
    summary: str


@strawberry.type
class ScoredItem:
    score: float
    kind: str
    item: Item
    source_ids: list[str]
    explanation: Explanation | None = strawberry.field(description="Present when the query asked `explain: true`.")


@strawberry.type
class LearnResult:
    outcome: Outcome
    heuristic: Heuristic | None
    anti_pattern: AntiPattern | None
    notes: list[str]


@strawberry.type
class MemoryEvent:
    id: strawberry.ID
    type: EventType
    memory_id: strawberry.ID
    agent: str
    memory_type: str
    at: datetime
    previous_id: strawberry.ID | None

    @strawberry.field(description="The memory as it is now; null once deleted.")
    async def memory(self, info: Info) -> Memory | None:
        ctx = info.context
        found = await ctx.run(ctx.memory.memories.items, [str(self.memory_id)], await ctx.readers())
        item = found.get(str(self.memory_id))
        return None if item is None else to_item(item)  # type: ignore[return-value]


@strawberry.type
class ProvenanceEdge:
    source: strawberry.ID
    relation: str
    target: strawberry.ID
    at: datetime | None
    reason: str | None = strawberry.field(description="explicit, learning, update, consolidation, ...")


@strawberry.type
class History:
    """A provenance chain: what the root was created from, by which agent and why, what it
    superseded and what superseded it, and when."""

    root: Item
    learned_by: str | None
    learned_at: datetime | None
    reason: str | None
    nodes: list[Item]
    edges: list[ProvenanceEdge]


# -- from the model ----------------------------------------------------------------------------

MEMORY_GQL: dict[str, type] = {t.__name__: t for t in (Heuristic, Outcome, UserPreference, DomainKnowledge, AntiPattern)}


def _init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


def to_item(obj: model.Memory | model.Episode) -> Item:
    if isinstance(obj, model.Episode):
        values = {name: getattr(obj, name) for name in _init_fields(Episode) if name != "session_id"}
        return Episode(**values, session_id=obj.session)
    cls = MEMORY_GQL[obj.type]
    computed = {"memory_type": obj.type, "valid": obj.is_valid}
    values = {name: computed[name] if name in computed else getattr(obj, name) for name in _init_fields(cls)}
    return cls(**values)


def to_session(s: model.Session) -> Session:
    return Session(id=strawberry.ID(s.id), agent=s.agent, started_at=s.started_at, episode_count=s.episode_count)


def to_agent(a: model.Agent) -> Agent:
    scope = Scope(can_learn=list(a.scope.can_learn), cannot_learn=list(a.scope.cannot_learn),
                  share_with=list(a.scope.share_with), inherit_from=list(a.scope.inherit_from),
                  description=a.scope.description)
    return Agent(name=a.name, scope=scope, created_at=a.created_at)


def to_scored(item: model.ScoredItem, explain: bool) -> ScoredItem:
    explanation = None
    if explain:
        e = item.explanation
        explanation = Explanation(
            factors=[Factor(name=k, value=f.value, weight=f.weight, contribution=f.contribution)
                     for k, f in e.factors.items()],
            relevance=[Evidence(name=k, value=val) for k, val in e.relevance.items()],
            found_by=list(e.found_by), via=e.via, concept=e.concept, summary=str(e),
        )
    obj = item.memory if item.memory is not None else item.episode
    return ScoredItem(score=item.score, kind=item.kind, item=to_item(obj), source_ids=list(item.source_ids),  # type: ignore[arg-type]
                      explanation=explanation)


def to_learn_result(r: model.LearnResult) -> LearnResult:
    return LearnResult(
        outcome=to_item(r.outcome),  # type: ignore[arg-type]
        heuristic=None if r.heuristic is None else to_item(r.heuristic),  # type: ignore[arg-type]
        anti_pattern=None if r.anti_pattern is None else to_item(r.anti_pattern),  # type: ignore[arg-type]
        notes=list(r.notes),
    )


def to_event(e: MemoryEventModel) -> MemoryEvent:
    return MemoryEvent(id=strawberry.ID(e.id), type=EventType(e.type), memory_id=strawberry.ID(e.memory_id),
                       agent=e.agent, memory_type=e.memory_type, at=from_ms(e.at_ms),  # type: ignore[arg-type]
                       previous_id=None if e.previous_id is None else strawberry.ID(e.previous_id))

