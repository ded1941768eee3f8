"""Consolidation: merge an agent's near-duplicate memories into one, keeping the originals.

Within one memory type (never Outcomes: they are events), memories whose embeddings are close
(cosine) and whose words overlap are grouped around the best-supported one. Each group becomes one
new memory with MERGED_FROM edges to the originals, which are invalidated, never deleted; the
new memory derives from everything they derived from, its counts are their sums and its
confidence their combination. One run is one atomic write, with a memory.created and a
memory.consolidated event per merge and a memory.invalidated per original.

The merged text comes from the language model when one is configured. An answer that is not the
JSON asked for (or lacks a required field) falls back to the offline merge for that group, and the
group says so in `note`; an unreachable model fails the run (ModelError) and nothing is written.
Offline, the best-supported member is the base and the distinct things the others say are kept.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .. import validation as v
from ..errors import ModelAnswerError, ValidationError
from ..events import MEMORY_CONSOLIDATED, MEMORY_CREATED, MEMORY_INVALIDATED
from ..llm import ChatModel, prompts
from ..model import Agent, Memory, memory_class
from .memories import MemoryService, event
from .merging import (
    MERGEABLE, ConsolidationConfig, cosines, combined_confidence, lexical_overlap, merge_fields, merged_metadata,
    own_values, partition, summed_counts, support,
)

log = logging.getLogger(__name__)


class MergeGroup(BaseModel):
    """Near-duplicates that merge (or, on a dry run, would merge) into one memory."""

    model_config = ConfigDict(frozen=True)

    memory_type: str
    merged_from: tuple[str, ...] = Field(description="The originals' ids, best supported first (the base).")
    texts: tuple[str, ...] = Field(description="The originals' texts, in the same order.")
    similarity: float = Field(description="The lowest cosine between the base and another member.")
    text: str = Field(description="What the merged memory says.")
    fields: dict[str, object] = Field(description="The merged memory's own fields (counts summed).")
    confidence: float
    merged_by: Literal["llm", "offline"]
    note: str | None = Field(None, description="Why the offline merge stood in for a configured model.")
    merged_id: str | None = Field(None, description="The new memory's id; null on a dry run.")


class ConsolidationResult(BaseModel):
    """What one consolidation run merged (or would merge) into what."""

    model_config = ConfigDict(frozen=True)

    agent: str
    memory_types: tuple[str, ...]
    similarity_threshold: float
    dry_run: bool
    examined: int = Field(description="Valid memories looked at.")
    groups: tuple[MergeGroup, ...]

    @property
    def merged(self) -> int:
        """How many originals were (or would be) merged away."""
        return sum(len(g.merged_from) for g in self.groups)


class Consolidator:
    def __init__(self, memories: MemoryService, config: ConsolidationConfig | None = None,
                 model: ChatModel | None = None):
        self.memories = memories
        self.store = memories.store
        self.config = config or ConsolidationConfig()
        self.model = model

    def consolidate(self, agent: str, memory_type: str | None = None, similarity_threshold: float | None = None,
                    dry_run: bool = False) -> ConsolidationResult:
        owner = self.memories.agent(agent)
        threshold = self.config.similarity_threshold if similarity_threshold is None else similarity_threshold
        threshold = v.unit_interval("similarity_threshold", threshold)
        if threshold <= 0:
            raise ValidationError("similarity_threshold", "must be above 0 (0 would merge everything)")
        labels = mergeable_labels(owner, memory_type, "merged")
        examined, planned = 0, []
        for label in labels:
            found = self.store.find_memories(label, owner.name, {})
            examined += len(found)
            planned += [(self._plan(label, members, similarity), members)
                        for members, similarity in self._groups(label, found, threshold)]
        groups = [group for group, _ in planned]
        if not dry_run and planned:
            groups = self._write(owner.name, planned)
        return ConsolidationResult(agent=owner.name, memory_types=labels, similarity_threshold=threshold,
                                   dry_run=bool(dry_run), examined=examined, groups=tuple(groups))

    # -- finding near-duplicates --------------------------------------------------------------

    def _groups(self, label: str, found: Sequence[Memory], threshold: float) -> list[tuple[list[Memory], float]]:
        """Groups of two or more near-duplicates, each around its best-supported member: taken in
        order of support, a memory not yet grouped gathers every ungrouped one close to it."""
        if len(found) < 2:
            return []
        vectors = self.store.backend.embeddings(label, [m.id for m in found])
        derivations = Counter(src for src, _, _ in self.store.linked([m.id for m in found], "DERIVED_FROM", outgoing=True))
        ranked = sorted((m for m in found if m.id in vectors), key=lambda m: support(m, derivations[m.id]), reverse=True)
        similar = cosines(np.stack([vectors[m.id] for m in ranked]))
        parts = [partition(m) for m in ranked]
        grouped = np.zeros(len(ranked), dtype=bool)
        out = []
        for i, base in enumerate(ranked):
            if grouped[i]:
                continue
            row = similar[i]
            members = [j for j in range(i + 1, len(ranked))
                       if not grouped[j] and row[j] >= threshold and parts[j] == parts[i]
                       and lexical_overlap(base.text, ranked[j].text) >= self.config.min_overlap]
            if members:
                grouped[[i, *members]] = True
                out.append(([base, *(ranked[j] for j in members)], float(min(row[j] for j in members))))
        return out

    # -- what a group merges into -------------------------------------------------------------

    def _plan(self, label: str, members: list[Memory], similarity: float) -> MergeGroup:
        cls = type(members[0])
        offline = merge_fields(members)
        fields, merged_by, note = offline, "offline", None
        if self.model is not None:
            try:
                fields, merged_by = self._ask_model(label, members, offline), "llm"
            except (ModelAnswerError, ValidationError) as exc:
                note = f"the model's merge was unusable, so the offline merge stands: {exc}"
                log.warning("consolidating %s of %s: %s", label, members[0].agent, note)
        counts = summed_counts(members)
        return MergeGroup(
            memory_type=label, merged_from=tuple(m.id for m in members), texts=tuple(m.text for m in members),
            similarity=round(similarity, 6), text=cls.render_text(fields), fields=fields,
            confidence=combined_confidence(members, counts), merged_by=merged_by, note=note,  # type: ignore[arg-type]
        )

    def _ask_model(self, label: str, members: list[Memory], offline: dict[str, object]) -> dict[str, object]:
        assert self.model is not None
        return model_fields(self.model, prompts.merge_prompt, label, members, offline)

    # -- writing ------------------------------------------------------------------------------

    def _write(self, agent: str, planned: list[tuple[MergeGroup, list[Memory]]]) -> list[MergeGroup]:
        """Every merge of the run in one atomic write; the groups with the new memories' ids."""
        ids = write_merges(self.memories, agent, [(g.memory_type, g.fields, g.confidence, g.merged_from, originals)
                                                  for g, originals in planned], reason="consolidation")
        return [g.model_copy(update={"merged_id": i}) for (g, _), i in zip(planned, ids)]


