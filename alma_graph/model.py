"""The property-graph memory model: node kinds, memory types and what retrieval returns.

Every memory is a node with the `Memory` fields below plus its type's own fields; the type is
its label (`Heuristic`, `Outcome`, ...). Provenance, sessions and supersession are edges
(see `schema.py`), not side tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, computed_field

from . import validation
from .errors import ScopeViolationError, ValidationError


class Memory(BaseModel):
    """Fields every memory has, whatever its type."""

    model_config = ConfigDict(frozen=True)

    type: ClassVar[str] = "Memory"

    id: str
    agent: str
    text: str = Field(description="The text retrieval matches against.")
    created_at: datetime
    updated_at: datetime
    valid_from: datetime = Field(description="World time: when the fact began to hold.")
    valid_to: datetime | None = Field(
        None, description="World time: when the fact stopped holding (exclusive); None while it holds.")
    invalidated_at: datetime | None = Field(
        None, description="System time: when the memory stopped being believed (forgotten or superseded).")
    confidence: float = 0.5
    importance: float = 0.5
    access_count: int = 0
    last_access: datetime | None = None
    metadata: dict[str, object] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def memory_type(self) -> str:
        """The memory's type (its label), included when the memory is serialised."""
        return self.type

    @property
    def is_valid(self) -> bool:
        """Whether the memory is still believed (not invalidated); says nothing of world time."""
        return self.invalidated_at is None

    def held_at(self, when: datetime) -> bool:
        """Whether the fact held in the world at `when` (valid_from <= when < valid_to)."""
        return self.valid_from <= when and (self.valid_to is None or when < self.valid_to)

    @classmethod
    def own_fields(cls) -> dict[str, type]:
        """The fields this memory type adds to `Memory`, with their scalar Python types."""
        base = set(Memory.model_fields)
        out: dict[str, type] = {}
        for name, info in cls.model_fields.items():
            if name in base:
                continue
            out[name] = _scalar_type(info.annotation)
        return out

    @classmethod
    def render_text(cls, fields: dict[str, object]) -> str:
        """The retrieval text of a memory of this type, built from its own fields."""
        raise NotImplementedError


def _scalar_type(annotation: object) -> type:
    for candidate in (bool, int, float, str):
        if annotation is candidate or candidate.__name__ in str(annotation):
            return candidate
    raise TypeError(f"unsupported memory field type {annotation!r}")


class Heuristic(Memory):
    """A strategy that has worked for a kind of task."""

    type: ClassVar[str] = "Heuristic"
    condition: str
    strategy: str
    occurrence_count: int = 0
    success_count: int = 0

    @classmethod
    def render_text(cls, f: dict[str, object]) -> str:
        return f"When {f['condition']}: {f['strategy']}"


class Outcome(Memory):
    """What happened when the agent tried a strategy on a task."""

    type: ClassVar[str] = "Outcome"
    task: str
    task_type: str
    success: bool
    strategy_used: str
    duration_ms: float | None = None
    error: str | None = None

    @classmethod
    def render_text(cls, f: dict[str, object]) -> str:
        verdict = "succeeded" if f["success"] else "failed"
        text = f"Task ({f['task_type']}): {f['task']}. Strategy: {f['strategy_used']}. It {verdict}."
        if f.get("error"):
            text += f" Error: {f['error']}"
        return text


class UserPreference(Memory):
    type: ClassVar[str] = "UserPreference"
    user: str
    category: str
    preference: str
    source: str | None = None

    @classmethod
    def render_text(cls, f: dict[str, object]) -> str:
        return f"{f['user']} prefers ({f['category']}): {f['preference']}"


class DomainKnowledge(Memory):
    type: ClassVar[str] = "DomainKnowledge"
    domain: str
    fact: str
    source: str | None = None

    @classmethod
    def render_text(cls, f: dict[str, object]) -> str:
        return f"[{f['domain']}] {f['fact']}"


