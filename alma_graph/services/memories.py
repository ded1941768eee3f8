"""Writing and reading memories: validation, scope enforcement and versioned updates.

Every front door (Python client, CLI, GraphQL, MCP) goes through this service, so a rule is
checked in one place.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from .. import validation as v
from ..errors import AccessDeniedError, NotFoundError, ValidationError
from ..events import (
    MEMORY_CREATED, MEMORY_DELETED, MEMORY_INVALIDATED, MEMORY_UPDATED, EventBus, MemoryEvent,
)


def event(event_type: str, memory_id: str, agent: str, memory_type: str, *,
          previous_id: str | None = None) -> MemoryEvent:
    return MemoryEvent(event_type, memory_id, agent, memory_type, v.now_ms(), previous_id=previous_id)
from ..graph_walks import group_by_label
from ..model import MEMORY_TYPES, Agent, Episode, History, Memory, MemoryScope, Related, memory_class
from ..store import EpisodeInput, GraphStore
from .merging import confirmed

if TYPE_CHECKING:
    from .reconcile import Reconciler

# Fields a caller may set on any memory without creating a new version of it.
_IN_PLACE = {"confidence", "importance", "metadata"}
MAX_BATCH = 100_000
MAX_RELATED_DEPTH = 4
T = TypeVar("T")
MAX_LIST = 1000


class MemoryService:
    def __init__(self, store: GraphStore, events: EventBus | None = None, reconciler: Reconciler | None = None):
        self.store = store
        self.events = events or EventBus()
        # Checks each explicit add against the agent's memories (a repeat, a contradiction); None: off.
        self.reconciler = reconciler
        self._agents: dict[str, Agent] = {}

    def commit(self, write: Callable[[], object], events: Sequence[MemoryEvent]) -> None:
        """Run a write and record its events in one atomic write; subscribers hear of them once it
        has committed. Read what was written afterwards: inside a transaction, Kuzu 0.11.3's
        `id IN [...]` lookups can return the wrong node for one the transaction created."""
        def unit() -> None:
            write()
            self.events.record(events)

        self.store.backend.atomically(unit)
        for e in events:
            self.events.publish(e)

    # -- agents -----------------------------------------------------------------------------

    def register_agent(self, scope: MemoryScope) -> Agent:
        if not isinstance(scope, MemoryScope):
            raise ValidationError("scope", f"expected a MemoryScope, got {type(scope).__name__}")
        agent = self.store.put_agent(scope)
        self._agents[agent.name] = agent
        return agent

    def share_with(self, agent: str, others: Sequence[str]) -> Agent:
        if isinstance(others, str):
            raise ValidationError("share_with", "expected a list of agent names")
        scope = self.agent(agent).scope
        return self.register_agent(MemoryScope(**{**scope.model_dump(), "share_with": list(others)}))

    def readable(self, agent: str) -> frozenset[str]:
        return self.store.readable_agents(self.agent(agent).name)

    def agent(self, name: object) -> Agent:
        name = v.agent_name("agent", name)
        if name not in self._agents:
            self._agents[name] = self.store.get_agent(name)
        return self._agents[name]

    # -- memories ---------------------------------------------------------------------------

    def add(
        self,
        memory_type: str,
        agent: str,
        fields: Mapping[str, object],
        *,
        confidence: float = 0.5,
        importance: float = 0.5,
        metadata: Mapping[str, object] | None = None,
        valid_from: object = None,
        valid_to: object = None,
        derived_from: Sequence[str] = (),
        supersedes: Sequence[str] = (),
        reason: str = "explicit",
        also: Sequence[str] = (),
    ) -> Memory:
        """Validate, check the agent's scope, and write one memory of `memory_type`; `also`
        names events the write announces besides memory.created (a learned heuristic's
        heuristic.formed)."""
        cls, owner = memory_class(memory_type), self.agent(agent).name

        def prepare(replaces: Sequence[str]) -> tuple[str, Callable[[], None]]:
            return self._prepare(cls, owner, fields, confidence=confidence, importance=importance,
                                 metadata=metadata, valid_from=valid_from, valid_to=valid_to,
                                 derived_from=derived_from, supersedes=replaces, reason=reason)

        memory_id, write = prepare(supersedes)  # every check first: a refused write strengthens nothing either
        replaced: list[str] = []
        # An explicit add that names what it supersedes has said how it relates to the rest, and one
        # placed in time may hold beside another fact of another time.
        if (self.reconciler is not None and reason == "explicit" and not supersedes
                and valid_from is None and valid_to is None):
            decision = self.reconciler.decide(cls.type, owner, self._fields(cls, fields),
                                              v.metadata("metadata", metadata))
            if decision.repeats is not None:
                return self._confirm(decision.repeats, confidence, importance, metadata, derived_from)
            replaced = [m.id for m in decision.contradicts]
            if replaced:
                memory_id, write = prepare(replaced)
        self.commit(write, [event(MEMORY_CREATED, memory_id, owner, cls.type, previous_id=(replaced or [None])[0]),
                            *(event(t, memory_id, owner, cls.type) for t in also),
                            *(event(MEMORY_INVALIDATED, old, owner, cls.type) for old in replaced)])
        return self.store.get_memory(memory_id)

    def _confirm(self, existing: Memory, confidence: float, importance: float,
                 metadata: Mapping[str, object] | None, derived_from: Sequence[str]) -> Memory:
        """A repeat of `existing`: no new memory; the existing one gains a confirmation (its
        confidence and counts go up) and the repeat's evidence."""
        values = confirmed(existing, confidence, importance, v.metadata("metadata", metadata))
        known = {dst for _, dst, _ in self.store.linked([existing.id], "DERIVED_FROM", outgoing=True)}
        sources = [s for s in dict.fromkeys(derived_from) if s not in known]

        def write() -> None:
            self.store.set_memory_fields(existing.type, existing.id, values)
            if sources:
                self.store.add_derivations(existing.type, existing.id, sources, "repeat")

        self.commit(write, [event(MEMORY_UPDATED, existing.id, existing.agent, existing.type)])
        return self.store.get_memory(existing.id)

    def _prepare(self, cls: type[Memory], agent: str, fields: Mapping[str, object], *, confidence: float,
                 importance: float, metadata: Mapping[str, object] | None, valid_from: object,
                 derived_from: Sequence[str], supersedes: Sequence[str], reason: str,
                 valid_to: object = None) -> tuple[str, Callable[[], None]]:
        owner = self.agent(agent)
        owner.scope.check(cls.type)
        clean = self._fields(cls, fields)
        for field, ids in (("derived_from", derived_from), ("supersedes", supersedes)):
            if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
                raise ValidationError(field, "expected a list of ids")
            # A memory derives from what its agent may read (its own nodes and those shared with it),
            # and supersedes only its agent's own: superseding invalidates, which only the owner may.
            foreign = {i: o for i, o in self.store.owners(ids, field=field).items() if o != owner.name}
            readable = self.store.readable_agents(owner.name) if foreign and field == "derived_from" else ()
            for node_id, node_owner in foreign.items():
                if node_owner not in readable:
                    raise ValidationError(field, f"{node_id!r} belongs to agent {node_owner!r}" + (
                        f", whose memories {owner.name!r} does not read" if field == "derived_from"
                        else "; only its owner can supersede it"))
        for old, label in self.store.labels_of(supersedes, field="supersedes").items():
            if label == "Episode":
                raise ValidationError("supersedes", f"{old!r} is an episode; only memories can be superseded")
        return self.store.prepare_memory(
            cls.type,
            owner.name,
            clean,
            confidence=v.unit_interval("confidence", confidence),
            importance=v.unit_interval("importance", importance),
            metadata=v.metadata("metadata", metadata),
            valid_from_ms=None if valid_from is None else v.timestamp_ms("valid_from", valid_from),
            valid_to_ms=_valid_to(valid_from, valid_to),
            derived_from=list(derived_from),
            supersedes=list(supersedes),
            reason=reason,
        )

    @staticmethod
    def _fields(cls: type[Memory], fields: Mapping[str, object]) -> dict[str, object]:
        own = cls.own_fields()
        unknown = set(fields) - set(own)
        if unknown:
            raise ValidationError(sorted(unknown)[0], f"is not a field of {cls.type} (fields: {', '.join(own)})")
        clean: dict[str, object] = {}
        for name, t in own.items():
            value = fields.get(name)
            required = cls.model_fields[name].is_required()
            if value is None:
                if required:
                    raise ValidationError(name, f"is required for {cls.type}")
                clean[name] = cls.model_fields[name].default
                continue
            if t is str:
                clean[name] = v.text(name, value)
            elif t is bool:
                if not isinstance(value, bool):
                    raise ValidationError(name, f"expected true or false, got {value!r}")
                clean[name] = value
            elif t is int:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValidationError(name, f"expected a non-negative integer, got {value!r}")
                clean[name] = value
            else:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValidationError(name, f"expected a non-negative number, got {value!r}")
                clean[name] = float(value)
        return clean

    def get(self, node_id: object, readers: frozenset[str] | None = None) -> Memory | Episode:
        """One memory or episode; with `readers`, one owned by them (any other is "not found",
        so its existence does not leak)."""
        node_id = v.text("id", node_id)
        found = self.items([node_id], readers)
        if node_id not in found:
            raise NotFoundError("memory or episode", node_id)
        return found[node_id]

    def recent(self, agent: str, *, types: Sequence[str] | None = None, limit: int = 20,
               include_invalidated: bool = False) -> list[Memory]:
        """An agent's newest memories (of `types`), newest first."""
        name = self.agent(agent).name
        limit = v.positive_int("limit", limit, maximum=MAX_LIST)
        labels = list(MEMORY_TYPES) if types is None else [memory_class(t, "types").type for t in types]
        found = [m for label in dict.fromkeys(labels)
                 for m in self.store.recent_memories(label, name, limit, include_invalidated)]
        return sorted(found, key=lambda m: m.created_at, reverse=True)[:limit]

    # -- batched reads: a statement per label, whatever the number of ids ----------------------

    def items(self, ids: Sequence[str], readers: frozenset[str] | None = None) -> dict[str, Memory | Episode]:
        labels = {i: label for i, (label, _) in self.store.find(ids, readers).items()}
        return self._fetch(labels, readers)

    def _fetch(self, labels: dict[str, str], readers: frozenset[str] | None) -> dict[str, Memory | Episode]:
        out: dict[str, Memory | Episode] = {}
        for label, ids in group_by_label(labels).items():
            found = self.store.episodes(ids) if label == "Episode" else self.store.memories_by_label(label, ids)
            out.update((o.id, o) for o in found if readers is None or o.agent in readers)
        return out

    def neighbours(self, ids: Sequence[str], rel: str, *, outgoing: bool,
                   readers: frozenset[str] | None = None) -> dict[str, list[Memory | Episode]]:
        """For each id, the nodes one `rel` edge away (outgoing or incoming) that `readers` may see."""
        links = self.store.linked(list(dict.fromkeys(ids)), rel, outgoing=outgoing)
        found = self._fetch({dst: label for _, dst, label in links}, readers)
        out: dict[str, list[Memory | Episode]] = {i: [] for i in ids}
        for src, dst, _ in links:
            if dst in found:
                out[src].append(found[dst])
        return out

    def related(self, ids: Sequence[str], *, depth: int, relations: Sequence[str],
                readers: frozenset[str] | None = None) -> dict[str, list[Related]]:
        """For each id, what lies within `depth` steps along `relations` (either direction),
        nearest first. A walk never passes through a node `readers` may not see."""
        depth = v.positive_int("depth", depth, maximum=MAX_RELATED_DEPTH)
        out: dict[str, list[Related]] = {i: [] for i in ids}
        seen = {i: {i} for i in ids}
        frontier = {i: [i] for i in ids}  # root -> the nodes its walk reached at the last step
        for distance in range(1, depth + 1):
            nodes = list({n for reached in frontier.values() for n in reached})
            steps: dict[str, list[tuple[str, str, str]]] = defaultdict(list)  # node -> (next, rel, direction)
            labels: dict[str, str] = {}
            for rel in relations:
                for outgoing in (True, False):
                    for src, dst, label in self.store.linked(nodes, rel, outgoing=outgoing):
                        steps[src].append((dst, rel, "out" if outgoing else "in"))
                        labels[dst] = label
            found = self._fetch(labels, readers)
            next_frontier: dict[str, list[str]] = defaultdict(list)
            for root, reached in frontier.items():
                for node in reached:
                    for dst, rel, direction in steps.get(node, ()):
                        if dst in found and dst not in seen[root]:
                            seen[root].add(dst)
                            out[root].append(Related(item=found[dst], relation=rel, direction=direction,
                                                     distance=distance, via=node))
                            next_frontier[root].append(dst)
            frontier = next_frontier
            if not frontier:
                break
        return out

    def update(self, memory_id: object, agent: str | None = None, **changes: object) -> Memory:
        """Change a memory.

        Confidence, importance and metadata change in place. A change to what the memory says
        (its type's own fields) writes a new version that SUPERSEDES the old one, which is
        invalidated, not deleted: the history keeps what was believed before.
        """
        memory_id = v.text("id", memory_id)
        current = self.store.get_memory(memory_id)
        self._check_owner(current, agent)
        if not current.is_valid:
            raise ValidationError("id", f"{memory_id!r} was invalidated; update its successor instead")
        if not changes:
            raise ValidationError("changes", "name at least one field to change")
        cls = type(current)
        own = cls.own_fields()
        unknown = set(changes) - set(own) - _IN_PLACE
        if unknown:
            raise ValidationError(sorted(unknown)[0], f"is not an updatable field of {cls.type}")
        in_place = {k: changes[k] for k in _IN_PLACE & set(changes)}
        content = {k: changes[k] for k in set(changes) & set(own)}
        now = v.now_ms()
        values: dict[str, object] = {}
        if "confidence" in in_place:
            values["confidence"] = v.unit_interval("confidence", in_place["confidence"])
        if "importance" in in_place:
            values["importance"] = v.unit_interval("importance", in_place["importance"])
        if "metadata" in in_place:
            values["metadata"] = json.dumps(v.metadata("metadata", in_place["metadata"]), sort_keys=True)
        if content:
            merged = {name: getattr(current, name) for name in own}
            merged.update(content)
            # The new version rests on the same evidence as the one it replaces.
            sources = [dst for _, dst, _ in self.store.linked([memory_id], "DERIVED_FROM", outgoing=True)]
            successor, write = self._prepare(
                cls,
                current.agent,
                merged,
                confidence=values.get("confidence", current.confidence),  # type: ignore[arg-type]
                importance=values.get("importance", current.importance),  # type: ignore[arg-type]
                metadata=v.metadata("metadata", in_place.get("metadata", current.metadata)),
                valid_from=None,
                supersedes=[memory_id],
                derived_from=sources,
                reason="update",
            )
            self.commit(write, [event(MEMORY_UPDATED, successor, current.agent, cls.type, previous_id=memory_id),
                                event(MEMORY_INVALIDATED, memory_id, current.agent, cls.type)])
            return self.store.get_memory(successor)
        values["updated_at"] = now
        self.commit(lambda: self.store.set_memory_fields(cls.type, memory_id, values),
                    [event(MEMORY_UPDATED, memory_id, current.agent, cls.type)])
        return self.store.get_memory(memory_id)

    def _check_owner(self, memory: Memory, agent: str | None) -> None:
        """Only a memory's owner changes it; agents it is shared with only read it."""
        if agent is not None and self.agent(agent).name != memory.agent:
            raise AccessDeniedError("agent", f"{memory.id!r} belongs to agent {memory.agent!r}; only its owner "
                                             "can update or invalidate it")

    def forget(self, memory_id: object, agent: str | None = None, *, hard: bool = False) -> None:
        """Invalidate a memory (invalidated_at = now: no longer believed, kept in its history);
        `hard=True` deletes it and its edges."""
        memory_id = v.text("id", memory_id)
        current = self.store.get_memory(memory_id)
        self._check_owner(current, agent)
        if hard:
            self.commit(lambda: self.store.delete(memory_id),
                        [event(MEMORY_DELETED, memory_id, current.agent, current.type)])
        else:
            self.commit(lambda: self.store.invalidate(memory_id, v.now_ms()),
                        [event(MEMORY_INVALIDATED, memory_id, current.agent, current.type)])

    def history(self, node_id: object, max_depth: int = 10) -> History:
        return self.store.history(v.text("id", node_id), v.positive_int("max_depth", max_depth))

    # -- episodes ---------------------------------------------------------------------------

    def remember(
        self,
        agent: str,
        episodes: Iterable[Mapping[str, object]],
    ) -> list[Episode]:
        owner = self.agent(agent)
        inputs = []
        for i, raw in enumerate(episodes):
            if i >= MAX_BATCH:
                raise ValidationError("episodes", f"at most {MAX_BATCH} episodes per call")
            inputs.append(self.episode_input(owner.name, raw, f"episodes[{i}]"))
        return self.store.add_episodes(owner.name, inputs)

    @staticmethod
    def episode_input(agent: str, raw: Mapping[str, object], where: str) -> EpisodeInput:
        """Check one episode given as a mapping; `where` names it in errors (e.g. "episodes[3]")."""
        if not isinstance(raw, Mapping):
            raise ValidationError(where, f"expected a mapping, got {type(raw).__name__}")
        unknown = set(raw) - {"text", "session", "timestamp", "source_id", "metadata"}
        if unknown:
            raise ValidationError(f"{where}.{sorted(unknown)[0]}", "is not an episode field")
        session = raw.get("session")
        timestamp = raw.get("timestamp")
        source_id = raw.get("source_id")
        return EpisodeInput(
            text=v.text(f"{where}.text", raw.get("text")),
            session=f"{agent}/default" if session is None else _session_id(f"{where}.session", session),
            timestamp_ms=v.now_ms() if timestamp is None else v.timestamp_ms(f"{where}.timestamp", timestamp),
            source_id=None if source_id is None else v.text(f"{where}.source_id", source_id),
            metadata=v.metadata(f"{where}.metadata", raw.get("metadata")),
        )


def _valid_to(valid_from: object, valid_to: object) -> int | None:
    """When the fact stopped holding in the world (world time), after it began (valid_from,
    now when not given)."""
    if valid_to is None:
        return None
    end = v.timestamp_ms("valid_to", valid_to)
    start = v.now_ms() if valid_from is None else v.timestamp_ms("valid_from", valid_from)
    if end <= start:
        raise ValidationError("valid_to", "must be after valid_from (give valid_from for a fact that "
                                          "ended in the past)")
    return end


def _session_id(field: str, value: object) -> str:
    value = v.text(field, value)
    if len(value) > 200:
        raise ValidationError(field, f"is {len(value)} characters; a session id has at most 200")
    return value
