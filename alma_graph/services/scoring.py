"""Multi-factor scoring: what each factor means and how they combine.

score = w_similarity * similarity
      + similarity * (w_recency * recency + w_success * success + w_confidence * confidence
                      + w_importance * importance)

The quality factors (recency, success, confidence, importance: see importance.py) count in
proportion to how relevant the item is: a plain weighted sum lets a fresh, confident memory about something else outrank the one
the query asks about. With similarity 1 the formula is the plain weighted sum.

`similarity` is itself evidence from four places, each in [0, 1]: the dense cosine, the
lexical (BM25) score relative to the query's best, the concept match — the cosine of the item's
word closest to the query (concepts.py) — and the graph: how relevant the items it is linked to
are (session neighbours, provenance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ValidationError
from ..model import Explanation, Factor, Memory
from .importance import ImportanceWeights

DAY_MS = 86_400_000


@dataclass(frozen=True)
class ScoreWeights:
    similarity: float = 0.4
    recency: float = 0.3
    success: float = 0.2
    confidence: float = 0.1
    # As small as the smallest other quality factor: importance breaks ties between items about
    # equally relevant, it does not outvote relevance.
    importance: float = 0.1

    def __post_init__(self) -> None:
        for name in ("similarity", "recency", "success", "confidence", "importance"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise ValidationError(f"weights.{name}", f"must be a non-negative number, got {value!r}")
        if self.similarity + self.recency + self.success + self.confidence + self.importance <= 0:
            raise ValidationError("weights", "at least one weight must be positive")


@dataclass(frozen=True)
class RetrievalConfig:
    """Knobs of retrieval. The defaults are the documented behaviour; change them per client."""

    weights: ScoreWeights = field(default_factory=ScoreWeights)
    importance: ImportanceWeights = field(default_factory=ImportanceWeights)  # how importance is computed
    candidates: int = 40  # per index (vector, full-text) per node label
    dense_weight: float = 0.65  # share of dense vs lexical evidence in the direct relevance
    # How much the concept match counts beside the dense and lexical evidence together (which
    # count 1): a question about "pets" meets the turn that says "my turtles" through the word,
    # where the whole turn's vector is mostly about something else.
    concept_weight: float = 0.5
    graph_weight: float = 0.5  # how far a strongly matching neighbour lifts an item
    expand_top: int = 25  # candidates whose graph neighbourhood is expanded
    neighbour_decay: float = 1.0  # a neighbour's relevance counts this much through one edge
    session_hops: int = 1  # how many NEXT steps from a matching turn count as its context
    hop_decay: float = 0.5  # each NEXT step beyond the first passes on this share of the lift
    recency_half_life_days: float = 30.0
    # For a question that asks when ("when did...", "how long ago"), items that place what they
    # say in time ("yesterday", "last May", a date) count this much more relevant: with their own
    # timestamp they hold the answer, where an undated mention of the same event does not.
    dated_lift: float = 0.2
    # An episode said by someone the query names (its metadata "speaker") counts this much more
    # relevant: asked about Ann, Ann's own words are the first evidence, before what others said
    # about her or what she said to them.
    speaker_lift: float = 0.15

    def __post_init__(self) -> None:
        weight = self.concept_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
            raise ValidationError("concept_weight", f"must be a non-negative number, got {weight!r}")


def recency(item_ms: int, now_ms: int, half_life_days: float) -> float:
    """1 for now, halving every `half_life_days`; future times count as now."""
    age_days = max(0.0, (now_ms - item_ms) / DAY_MS)
    return 0.5 ** (age_days / half_life_days)


def success(memory: Memory | None) -> float:
    """How well the memory's advice has worked; 0.5 when it says nothing about success."""
    if memory is None:
        return 0.5
    kind = memory.type
    if kind == "Outcome":
        return 1.0 if getattr(memory, "success") else 0.0
    if kind == "Heuristic":
        seen = getattr(memory, "occurrence_count") or 0
        return (getattr(memory, "success_count") or 0) / seen if seen else 0.5
    return 0.5


@dataclass(frozen=True)
class DenseRange:
    """Cosine similarity rescaled from the query's weakest candidate (0) to a perfect match (1).

    Cosines from a sentence embedder crowd into a narrow band (0.2-0.6 for MiniLM) while BM25
    relative to the query's best spans 0-1; removing the floor lets the dense/lexical weight
    mean what it says. The top stays anchored at a perfect match rather than at the best
    candidate, so when nothing matches, nothing is promoted to a full-strength match.
    """

    low: float

    # A few candidates can sit within hundredths of each other: keep the floor this far
    # below the best of them, so noise is not stretched into signal.
    MIN_SPREAD: ClassVar[float] = 0.25

    @classmethod
    def of(cls, values: list[float]) -> DenseRange:
        if not values:
            return cls(0.0)
        return cls(max(-1.0, min(min(values), max(values) - cls.MIN_SPREAD)))

    def __call__(self, value: float) -> float:
        return min(1.0, max(0.0, (value - self.low) / (1.0 - self.low)))


def direct_relevance(dense: float, lexical: float, concept: float | None, config: RetrievalConfig) -> float:
    """Dense (already scaled to [0, 1]), lexical and concept evidence, mixed. An item without
    concepts (stored before they existed) is scored on the other two alone."""
    text = config.dense_weight * dense + (1 - config.dense_weight) * lexical
    if concept is None:
        return text
    return (text + config.concept_weight * max(0.0, concept)) / (1 + config.concept_weight)


def lifted(relevance: float, lifts: Mapping[str, float]) -> float:
    """Relevance lifted by the shares in `lifts` (RetrievalConfig.dated_lift, speaker_lift), at most 1."""
    return min(1.0, relevance * (1.0 + sum(lifts.values())))


def with_graph(own: float, neighbour: float, config: RetrievalConfig) -> float:
    """Lift an item towards a more relevant neighbour; a weaker neighbour never lowers it."""
    return (1 - config.graph_weight) * own + config.graph_weight * max(own, neighbour)


def explain(
    *,
    relevance: float,
    dense: float,
    lexical: float,
    graph: float,
    concept: float | None = None,
    concept_word: str | None = None,
    recency_value: float,
    success_value: float,
    confidence_value: float,
    weights: ScoreWeights,
    importance_value: float = 0.5,
    found_by: tuple[str, ...],
    via: str | None,
    lifts: Mapping[str, float] | None = None,
) -> tuple[float, Explanation]:
    values = {
        "similarity": (relevance, weights.similarity, 1.0),
        "recency": (recency_value, weights.recency, relevance),
        "success": (success_value, weights.success, relevance),
        "confidence": (confidence_value, weights.confidence, relevance),
        "importance": (importance_value, weights.importance, relevance),
    }
    factors = {
        k: Factor(value=round(val, 6), weight=w, contribution=round(val * w * gate, 6))
        for k, (val, w, gate) in values.items()
    }
    # The score is the sum of the contributions as shown, so an explanation always adds up.
    score = round(sum(f.contribution for f in factors.values()), 6)
    explanation = Explanation(
        factors=factors,
        relevance={"dense": round(dense, 6), "lexical": round(lexical, 6), "graph": round(graph, 6),
                   **({} if concept is None else {"concept": round(concept, 6)}),
                   **{name: round(value, 6) for name, value in (lifts or {}).items() if value}},
        found_by=found_by,
        via=via,
        concept=concept_word,
    )
    return score, explanation