class AntiPattern(Memory):
    """Something that keeps failing, why, and what to do instead."""

    type: ClassVar[str] = "AntiPattern"
    pattern: str
    why_bad: str
    better_alternative: str | None = None
    occurrence_count: int = 0

    @classmethod
    def render_text(cls, f: dict[str, object]) -> str:
        text = f"Avoid: {f['pattern']}. Why: {f['why_bad']}."
        if f.get("better_alternative"):
            text += f" Instead: {f['better_alternative']}"
        return text


MEMORY_TYPES: dict[str, type[Memory]] = {
    cls.type: cls for cls in (Heuristic, Outcome, UserPreference, DomainKnowledge, AntiPattern)
}
AnyMemory = Union[Heuristic, Outcome, UserPreference, DomainKnowledge, AntiPattern]


def memory_class(name: str, field: str = "type") -> type[Memory]:
    try:
        return MEMORY_TYPES[name]
    except (KeyError, TypeError):
        raise ValidationError(
            field, f"unknown memory type {name!r}; expected one of {', '.join(MEMORY_TYPES)}"
        ) from None


class Episode(BaseModel):
    """A raw observation: a conversation turn, a tool result, a document chunk."""

    model_config = ConfigDict(frozen=True)

    id: str
    agent: str
    session: str
    text: str
    timestamp: datetime
    seq: int = Field(description="Position within its session, from 0.")
    source_id: str | None = None
    created_at: datetime
    metadata: dict[str, object] = Field(default_factory=dict)


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    agent: str
    started_at: datetime
    episode_count: int = 0


class MemoryScope(BaseModel):
    """Which memory types an agent may write, and whose memories it reads.

    `can_learn` empty means every type not in `cannot_learn`. An agent reads its own memories,
    those of every agent that lists it in `share_with`, and those of every agent in its own
    `inherit_from`; it writes, updates and invalidates only its own.
    """

    model_config = ConfigDict(frozen=True)

    agent: str
    can_learn: tuple[str, ...] = ()
    cannot_learn: tuple[str, ...] = ()
    share_with: tuple[str, ...] = ()
    inherit_from: tuple[str, ...] = ()
    description: str = ""

    def __init__(self, **data: object):
        # Checked before pydantic sees the data, so the caller gets our ValidationError
        # (naming the field) rather than pydantic's wrapper around it.
        validation.agent_name("scope.agent", data.get("agent"))
        for field in ("can_learn", "cannot_learn"):
            names = data.get(field) or ()
            if isinstance(names, str) or not isinstance(names, (list, tuple, set, frozenset)):
                raise ValidationError(f"scope.{field}", f"expected a list of memory type names, got {names!r}")
            for name in names:
                memory_class(name, f"scope.{field}")
            data[field] = tuple(names)
        for field in ("share_with", "inherit_from"):
            names = data.get(field) or ()
            if isinstance(names, str) or not isinstance(names, (list, tuple, set, frozenset)):
                raise ValidationError(f"scope.{field}", f"expected a list of agent names, got {names!r}")
            names = tuple(dict.fromkeys(validation.agent_name(f"scope.{field}", n) for n in names))
            if data.get("agent") in names:
                raise ValidationError(f"scope.{field}", "an agent always reads its own memories; list other agents")
            data[field] = names
        overlap = set(data.get("can_learn") or ()) & set(data.get("cannot_learn") or ())
        if overlap:
            raise ValidationError("scope", f"{sorted(overlap)} are in both can_learn and cannot_learn")
        super().__init__(**data)

    def allows(self, memory_type: str) -> bool:
        if memory_type in self.cannot_learn:
            return False
        return not self.can_learn or memory_type in self.can_learn

    def check(self, memory_type: str) -> None:
        if memory_type in self.cannot_learn:
            raise ScopeViolationError(self.agent, memory_type, "it is in the scope's cannot_learn")
        if self.can_learn and memory_type not in self.can_learn:
            raise ScopeViolationError(
                self.agent, memory_type, f"the scope's can_learn is {list(self.can_learn)}"
            )


