"""GraphQL for consolidation: the `consolidate` mutation, thin over services/consolidation.py."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from ..services import consolidation as service
from .types import Info, Memory, to_item


@strawberry.type(description="Near-duplicates that merged (or, on a dry run, would merge) into one memory.")
class MergeGroup:
    memory_type: str
    merged_from: list[strawberry.ID] = strawberry.field(description="The originals, best supported first.")
    texts: list[str] = strawberry.field(description="The originals' texts, in the same order.")
    similarity: float = strawberry.field(description="The lowest cosine between the first and another original.")
    text: str = strawberry.field(description="What the merged memory says.")
    fields: JSON = strawberry.field(description="The merged memory's own fields (counts summed).")
    confidence: float
    merged_by: str = strawberry.field(description="llm or offline.")
    note: str | None = strawberry.field(description="Why the offline merge stood in for a configured model.")
    merged_id: strawberry.ID | None = strawberry.field(description="The new memory; null on a dry run.")

    @strawberry.field(description="The new memory; null on a dry run.")
    async def merged(self, info: Info) -> Memory | None:
        if self.merged_id is None:
            return None
        ctx = info.context
        found = await ctx.run(ctx.memory.memories.items, [str(self.merged_id)], await ctx.readers())
        item = found.get(str(self.merged_id))
        return None if item is None else to_item(item)  # type: ignore[return-value]


@strawberry.type
class ConsolidationResult:
    agent: str
    memory_types: list[str]
    similarity_threshold: float
    dry_run: bool
    examined: int = strawberry.field(description="Valid memories looked at.")
    merged: int = strawberry.field(description="Originals merged (or that would be).")
    groups: list[MergeGroup]


def to_result(r: service.ConsolidationResult) -> ConsolidationResult:
    groups = [
        MergeGroup(memory_type=g.memory_type, merged_from=[strawberry.ID(i) for i in g.merged_from],
                   texts=list(g.texts), similarity=g.similarity, text=g.text, fields=g.fields,
                   confidence=g.confidence, merged_by=g.merged_by, note=g.note,
                   merged_id=None if g.merged_id is None else strawberry.ID(g.merged_id))
        for g in r.groups
    ]
    return ConsolidationResult(agent=r.agent, memory_types=list(r.memory_types),
                               similarity_threshold=r.similarity_threshold, dry_run=r.dry_run,
                               examined=r.examined, merged=r.merged, groups=groups)


async def consolidate(info: Info, agent: str | None = None, memory_type: str | None = None,
                      similarity_threshold: float | None = None, dry_run: bool = False) -> ConsolidationResult:
    ctx = info.context
    result = await ctx.run(ctx.memory.consolidate, ctx.who.acting_as(agent), memory_type, similarity_threshold,
                           dry_run=dry_run)
    return to_result(result)
