"""How much a memory matters, from what it says and how it has been used, in [0, 1].

    importance = prior + (1 - prior) * min(1, 0.35 * emphasis + 0.25 * decision
                                              + 0.2 * usage + 0.2 * references)

`prior` is the importance the caller gave the memory (its stored `importance`, 0.5 unless set;
0.5 for an episode). The signals, each in [0, 1], only ever lift it towards 1, so a caller's own
judgement is a floor and nothing a memory says or how it is used can push it below:

- emphasis: the text says it matters ("important", "remember this", "critical", "always",
  "never", ...): 0.5 per distinct marker, at most 1; metadata `important: true` or
  `priority: high|critical` is 1.
- decision: the text records a decision ("we decided", "let's go with", "chose", ...): 0 or 1.
- usage: how often and how lately retrieval returned it: 1 - 0.5^(access_count / 4), halved for
  every 30 days since its last access.
- references: how many memories rest on it (incoming DERIVED_FROM, MERGED_FROM, SUPERSEDES; for an
  episode, the memories derived from it): 1 - 0.5^(references / 2).

Computed when read, not stored: usage and references change with every retrieval and every write
that links to a memory, so a stored score would be stale until refreshed, and folding the score
back into `importance` would lose the caller's own value (a given 0.5 looks like the default)
and compound on every recomputation. Retrieval computes it for its shortlist (a regex pass over
the texts and one statement each for episodes and memories for the references).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ..errors import ValidationError
from ..graph_walks import GraphWalks
from ..schema import MEMORY_LABELS

DAY_MS = 86_400_000
NEUTRAL = 0.5  # the prior of a memory nobody rated, and of every episode
# Edges whose arrival at a node means another memory rests on it.
REFERENCE_RELS = ("DERIVED_FROM", "MERGED_FROM", "SUPERSEDES")

_EMPHASIS = re.compile(
    r"\b(?:important|importantly|remember this|remember that|don'?t forget|do not forget|critical|crucial|"
    r"essential|must|always|never|top priority|key point)\b", re.I)
_DECISION = re.compile(
    r"\b(?:we|i|they|team)\s+(?:have\s+)?(?:decided|agreed|settled on|chose|picked|opted)\b|"
    r"\b(?:decided to|decision(?: is| was)?:?|let'?s go with|we'?ll go with|going with|chose|chosen|"
    r"settled on|agreed to|agreed on)\b", re.I)
_HIGH_PRIORITY = {"high", "critical", "urgent"}


@dataclass(frozen=True)
class ImportanceWeights:
    """How much each signal lifts the prior towards 1 (their sum caps at 1)."""

    emphasis: float = 0.35
    decision: float = 0.25
    usage: float = 0.2
    references: float = 0.2
    usage_half_count: float = 4.0  # retrievals that make usage 0.5
    usage_half_life_days: float = 30.0  # usage halves for every this many days since last retrieved
    references_half: float = 2.0  # references that make the signal 0.5

    def __post_init__(self) -> None:
        for name in ("emphasis", "decision", "usage", "references"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValidationError(f"importance.{name}", f"must be a non-negative number, got {value!r}")
        for name in ("usage_half_count", "usage_half_life_days", "references_half"):
            if not getattr(self, name) > 0:
                raise ValidationError(f"importance.{name}", "must be positive")


class Signals(BaseModel):
    """What an item's importance is computed from, each signal in [0, 1]."""

    model_config = ConfigDict(frozen=True)

    prior: float = NEUTRAL
    emphasis: float = 0.0
    decision: float = 0.0
    usage: float = 0.0
    references: float = 0.0


def combine(signals: Signals, weights: ImportanceWeights = ImportanceWeights()) -> float:
    """The importance in [0, 1]: the prior lifted towards 1 by the weighted signals."""
    lift = min(1.0, weights.emphasis * signals.emphasis + weights.decision * signals.decision
               + weights.usage * signals.usage + weights.references * signals.references)
    prior = min(1.0, max(0.0, signals.prior))
    return round(prior + (1.0 - prior) * lift, 6)


def emphasis(text: str, metadata: Mapping[str, object] | None = None) -> float:
    meta = metadata or {}
    priority = meta.get("priority")
    if meta.get("important") is True or (isinstance(priority, str) and priority.lower() in _HIGH_PRIORITY):
        return 1.0
    markers = {m.group(0).lower() for m in _EMPHASIS.finditer(text)}
    return min(1.0, 0.5 * len(markers))


def decision(text: str) -> float:
    return 1.0 if _DECISION.search(text) else 0.0


def usage(access_count: int, last_access_ms: int | None, now_ms: int,
          weights: ImportanceWeights = ImportanceWeights()) -> float:
    if access_count <= 0 or last_access_ms is None:
        return 0.0
    frequency = 1.0 - 0.5 ** (access_count / weights.usage_half_count)
    idle_days = max(0.0, (now_ms - last_access_ms) / DAY_MS)
    return frequency * 0.5 ** (idle_days / weights.usage_half_life_days)


def references(count: int, weights: ImportanceWeights = ImportanceWeights()) -> float:
    return 1.0 - 0.5 ** (max(0, count) / weights.references_half)


def signals(text: str, *, prior: float = NEUTRAL, metadata: Mapping[str, object] | None = None,
            access_count: int = 0, last_access_ms: int | None = None, reference_count: int = 0,
            now_ms: int = 0, weights: ImportanceWeights = ImportanceWeights()) -> Signals:
    """An item's signals from what it says, its usage record and how many memories rest on it."""
    return Signals(prior=prior, emphasis=emphasis(text, metadata), decision=decision(text),
                   usage=usage(access_count, last_access_ms, now_ms, weights),
                   references=references(reference_count, weights))


def reference_counts(store: GraphWalks, labels: Mapping[str, str]) -> Counter[str]:
    """For each memory or episode (id -> its label), how many edges of REFERENCE_RELS arrive at it."""
    counts: Counter[str] = Counter()
    # Episodes apart from memories: a walk from one table is one a backend can start from nodes it
    # looked up (Kuzu at 100k, 23 episodes: 16 ms by a scan, 8.5 ms from their lookups).
    for family in (("Episode",), MEMORY_LABELS):
        ids = [node_id for node_id, label in labels.items() if label in family]
        counts.update(store.incoming_counts(family, ids, REFERENCE_RELS))
    return counts
