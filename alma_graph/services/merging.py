"""The rules of merging memories, free of any database: when two memories say the same thing,
when they contradict each other offline, which one is best supported, and what a merge of
several of them says and counts.

Consolidation (services/consolidation.py) and the check on every explicit write
(services/reconcile.py) share these, so a repeat means the same thing to both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..llm import LLMConfig
from ..validation import now_ms
from ..model import Memory

_WORD = re.compile(r"\w+")
# Memory types consolidation and the write check handle. Outcomes are events: each one
# happened, so two alike are two pieces of evidence, never a duplicate.
MERGEABLE = ("Heuristic", "UserPreference", "DomainKnowledge", "AntiPattern")
# The verb that separates a fact's subject from what it says about it ("the default timeout is 30 s").
_COPULA = re.compile(r"\s(?:is|are|was|were)\s", re.I)
MAX_SUBJECT_WORDS = 6


@dataclass(frozen=True)
class ConsolidationConfig:
    """How near-duplicates are found and merged.

    `on_write`: an explicit add first looks at the agent's memories of its type: a repeat
    strengthens the existing memory instead of writing a new one, a contradiction supersedes the
    older memory. `similarity_threshold` and `min_overlap`: two memories are near-duplicates when
    the cosine of their embeddings reaches the threshold and the share of words they have in
    common (Jaccard) reaches the overlap. `judge_similarity`: with an `llm`, the cosine from which
    the model is asked whether a new memory repeats or contradicts one whose key differs.
    `candidates`: how many similar memories a write looks at. `topic_similarity`: compression
    (services/compression.py) puts two old memories in one topic when their cosine reaches it,
    a looser bar than a near-duplicate's.
    """

    on_write: bool = True
    similarity_threshold: float = 0.85
    min_overlap: float = 0.3
    judge_similarity: float = 0.75
    candidates: int = 10
    topic_similarity: float = 0.5
    llm: LLMConfig | None = None


def words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def normalised(text: str) -> str:
    """The text with case, punctuation and spacing ignored: two memories whose texts normalise
    alike repeat each other."""
    return " ".join(w.lower() for w in _WORD.findall(text))


def lexical_overlap(a: str, b: str) -> float:
    """The share of words two texts have in common (Jaccard of their word sets)."""
    x, y = words(a), words(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def subject(fact: str) -> str | None:
    """The attribute a fact sets, when it says so plainly: the words before its first
    is/are/was/were ("the default timeout is 30 s" -> "the default timeout"), two to a few words.
    A bare name is no such key: "python is fun" and "python is dynamically typed" both hold, while
    two values of "the default timeout" cannot."""
    match = _COPULA.search(fact)
    if match is None:
        return None
    head = normalised(fact[: match.start()])
    return head if 2 <= len(head.split()) <= MAX_SUBJECT_WORDS else None


def contradiction_key(memory_type: str, fields: Mapping[str, object],
                      metadata: Mapping[str, object] | None = None) -> tuple[str, ...] | None:
    """Two memories of one agent and type with the same key cannot both hold: the newer replaces
    the older. A preference is keyed by its user and category, a heuristic by its condition, an
    anti-pattern by its pattern, a fact by its domain and subject (`metadata["subject"]` when the
    caller names it, else the fact's own subject); None when a memory has no key."""
    def key(*names: str) -> tuple[str, ...]:
        return tuple(normalised(str(fields.get(n) or "")) for n in names)

    if memory_type == "UserPreference":
        return key("user", "category")
    if memory_type == "Heuristic":
        return key("condition")
    if memory_type == "AntiPattern":
        return key("pattern")
    if memory_type == "DomainKnowledge":
        named = (metadata or {}).get("subject")
        about = normalised(named) if isinstance(named, str) and named.strip() else subject(str(fields.get("fact", "")))
        return None if about is None else (*key("domain"), about)
    return None


def key_fields(memory_type: str) -> tuple[str, ...]:
    """The stored fields a contradiction key is read from (for finding candidates by equality)."""
    return {"UserPreference": ("user", "category"), "Heuristic": ("condition",),
            "AntiPattern": ("pattern",), "DomainKnowledge": ("domain",)}.get(memory_type, ())


def partition(memory: Memory) -> str:
    """Memories merge only within one partition: one user's preferences never merge with another's,
    nor facts of different domains, however alike their texts."""
    owner = {"UserPreference": "user", "DomainKnowledge": "domain"}.get(memory.type)
    return normalised(str(getattr(memory, owner))) if owner else ""


def own_values(memory: Memory) -> dict[str, object]:
    return {name: getattr(memory, name) for name in type(memory).own_fields()}


def support(memory: Memory, derivations: int = 0) -> tuple[float, ...]:
    """How well supported a memory is, for ordering: the outcomes counted behind it, the
    evidence it derives from, its confidence, how often it was used, and then the newer first."""
    return (float(getattr(memory, "occurrence_count", 0) or 0), float(derivations), memory.confidence,
            float(memory.access_count), memory.created_at.timestamp())


def merge_text(values: Sequence[str | None]) -> str | None:
    """One field's values, best-supported first, merged without repeating itself: a value whose
    words another value already holds is dropped (the fuller one kept, in the first one's place)."""
    kept: list[str] = []
    for value in values:
        if value is None or not str(value).strip():
            continue
        mine = words(value)
        if any(mine <= words(k) for k in kept):
            continue
        covered = [i for i, k in enumerate(kept) if words(k) <= mine]
        if covered:
            kept[covered[0]] = value
            kept = [k for i, k in enumerate(kept) if i not in covered[1:]]
        else:
            kept.append(value)
    return "; ".join(kept) if kept else None


def merge_fields(members: Sequence[Memory]) -> dict[str, object]:
    """The offline merge of near-duplicates ordered best-supported first: the first as the base,
    every text field keeping the distinct things the others say, counts summed."""
    cls = type(members[0])
    merged: dict[str, object] = {name: merge_text([getattr(m, name) for m in members])
                                 for name, t in cls.own_fields().items() if t is str}
    return {**merged, **summed_counts(members)}


def summed_counts(members: Sequence[Memory]) -> dict[str, int]:
    """The count fields of the type (occurrence_count, success_count), summed over the members."""
    cls = type(members[0])
    return {name: sum(int(getattr(m, name) or 0) for m in members)
            for name, t in cls.own_fields().items() if t is int}


def combined_confidence(members: Sequence[Memory], counts: Mapping[str, int]) -> float:
    """A heuristic with counted outcomes is as confident as its summed record says (Laplace, as
    learning computes it); otherwise each member is an independent confirmation: 1 - prod(1 - c)."""
    occurrences, successes = counts.get("occurrence_count", 0), counts.get("success_count")
    if successes is not None and occurrences > 0 and successes > 0:
        return (successes + 1) / (occurrences + 2)
    return reinforced(*(m.confidence for m in members))


def reinforced(*confidences: float) -> float:
    doubt = 1.0
    for c in confidences:
        doubt *= 1.0 - c
    return round(1.0 - doubt, 6)


def merged_metadata(members: Sequence[Memory]) -> dict[str, object]:
    """Every member's metadata, the better-supported member's value winning a clash."""
    out: dict[str, object] = {}
    for m in reversed(members):
        out.update(m.metadata)
    return out


def confirmed(existing: Memory, confidence: float, importance: float,
              metadata: Mapping[str, object]) -> dict[str, object]:
    """The in-place changes a repeat makes to the memory it repeats: its confidence combines with
    the repeat's as an independent confirmation, one more occurrence is counted (for a heuristic,
    one more report of it working), the higher importance stands, and metadata keys it lacked are
    added."""
    own = type(existing).own_fields()
    values: dict[str, object] = {
        "confidence": reinforced(existing.confidence, confidence),
        "importance": max(existing.importance, importance),
        "updated_at": now_ms(),
    }
    for name in ("occurrence_count", "success_count"):
        if name in own:
            values[name] = int(getattr(existing, name) or 0) + 1
    if set(metadata) - set(existing.metadata):
        values["metadata"] = json.dumps({**metadata, **existing.metadata}, sort_keys=True)
    return values


def cosines(vectors: np.ndarray) -> np.ndarray:
    """Every pair's cosine similarity, as a square matrix."""
    matrix = np.asarray(vectors, dtype=np.float64)
    matrix = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix @ matrix.T
