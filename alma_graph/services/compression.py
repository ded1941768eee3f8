"""Compression: an agent's old, little-believed memories, summed up by topic.

A memory is old when it was learned (created_at, system time) and last retrieved before the
cutoff, so one still in use is never compressed however old. Of those, the valid ones whose
confidence is below `keep_confidence` are grouped by type, then by partition (one user's
preferences, one domain's facts: as consolidation never mixes them), then by topic: the
communities (Louvain, networkx) of the graph whose edges join two memories at a cosine of at
least `topic_similarity`. Each group of two or more becomes one summary memory of the same type.

The summary reuses MERGED_FROM, with reason "compression": it is the same relation as a
consolidation's (one new memory stands for originals it replaces, of its own type, invalidated
and kept), so provenance chains, retrieval's walks and the webhook events need nothing new, and
the edge's reason tells the two apart. A run announces, per summary, memory.created,
memory.consolidated (previous_id: the most central original) and memory.invalidated per
original, in one atomic write.

The summary's text comes from the language model when one is configured (prompts.summary_prompt;
an answer that is not the JSON asked for, or not shorter than the originals, falls back to the
offline summary, and the group says so); offline it is extractive: the most central sentences
of the group (summed cosine to the others), near-repeats dropped, at most SUMMARY_SENTENCES and
about SUMMARY_CHARS. Confidence is the originals' mean (a summary is not a confirmation),
importance their highest. Outcomes are events and are never compressed; episodes, the raw
record, are left alone too: a memory's evidence stays what it was.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .. import validation as v
from ..errors import ModelAnswerError, ValidationError
from ..llm import ChatModel, prompts
from ..model import Memory
from .consolidation import mergeable_labels, model_fields, write_merges
from .memories import MemoryService
from .merging import (
    ConsolidationConfig, cosines, lexical_overlap, normalised, partition, summed_counts, words,
)

log = logging.getLogger(__name__)

SUMMARY_SENTENCES = 3
SUMMARY_CHARS = 500
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


class CompressionGroup(BaseModel):
    """Old memories on one topic, summed up (or, on a dry run, that would be) into one."""

    model_config = ConfigDict(frozen=True)

    memory_type: str
    summarized: tuple[str, ...] = Field(description="The originals' ids, most central first.")
    texts: tuple[str, ...] = Field(description="The originals' texts, in the same order.")
    text: str = Field(description="What the summary memory says.")
    fields: dict[str, object] = Field(description="The summary's own fields (counts summed).")
    confidence: float
    summarized_by: Literal["llm", "offline"]
    note: str | None = Field(None, description="Why the offline summary stood in for a configured model.")
    summary_id: str | None = Field(None, description="The summary memory's id; null on a dry run.")


class CompressionResult(BaseModel):
    """What one compression run summed up (or would) into what."""

    model_config = ConfigDict(frozen=True)

    agent: str
    memory_types: tuple[str, ...]
    cutoff: datetime = Field(description="Memories learned and last retrieved before this are old.")
    keep_confidence: float
    dry_run: bool
    examined: int = Field(description="Valid memories looked at.")
    groups: tuple[CompressionGroup, ...]

    @property
    def compressed(self) -> int:
        """How many originals were (or would be) summed up."""
        return sum(len(g.summarized) for g in self.groups)


class Compressor:
    def __init__(self, memories: MemoryService, config: ConsolidationConfig | None = None,
                 model: ChatModel | None = None):
        self.memories = memories
        self.store = memories.store
        self.config = config or ConsolidationConfig()
        self.model = model

    def compress(self, agent: str, older_than: timedelta = timedelta(days=90), keep_confidence: float = 0.8,
                 dry_run: bool = False, memory_type: str | None = None,
                 similarity_threshold: float | None = None) -> CompressionResult:
        owner = self.memories.agent(agent)
        if not isinstance(older_than, timedelta) or older_than < timedelta(0):
            raise ValidationError("older_than", f"expected a duration of 0 or more, got {older_than!r}")
        keep_confidence = v.unit_interval("keep_confidence", keep_confidence)
        threshold = self.config.topic_similarity if similarity_threshold is None else similarity_threshold
        threshold = v.unit_interval("similarity_threshold", threshold)
        labels = mergeable_labels(owner, memory_type, "compressed")
        cutoff = v.from_ms(v.now_ms() - int(older_than.total_seconds() * 1000))
        assert cutoff is not None
        examined, planned = 0, []
        for label in labels:
            found = self.store.find_memories(label, owner.name, {})
            examined += len(found)
            old = [m for m in found if m.confidence < keep_confidence and m.created_at < cutoff
                   and (m.last_access is None or m.last_access < cutoff)]
            planned += [(self._plan(label, members), members) for members in self._topics(label, old, threshold)]
        groups = [group for group, _ in planned]
        if not dry_run and planned:
            groups = self._write(owner.name, planned)
        return CompressionResult(agent=owner.name, memory_types=labels, cutoff=cutoff, keep_confidence=keep_confidence,
                                 dry_run=bool(dry_run), examined=examined, groups=tuple(groups))

    # -- grouping by topic --------------------------------------------------------------------

    def _topics(self, label: str, old: Sequence[Memory], threshold: float) -> list[list[Memory]]:
        """Groups of two or more memories of one partition and topic, each most central first."""
        if len(old) < 2:
            return []
        vectors = self.store.backend.embeddings(label, [m.id for m in old])
        by_partition: dict[str, list[Memory]] = defaultdict(list)
        for m in old:
            if m.id in vectors:
                by_partition[partition(m)].append(m)
        out = []
        for members in by_partition.values():
            similar = cosines(np.stack([vectors[m.id] for m in members]))
            graph = nx.Graph()
            graph.add_nodes_from(range(len(members)))
            graph.add_weighted_edges_from((i, j, float(similar[i, j])) for i in range(len(members))
                                          for j in range(i + 1, len(members)) if similar[i, j] >= threshold)
            for community in nx.community.louvain_communities(graph, weight="weight", seed=0):
                if len(community) < 2:
                    continue
                ranked = sorted(community, key=lambda i: (-sum(similar[i, j] for j in community), i))
                out.append([members[i] for i in ranked])
        return sorted(out, key=lambda group: min(m.created_at for m in group))

    # -- what a group is summed up into -------------------------------------------------------

    def _plan(self, label: str, members: list[Memory]) -> CompressionGroup:
        cls = type(members[0])
        offline = self._offline_fields(members)
        fields, by, note = offline, "offline", None
        if self.model is not None:
            try:
                fields, by = self._ask_model(label, members, offline), "llm"
            except (ModelAnswerError, ValidationError) as exc:
                note = f"the model's summary was unusable, so the offline summary stands: {exc}"
                log.warning("compressing %s of %s: %s", label, members[0].agent, note)
        return CompressionGroup(
            memory_type=label, summarized=tuple(m.id for m in members), texts=tuple(m.text for m in members),
            text=cls.render_text(fields), fields=fields,
            confidence=round(sum(m.confidence for m in members) / len(members), 6),
            summarized_by=by, note=note,  # type: ignore[arg-type]
        )

    def _offline_fields(self, members: list[Memory]) -> dict[str, object]:
        cls = type(members[0])
        text = {name: self.extract([getattr(m, name) for m in members])
                for name, t in cls.own_fields().items() if t is str}
        return MemoryService._fields(cls, {**text, **summed_counts(members)})

    def extract(self, values: Sequence[str | None], sentences: int = SUMMARY_SENTENCES,
                chars: int = SUMMARY_CHARS) -> str | None:
        """An extractive summary of one field's values: its most central sentences (summed cosine
        to the others), a sentence whose words another kept one mostly holds dropped, at most
        `sentences` of them and, past the first, `chars` characters."""
        first_wording: dict[str, str] = {}
        for value in values:
            for sentence in _SENTENCE_END.split(value or ""):
                sentence = sentence.strip(" .;")
                if normalised(sentence):
                    first_wording.setdefault(normalised(sentence), sentence)
        found = list(first_wording.values())
        if not found:
            return None
        centrality = cosines(self.store.embed(found)).sum(axis=1)
        kept: list[str] = []
        for i in sorted(range(len(found)), key=lambda i: (-centrality[i], i)):
            candidate = found[i]
            if any(words(candidate) <= words(k) or lexical_overlap(candidate, k) >= 0.6 for k in kept):
                continue
            if kept and len(kept) == sentences:
                break
            if kept and len("; ".join([*kept, candidate])) > chars:
                continue
            kept.append(candidate)
        return "; ".join(kept)

    def _ask_model(self, label: str, members: list[Memory], offline: dict[str, object]) -> dict[str, object]:
        """The model's summary text fields, checked as an explicit write's would be, and shorter
        than the originals together; counts stay summed."""
        assert self.model is not None
        cls = type(members[0])
        fields = model_fields(self.model, prompts.summary_prompt, label, members, offline)
        if len(cls.render_text(fields)) >= sum(len(m.text) for m in members):
            raise ModelAnswerError("the model's summary is no shorter than the memories it sums up")
        return fields

    # -- writing ------------------------------------------------------------------------------

    def _write(self, agent: str, planned: list[tuple[CompressionGroup, list[Memory]]]) -> list[CompressionGroup]:
        """Every summary of the run in one atomic write; the groups with the summaries' ids."""
        ids = write_merges(self.memories, agent, [(g.memory_type, g.fields, g.confidence, g.summarized, originals)
                                                  for g, originals in planned], reason="compression")
        return [g.model_copy(update={"summary_id": i}) for (g, _), i in zip(planned, ids)]