class Agent(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    scope: MemoryScope
    created_at: datetime


class Factor(BaseModel):
    """One term of a score: its value in [0, 1], its weight and what it adds."""

    model_config = ConfigDict(frozen=True)

    value: float
    weight: float
    contribution: float


class Explanation(BaseModel):
    """Why an item scored what it did."""

    model_config = ConfigDict(frozen=True)

    factors: dict[str, Factor]
    relevance: dict[str, float] = Field(
        description="What the similarity factor is made of: dense, lexical and graph evidence."
    )
    found_by: tuple[str, ...] = Field(description="How the item became a candidate.")
    via: str | None = Field(None, description="For graph expansion: the edge and the item it came from.")
    concept: str | None = Field(None, description="The item's word closest in meaning to the query.")

    def __str__(self) -> str:
        parts = [f"{k}={f.value:.2f}x{f.weight:g}" for k, f in self.factors.items()]
        found = "+".join(self.found_by) + (f" via {self.via}" if self.via else "")
        found += f", concept {self.concept!r}" if self.concept else ""
        return f"{' '.join(parts)} ({found})"


class ScoredItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: Literal["memory", "episode"]
    score: float
    memory: AnyMemory | None = None
    episode: Episode | None = None
    source_ids: tuple[str, ...] = Field(
        (), description="source_id of every episode the item is or derives from."
    )
    explanation: Explanation

    @property
    def id(self) -> str:
        return self.memory.id if self.memory is not None else self.episode.id  # type: ignore[union-attr]

    @property
    def text(self) -> str:
        return self.memory.text if self.memory is not None else self.episode.text  # type: ignore[union-attr]


class MemorySlice(BaseModel):
    """What `retrieve` returns: the best items for a query, best first."""

    model_config = ConfigDict(frozen=True)

    query: str
    agent: str
    items: tuple[ScoredItem, ...]
    took_ms: float

    def __iter__(self):  # type: ignore[override]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> ScoredItem:
        return self.items[index]

    @property
    def source_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for item in self.items:
            for sid in item.source_ids:
                seen.setdefault(sid, None)
        return list(seen)

    def to_context(self) -> str:
        """The items as plain text lines for a prompt, each led by its date and kind, so a model
        can resolve "yesterday" or "last week" in what was said."""
        lines = []
        for item in self.items:
            if item.episode is not None:
                when, kind = item.episode.timestamp, "Episode"
            else:
                when, kind = item.memory.valid_from, item.memory.type  # type: ignore[union-attr]
            lines.append(f"[{when.date().isoformat()} {kind}] {item.text}")
        return "\n".join(lines)


class ProvenanceStep(BaseModel):
    """One provenance edge: `source` derives from / supersedes / was merged from `target`."""

    model_config = ConfigDict(frozen=True)

    source: str
    relation: str
    target: str
    at: datetime | None = Field(None, description="When the edge was written.")
    reason: str | None = Field(None, description="Why: explicit, learning, update, consolidation, ...")


class ProvenanceNode(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    text: str
    agent: str | None = None
    valid: bool = True
    created_at: datetime | None = None
    valid_to: datetime | None = None  # world time: when the fact stopped holding
    invalidated_at: datetime | None = None  # system time: when it stopped being believed


class History(BaseModel):
    """A memory's provenance chain: what it was created from, by which agent and why, what it
    superseded, and what superseded it and when."""

    model_config = ConfigDict(frozen=True)

    root: str
    learned_by: str | None
    learned_at: datetime | None = None
    reason: str | None = Field(None, description="Why the root was written (its LEARNED edge's reason).")
    nodes: tuple[ProvenanceNode, ...]
    edges: tuple[ProvenanceStep, ...]

    def node(self, node_id: str) -> ProvenanceNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


class Related(BaseModel):
    """A node reached by walking the graph from another: how, and how far."""

    model_config = ConfigDict(frozen=True)

    item: AnyMemory | Episode
    relation: str
    direction: Literal["out", "in"]
    distance: int
    via: str = Field(description="The id of the node this one was reached from.")


class LearnResult(BaseModel):
    """What one `learn` call recorded and what it formed."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    heuristic: Heuristic | None = None
    anti_pattern: AntiPattern | None = None
    notes: tuple[str, ...] = ()