def model_fields(model: ChatModel, build_prompt: Callable[..., str], label: str, members: Sequence[Memory],
                 offline: dict[str, object]) -> dict[str, object]:
    """The fields of one memory standing for `members`, their text written by the model from
    `build_prompt(label, text_fields, members' texts)` and checked as an explicit write's would
    be; the other fields (summed counts) stay as `offline` has them."""
    cls = type(members[0])
    text_fields = [name for name, t in cls.own_fields().items() if t is str]
    prompt = build_prompt(label, text_fields, [{k: own_values(m)[k] for k in text_fields} for m in members])
    answer = model.ask(prompts.SYSTEM, prompt, prompts.MergeAnswer)
    given = {k: answer.fields.get(k) for k in text_fields}
    return MemoryService._fields(cls, {**{k: val for k, val in offline.items() if k not in text_fields}, **given})


def mergeable_labels(owner: Agent, memory_type: str | None, doing: str) -> tuple[str, ...]:
    """The memory types a consolidation or compression run covers: `memory_type`, or every type
    that merges and the agent may learn. `doing` names the run in errors ("merged", "compressed")."""
    if memory_type is None:
        return tuple(t for t in MERGEABLE if owner.scope.allows(t))
    label = memory_class(memory_type, "memory_type").type
    if label not in MERGEABLE:
        raise ValidationError("memory_type", f"{label} memories are events and are never {doing}; "
                                             f"expected one of {', '.join(MERGEABLE)}")
    owner.scope.check(label)
    return (label,)


def write_merges(memories: MemoryService, agent: str,
                 merges: Sequence[tuple[str, dict[str, object], float, Sequence[str], Sequence[Memory]]],
                 reason: str) -> list[str]:
    """Write memories that each stand for several originals, in one atomic write: (type, fields,
    confidence, the originals' ids with the main one first, the originals). Each new memory has
    MERGED_FROM edges to its originals (invalidated), keeps their evidence, their highest
    importance, the earliest valid_from, and a valid_to only if every original stopped holding.
    Events: memory.created, memory.consolidated, memory.invalidated for each original. Returns
    the new ids."""
    store = memories.store
    sources: dict[str, list[str]] = {}
    for src, dst, _ in store.linked([m.id for *_, originals in merges for m in originals], "DERIVED_FROM",
                                    outgoing=True):
        sources.setdefault(src, []).append(dst)
    writes: list[Callable[[], None]] = []
    events, ids = [], []
    for memory_type, fields, confidence, merged_from, originals in merges:
        ends = [m.valid_to for m in originals]
        new_id, write = store.prepare_memory(
            memory_type, agent, fields, confidence=confidence,
            importance=max(m.importance for m in originals), metadata=merged_metadata(originals),
            valid_from_ms=min(v.timestamp_ms("valid_from", m.valid_from) for m in originals),
            valid_to_ms=None if None in ends else max(v.timestamp_ms("valid_to", e) for e in ends),
            derived_from=list(dict.fromkeys(d for m in originals for d in sources.get(m.id, ()))),
            merged_from=list(merged_from), reason=reason,
        )
        writes.append(write)
        ids.append(new_id)
        events += [event(MEMORY_CREATED, new_id, agent, memory_type),
                   event(MEMORY_CONSOLIDATED, new_id, agent, memory_type, previous_id=merged_from[0]),
                   *(event(MEMORY_INVALIDATED, old, agent, memory_type) for old in merged_from)]

    def write_all() -> None:
        for write in writes:
            write()

    memories.commit(write_all, events)
    return ids


class ScheduledConsolidation:
    """Consolidates every agent's memories every `interval_s` seconds on a background thread,
    until `stop()`. A failed run is logged and the next one comes at its time."""

    def __init__(self, consolidator: Consolidator, interval_s: float):
        if interval_s <= 0:
            raise ValidationError("interval", "must be a positive number of seconds")
        self.consolidator = consolidator
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alma-graph-consolidation", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def run_once(self) -> list[ConsolidationResult]:
        results = []
        for agent in self.consolidator.store.list_agents():
            try:
                result = self.consolidator.consolidate(agent.name)
            except Exception:
                log.exception("scheduled consolidation of agent %r failed", agent.name)
                continue
            if result.groups:
                log.info("consolidated agent %r: %d memories merged into %d", agent.name, result.merged,
                         len(result.groups))
            results.append(result)
        self.runs += 1
        return results

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()
