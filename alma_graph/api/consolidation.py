"""GraphQL for consolidation: the `consolidate` and `compress` mutations, thin over
services/consolidation.py and services/compression.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry
from strawberry.scalars import JSON

from ..errors import ValidationError
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
        return await _memory(info, self.merged_id)


async def _memory(info: Info, memory_id: strawberry.ID | None) -> Memory | None:
    if memory_id is None:
        return None
    ctx = info.context
    found = await ctx.run(ctx.memory.memories.items, [str(memory_id)], await ctx.readers())
    item = found.get(str(memory_id))
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


@strawberry.type(description="Old memories on one topic, summed up (or, on a dry run, that would be) into one.")
class CompressionGroup:
    memory_type: str
    summarized: list[strawberry.ID] = strawberry.field(description="The originals, most central first.")
    texts: list[str] = strawberry.field(description="The originals' texts, in the same order.")
    text: str = strawberry.field(description="What the summary memory says.")
    fields: JSON = strawberry.field(description="The summary's own fields (counts summed).")
    confidence: float
    summarized_by: str = strawberry.field(description="llm or offline.")
    note: str | None = strawberry.field(description="Why the offline summary stood in for a configured model.")
    summary_id: strawberry.ID | None = strawberry.field(description="The summary memory; null on a dry run.")

    @strawberry.field(description="The summary memory; null on a dry run.")
    async def summary(self, info: Info) -> Memory | None:
        return await _memory(info, self.summary_id)


@strawberry.type
class CompressionResult:
    agent: str
    memory_types: list[str]
    cutoff: datetime = strawberry.field(description="Memories learned and last retrieved before this are old.")
    keep_confidence: float
    dry_run: bool
    examined: int = strawberry.field(description="Valid memories looked at.")
    compressed: int = strawberry.field(description="Originals summed up (or that would be).")
    groups: list[CompressionGroup]


async def compress(info: Info, agent: str | None = None, older_than_days: float = 90.0, keep_confidence: float = 0.8,
                   memory_type: str | None = None, similarity_threshold: float | None = None,
                   dry_run: bool = False) -> CompressionResult:
    ctx = info.context
    if not older_than_days >= 0:
        raise ValidationError("older_than_days", f"must be 0 or more, got {older_than_days}")
    r = await ctx.run(ctx.memory.compress, ctx.who.acting_as(agent), timedelta(days=older_than_days),
                      keep_confidence, dry_run, memory_type, similarity_threshold)
    groups = [
        CompressionGroup(memory_type=g.memory_type, summarized=[strawberry.ID(i) for i in g.summarized],
                         texts=list(g.texts), text=g.text, fields=g.fields, confidence=g.confidence,
                         summarized_by=g.summarized_by, note=g.note,
                         summary_id=None if g.summary_id is None else strawberry.ID(g.summary_id))
        for g in r.groups
    ]
    return CompressionResult(agent=r.agent, memory_types=list(r.memory_types), cutoff=r.cutoff,
                             keep_confidence=r.keep_confidence, dry_run=r.dry_run, examined=r.examined,
                             compressed=r.compressed, groups=groups)
