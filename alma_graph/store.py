"""Typed operations on the property graph, written once in plain Cypher for every backend.

The store knows the memory model and the schema; the backend knows its database. Nothing here
asks which database it is talking to: what differs is a backend method.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from . import validation as v
from .backends.base import Backend, Row
from .concepts import WordVectors, concepts
from .embed import Embedder
from .errors import NotFoundError, SchemaVersionError, TransientBackendError, ValidationError
from .model import (
    MEMORY_TYPES,
    Agent,
    Episode,
    Memory,
    MemoryScope,
    Session,
)
from .graph_walks import GraphWalks, group_by_label as _group
from .schema import (
    AGENT,
    CONCEPT,
    EPISODE,
    MEMORY_LABELS,
    NODE_KINDS,
    REL_KINDS,
    SCHEMA_INFO,
    SCHEMA_VERSION,
    SEARCHABLE_LABELS,
    SESSION,
    NodeKind,
    node_kind,
)



@dataclass(frozen=True)
class NewMemory:
    """One memory to write: its owner, its type's own fields and how it came about."""

    agent: str
    fields: dict[str, object]
    confidence: float = 0.5
    importance: float = 0.5
    metadata: dict[str, object] | None = None
    valid_from_ms: int | None = None
    valid_to_ms: int | None = None
    derived_from: Sequence[str] = ()
    supersedes: Sequence[str] = ()
    # Near-duplicates this memory was consolidated from: MERGED_FROM edges, and they are invalidated.
    merged_from: Sequence[str] = ()
    reason: str = "explicit"


@dataclass(frozen=True)
class EpisodeInput:
    text: str
    session: str
    timestamp_ms: int
    source_id: str | None = None
    metadata: dict[str, object] | None = None


@dataclass(frozen=True)
class Mentions:
    """The concepts a batch of items mentions (in the items' order), and the concept nodes to
    create for words the database did not have when the batch was prepared."""

    per_item: list[list[str]]
    new_concepts: list[Row]
    embed: Callable[[Sequence[str]], np.ndarray]  # the store's, for words gone since

    def write(self, backend: Backend, label: str, ids: Sequence[str]) -> None:
        """Inside the caller's atomic write, once the items exist: a rival writer may have added
        some of the words since, which create_missing_nodes leaves as they are, or deleted some
        with the last item that mentioned them, which are embedded again here (rarely: it costs
        the write an embedding call)."""
        prepared = {row["id"] for row in self.new_concepts}
        known = sorted({word for words in self.per_item for word in words} - prepared)
        rows = self.new_concepts + concept_rows(backend, known, self.embed)
        backend.create_missing_nodes(CONCEPT, rows)
        backend.create_edges("MENTIONS", label, "Concept",
                             [(node_id, word, {}) for node_id, words in zip(ids, self.per_item) for word in words])


def concept_rows(backend: Backend, words: Sequence[str],
                 embed: Callable[[Sequence[str]], np.ndarray]) -> list[Row]:
    """Concept nodes, each embedded, for those of `words` the database does not hold."""
    present = {r["id"] for r in backend.match_ids("(n:Concept)", "n", words, "n.id AS id")}
    missing = [word for word in words if word not in present]
    if not missing:
        return []
    now = v.now_ms()
    return [{"id": word, "embedding": vector, "created_at": now} for word, vector in zip(missing, embed(missing))]


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def episode_contexts(inputs: Sequence[EpisodeInput], tails: Mapping[str, str]) -> list[str]:
    """What each episode's vector is made from: its own text, then the turn before it in its
    session. A turn is often only understood through what it answers ("Yeah, I saw it!"); its
    own words come first so that a model's length limit cuts the context, never the turn."""
    before = dict(tails)
    out = []
    for e in inputs:
        previous = before.get(e.session)
        out.append(e.text if previous is None else f"{e.text}\n{previous}")
        before[e.session] = e.text
    return out


def _read_properties(kind: NodeKind) -> str:
    return ", ".join(f"n.{p} AS {p}" for p in kind.property_names if p != "embedding")


class GraphStore(GraphWalks):
    """The memory graph on one backend, with one embedder's vectors."""

    def __init__(self, backend: Backend, embedder: Embedder):
        self.backend = backend
        self.embedder = embedder
        self.dimension = embedder.dimension
        self.word_vectors = WordVectors()
        self._open_schema()

    # -- schema -----------------------------------------------------------------------------

    def _open_schema(self) -> None:
        if self.backend.has_schema():
            rows = self.backend.execute(
                "MATCH (s:AlmaGraphSchema {key: 'schema'}) "
                "RETURN s.version AS version, s.dimension AS dimension, s.embedder AS embedder"
            )
            if not rows:
                raise SchemaVersionError(f"{self.backend.url} has an alma-graph schema with no version record")
            info = rows[0]
            if info["version"] != SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"{self.backend.url} was written with alma-graph schema version {info['version']}; "
                    f"this version reads schema version {SCHEMA_VERSION}. Open it with a matching "
                    "alma-graph release (nothing was changed)."
                )
            if info["dimension"] != self.dimension or info["embedder"] != self.embedder.name:
                raise SchemaVersionError(
                    f"{self.backend.url} holds {info['dimension']}-d vectors from the embedder "
                    f"{info['embedder']!r}; this client uses {self.embedder.name!r} "
                    f"({self.dimension}-d). Open it with the same embedder (nothing was changed)."
                )
        self.backend.ensure_schema(NODE_KINDS, REL_KINDS, self.dimension)
        if not self.backend.execute("MATCH (s:AlmaGraphSchema {key: 'schema'}) RETURN s.key AS key"):
            self.backend.create_nodes(SCHEMA_INFO, [{
                "key": "schema", "version": SCHEMA_VERSION, "dimension": self.dimension,
                "embedder": self.embedder.name, "created_at": v.now_ms(),
            }])

    # -- agents -----------------------------------------------------------------------------

    def put_agent(self, scope: MemoryScope) -> Agent:
        row = {
            "name": scope.agent,
            "can_learn": _dumps(list(scope.can_learn)),
            "cannot_learn": _dumps(list(scope.cannot_learn)),
            "description": scope.description,
        }
        grants = {"SHARES_WITH": scope.share_with, "INHERITS_FROM": scope.inherit_from}
        known = {a.name for a in self.list_agents([n for names in grants.values() for n in names])}
        for field, names in (("scope.share_with", scope.share_with), ("scope.inherit_from", scope.inherit_from)):
            for name in names:
                if name not in known:
                    raise ValidationError(field, f"agent {name!r} does not exist; register it first")
        now = v.now_ms()

        def write() -> None:
            existing = self.backend.execute(
                "MATCH (a:Agent {name: $name}) RETURN a.created_at AS created_at", {"name": scope.agent}
            )
            if existing:
                self.backend.execute(
                    "MATCH (a:Agent {name: $name}) SET a.can_learn = $can_learn, "
                    "a.cannot_learn = $cannot_learn, a.description = $description",
                    row,
                )
            else:
                self.backend.create_nodes(AGENT, [{**row, "created_at": now}])
            for rel, names in grants.items():
                self.backend.execute(f"MATCH (a:Agent {{name: $name}})-[r:{rel}]->(:Agent) DELETE r",
                                     {"name": scope.agent})
                self.backend.create_edges(rel, "Agent", "Agent", [(scope.agent, other, {"at": now}) for other in names])

        self.backend.atomically(write)
        return self.get_agent(scope.agent)

    def get_agent(self, name: str) -> Agent:
        found = self.list_agents([name])
        if not found:
            raise NotFoundError("agent", name)
        return found[0]

    def list_agents(self, names: Iterable[str] | None = None) -> list[Agent]:
        """Every agent, or those of `names` that exist."""
        params = {} if names is None else {"names": sorted(set(names))}
        where = "" if names is None else "WHERE n.name IN $names"
        rows = self.backend.execute(f"MATCH (n:Agent) {where} RETURN {_read_properties(AGENT)} ORDER BY n.name", params)
        grants: dict[tuple[str, str], list[str]] = defaultdict(list)
        for rel in ("SHARES_WITH", "INHERITS_FROM"):
            for r in self.backend.execute(
                f"MATCH (n:Agent)-[:{rel}]->(o:Agent) {where} RETURN n.name AS agent, o.name AS other "
                "ORDER BY other", params,
            ):
                grants[(rel, r["agent"])].append(r["other"])
        return [self._agent(r, grants[("SHARES_WITH", r["name"])], grants[("INHERITS_FROM", r["name"])]) for r in rows]

    def readable_agents(self, reader: str) -> frozenset[str]:
        """The agents whose memories `reader` reads: itself, those sharing with it, those it inherits from."""
        granted = [
            r["name"]
            for statement in ("MATCH (o:Agent)-[:SHARES_WITH]->(r:Agent {name: $reader}) RETURN o.name AS name",
                              "MATCH (r:Agent {name: $reader})-[:INHERITS_FROM]->(o:Agent) RETURN o.name AS name")
            for r in self.backend.execute(statement, {"reader": reader})
        ]
        return frozenset([reader, *granted])

    @staticmethod
    def _agent(row: Row, share_with: Sequence[str] = (), inherit_from: Sequence[str] = ()) -> Agent:
        scope = MemoryScope(
            agent=row["name"],
            can_learn=tuple(json.loads(row["can_learn"] or "[]")),
            cannot_learn=tuple(json.loads(row["cannot_learn"] or "[]")),
            share_with=tuple(share_with),
            inherit_from=tuple(inherit_from),
            description=row["description"] or "",
        )
        return Agent(name=row["name"], scope=scope, created_at=v.from_ms(row["created_at"]))

    # -- memories ---------------------------------------------------------------------------

    def prepare_memory(self, label: str, agent: str, fields: dict[str, object],
                       **options: object) -> tuple[str, Callable[[], None]]:
        """Check and embed one memory now: its id, and the write that creates it with its
        LEARNED, DERIVED_FROM and SUPERSEDES edges, to run inside an atomic write of the caller's."""
        [memory_id], write = self.prepare_memories(label, [NewMemory(agent, fields, **options)])  # type: ignore[arg-type]
        return memory_id, write

    def create_memories(self, label: str, items: Sequence["NewMemory"]) -> list[str]:
        """Write memories of one type (any agents) with their edges in one atomic write; their ids.

        One embedder call and one statement per node or edge kind, however many memories: the path
        for bulk loads. Callers check scopes; the edges' targets are checked here."""
        ids, write = self.prepare_memories(label, items)
        if ids:
            self.backend.atomically(write)
        return ids

    def prepare_memories(self, label: str, items: Sequence["NewMemory"]) -> tuple[list[str], Callable[[], None]]:
        """The ids the memories will have, and the write that creates them: the embedding and the
        checks happen now, outside any transaction, so a write holds its locks only to write."""
        if not items:
            return [], lambda: None
        cls = MEMORY_TYPES[label]
        texts = [cls.render_text(item.fields) for item in items]
        vectors = self.embed(texts)
        mentions = self.prepare_mentions(texts)
        now = v.now_ms()
        sources = self.labels_of([i for item in items for i in item.derived_from], field="derived_from")
        replaced = self.labels_of([i for item in items for i in (*item.supersedes, *item.merged_from)],
                                  field="supersedes")
        for old_id, old_label in replaced.items():
            if old_label not in MEMORY_LABELS:
                raise ValidationError("supersedes", f"{old_id!r} is an {old_label}, not a memory")
        rows, learned = [], []
        derived: dict[str, list[tuple[str, str, Row]]] = defaultdict(list)
        superseded: dict[tuple[str, str], list[tuple[str, str, Row]]] = defaultdict(list)  # (rel, label) ->
        for item, text, vector in zip(items, texts, vectors):
            memory_id = new_id(label.lower()[:4])
            rows.append({
                **item.fields,
                "id": memory_id,
                "agent": item.agent,
                "text": text,
                "embedding": vector,
                "created_at": now,
                "updated_at": now,
                "valid_from": item.valid_from_ms if item.valid_from_ms is not None else now,
                "valid_to": item.valid_to_ms,
                "invalidated_at": None,
                "confidence": item.confidence,
                "importance": item.importance,
                "access_count": 0,
                "last_access": None,
                "metadata": _dumps(item.metadata or {}),
            })
            edge = {"at": now, "reason": item.reason}
            learned.append((item.agent, memory_id, edge))
            for target in dict.fromkeys(item.derived_from):
                derived[sources[target]].append((memory_id, target, edge))
            for rel, targets in (("SUPERSEDES", item.supersedes), ("MERGED_FROM", item.merged_from)):
                for target in dict.fromkeys(targets):
                    superseded[(rel, replaced[target])].append((memory_id, target, edge))

        def write() -> None:
            self.backend.create_nodes(node_kind(label), rows)
            self.backend.create_edges("LEARNED", "Agent", label, learned)
            mentions.write(self.backend, label, [row["id"] for row in rows])
            for target_label, pairs in derived.items():
                self.backend.create_edges("DERIVED_FROM", label, target_label, pairs)
            for (rel, target_label), pairs in superseded.items():
                self.backend.create_edges(rel, label, target_label, pairs)
                self.backend.execute(
                    f"MATCH (n:{target_label}) WHERE n.id IN $ids AND n.invalidated_at IS NULL "
                    "SET n.invalidated_at = $now, n.updated_at = $now",
                    {"ids": [target for _, target, _ in pairs], "now": now},
                )

        return [row["id"] for row in rows], write

    def find(self, ids: Iterable[str], readers: frozenset[str] | None = None) -> dict[str, tuple[str, str]]:
        """(label, owning agent) of each id that exists (and, given `readers`, is owned by one of them)."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        where, params = ("n.agent IN $readers", {"readers": sorted(readers)}) if readers is not None else ("", {})
        return {
            r["id"]: (label, r["agent"])
            for label in SEARCHABLE_LABELS
            for r in self.backend.match_ids(f"(n:{label})", "n", ids, "n.id AS id, n.agent AS agent",
                                            where=where, params=params)
        }

    def locate(self, ids: Iterable[str], *, field: str = "id") -> dict[str, tuple[str, str]]:
        """(label, owning agent) of each memory or episode id; an unknown id is an error naming `field`."""
        ids = list(dict.fromkeys(ids))
        found = self.find(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError("memory or episode" if field == "id" else f"{field} target", missing[0])
        return found

    def labels_of(self, ids: Iterable[str], *, field: str = "id") -> dict[str, str]:
        return {i: label for i, (label, _) in self.locate(ids, field=field).items()}

    def owners(self, ids: Iterable[str], *, field: str = "id") -> dict[str, str]:
        return {i: agent for i, (_, agent) in self.locate(ids, field=field).items()}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, refusing vectors that do not fit the database."""
        vectors = self.embedder.embed(list(texts))
        if vectors.ndim != 2 or vectors.shape != (len(texts), self.dimension):
            raise ValidationError(
                "embedder",
                f"{self.embedder.name} returned vectors of shape {vectors.shape}; the database "
                f"stores {self.dimension}-d vectors (expected {(len(texts), self.dimension)})",
            )
        return vectors

    def get_memory(self, memory_id: str) -> Memory:
        label = self.labels_of([memory_id])[memory_id]
        if label not in MEMORY_LABELS:
            raise ValidationError("id", f"{memory_id!r} is an episode, not a memory")
        return self.memories_by_label(label, [memory_id])[0]

    def memories_by_label(self, label: str, ids: Sequence[str]) -> list[Memory]:
        kind = node_kind(label)
        rows = self.backend.match_ids(f"(n:{label})", "n", ids, _read_properties(kind))
        by_id = {r["id"]: _memory(label, r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def set_memory_fields(self, label: str, memory_id: str, values: dict[str, object]) -> None:
        """In-place update of properties that do not change the retrieval text."""
        kind = node_kind(label)
        for name in values:
            if name not in kind.property_names or name in ("id", "agent", "embedding", "text"):
                raise ValidationError(name, f"is not an updatable field of {label}")
        assignments = ", ".join(f"n.{name} = $v_{name}" for name in values)
        params = {f"v_{k}": val for k, val in values.items()}
        self.backend.execute(
            f"MATCH (n:{label}) WHERE n.id = $id SET {assignments}", {**params, "id": memory_id}
        )

    def invalidate(self, memory_id: str, at_ms: int) -> None:
        label = self.labels_of([memory_id])[memory_id]
        self.backend.execute(
            f"MATCH (n:{label}) WHERE n.id = $id AND n.invalidated_at IS NULL "
            "SET n.invalidated_at = $at, n.updated_at = $at",
            {"id": memory_id, "at": at_ms},
        )

    def delete(self, node_id: str) -> None:
        """Delete a memory or episode with its edges, and the concepts nothing else mentions: a
        word that only a deleted item used does not stay behind."""
        label = self.labels_of([node_id])[node_id]
        mentioned = [r["id"] for r in self.backend.match_ids(
            f"(n:{label})-[:MENTIONS]->(c:Concept)", "n", [node_id], "c.id AS id")]
        self.backend.delete_nodes(node_kind(label), [node_id])
        if mentioned:
            unmentioned = self.backend.execute(
                "MATCH (c:Concept) WHERE c.id IN $ids OPTIONAL MATCH (c)<-[m:MENTIONS]-() "
                "WITH c, count(m) AS n WHERE n = 0 RETURN c.id AS id", {"ids": mentioned})
            self.backend.delete_nodes(CONCEPT, [r["id"] for r in unmentioned])

    # -- concepts ---------------------------------------------------------------------------

    def link_unlinked_items(self, batch: int = 1000) -> dict[str, int]:
        """Write the concepts of the items that mention none (stored before concepts existed),
        `batch` items to a write; how many items of each label were linked. Items without a
        content word stay unlinked and are passed over."""
        linked: dict[str, int] = {}
        for label in SEARCHABLE_LABELS:
            after = ""
            while rows := self.backend.execute(
                f"MATCH (n:{label}) WHERE n.id > $after OPTIONAL MATCH (n)-[m:MENTIONS]->() "
                "WITH n, count(m) AS k WHERE k = 0 RETURN n.id AS id, n.text AS text ORDER BY id LIMIT $batch",
                {"after": after, "batch": batch},
            ):
                after = rows[-1]["id"]
                mentions = self.prepare_mentions([r["text"] for r in rows])
                ids = [r["id"] for r in rows]
                self.backend.atomically(partial(mentions.write, self.backend, label, ids))
                if count := sum(1 for words in mentions.per_item if words):
                    linked[label] = linked.get(label, 0) + count
        return linked

    def prepare_mentions(self, texts: Sequence[str]) -> Mentions:
        """The concepts of each text, the words new to the database embedded now (outside the
        write, like every embedding)."""
        per_text = [concepts(text) for text in texts]
        distinct = sorted({word for words in per_text for word in words})
        return Mentions(per_text, concept_rows(self.backend, distinct, self.embed), self.embed)

    def record_access(self, memory_ids: Sequence[str], at_ms: int) -> None:
        if memory_ids:
            self.backend.execute(
                f"MATCH (n{self.backend.any_label(MEMORY_LABELS)}) WHERE n.id IN $ids "
                "SET n.access_count = n.access_count + 1, n.last_access = $at",
                {"ids": list(memory_ids), "at": at_ms},
            )

    def outcomes(self, agent: str, task_type: str) -> list[Memory]:
        kind = node_kind("Outcome")
        rows = self.backend.execute(
            f"MATCH (n:Outcome) WHERE n.agent = $agent AND n.task_type = $task_type "
            f"AND n.invalidated_at IS NULL RETURN {_read_properties(kind)} ORDER BY n.created_at",
            {"agent": agent, "task_type": task_type},
        )
        return [_memory("Outcome", r) for r in rows]

    def find_memories(self, label: str, agent: str, equals: dict[str, object]) -> list[Memory]:
        """Valid memories of one agent and type whose fields equal the given values."""
        kind = node_kind(label)
        for name in equals:
            v.identifier("field", name)
            if name not in kind.property_names:
                raise ValidationError(name, f"is not a field of {label}")
        where = "".join(f" AND n.{k} = $e_{k}" for k in equals)
        rows = self.backend.execute(
            f"MATCH (n:{label}) WHERE n.agent = $agent AND n.invalidated_at IS NULL{where} "
            f"RETURN {_read_properties(kind)} ORDER BY n.created_at",
            {"agent": agent, **{f"e_{k}": val for k, val in equals.items()}},
        )
        return [_memory(label, r) for r in rows]

    def recent_memories(self, label: str, agent: str, limit: int, include_invalidated: bool) -> list[Memory]:
        """An agent's newest memories of one type."""
        valid = "" if include_invalidated else " AND n.invalidated_at IS NULL"
        rows = self.backend.execute(
            f"MATCH (n:{label}) WHERE n.agent = $agent{valid} "
            f"RETURN {_read_properties(node_kind(label))} ORDER BY n.created_at DESC LIMIT $limit",
            {"agent": agent, "limit": limit},
        )
        return [_memory(label, r) for r in rows]

    def add_derivations(self, label: str, memory_id: str, sources: Sequence[str], reason: str) -> None:
        edge = {"at": v.now_ms(), "reason": reason}
        for target_label, ids in _group(self.labels_of(sources, field="derived_from")).items():
            self.backend.create_edges("DERIVED_FROM", label, target_label, [(memory_id, t, edge) for t in ids])

    # -- episodes ---------------------------------------------------------------------------

    def add_episodes(self, agent: str, inputs: Sequence[EpisodeInput]) -> list[Episode]:
        """Append episodes to their sessions (in input order), linked by IN_SESSION and NEXT."""
        if not inputs:
            return []
        sessions = list(dict.fromkeys(e.session for e in inputs))
        now = v.now_ms()
        # Embedded before the write (the model is slow), from the tails as they are now.
        contexts = episode_contexts(inputs, {s: t[2] for s, t in self._session_tails(sessions).items()})
        embeddings = self.embed(contexts)
        mentions = self.prepare_mentions([e.text for e in inputs])

        def write() -> list[Row]:
            known = self.session_owners(sessions)
            for sid, owner in known.items():
                if owner != agent:
                    raise ValidationError("session", f"{sid!r} belongs to agent {owner!r}, not {agent!r}")
            # Concurrent appends to one session must queue up, not both extend the same tail.
            self.backend.lock_nodes(SESSION, list(known))
            new_sessions = [s for s in sessions if s not in known]
            first_time = {s: min(e.timestamp_ms for e in inputs if e.session == s) for s in new_sessions}
            self.backend.create_nodes(
                SESSION, [{"id": s, "agent": agent, "started_at": first_time[s]} for s in new_sessions]
            )
            self.backend.create_edges("HAS_SESSION", "Agent", "Session", [(agent, s, {}) for s in new_sessions])
            tails = self._session_tails([s for s in sessions if s in known])
            # Another writer may have appended since: the turns that now follow a different tail
            # are embedded again with it.
            now_contexts = episode_contexts(inputs, {s: t[2] for s, t in tails.items()})
            changed = [i for i, (a, b) in enumerate(zip(contexts, now_contexts)) if a != b]
            if changed:
                embeddings[changed] = self.embed([now_contexts[i] for i in changed])
                contexts[:] = now_contexts
            rows, next_pairs = [], []
            for e, emb in zip(inputs, embeddings):
                eid = new_id("ep")
                prev = tails.get(e.session)
                seq = prev[1] + 1 if prev else 0
                if prev:
                    next_pairs.append((prev[0], eid, {}))
                tails[e.session] = (eid, seq, e.text)
                rows.append({
                    "id": eid, "agent": agent, "session": e.session, "text": e.text, "embedding": emb,
                    "timestamp": e.timestamp_ms, "seq": seq, "source_id": e.source_id,
                    "created_at": now, "metadata": _dumps(e.metadata or {}),
                })
            self.backend.create_nodes(EPISODE, rows)
            self.backend.create_edges("IN_SESSION", "Episode", "Session", [(r["id"], r["session"], {}) for r in rows])
            self.backend.create_edges("NEXT", "Episode", "Episode", next_pairs)
            mentions.write(self.backend, "Episode", [r["id"] for r in rows])
            self._check_no_fork([tail for tail, _, _ in next_pairs])
            return rows

        rows = self.backend.atomically(write)
        return [_episode(r) for r in rows]

    def _check_no_fork(self, extended: Sequence[str]) -> None:
        """A database without transactions can let two writers extend the same tail; the one that
        sees a second NEXT edge undoes its write and runs it again (`atomically`)."""
        if not extended or self.backend.isolated_writes:
            return
        rows = self.backend.execute(
            "MATCH (a:Episode)-[:NEXT]->(b:Episode) WHERE a.id IN $ids "
            "WITH a, count(b) AS n WHERE n > 1 RETURN a.id AS id",
            {"ids": list(extended)},
        )
        if rows:
            raise TransientBackendError(f"another writer appended after episode {rows[0]['id']} at the same time")

    def _session_tails(self, sessions: Sequence[str]) -> dict[str, tuple[str, int, str]]:
        """(id, seq, text) of each session's last episode, the one new episodes follow."""
        if not sessions:
            return {}
        # The walk first, the last turn picked here, its text read by id: Kuzu plans the walk
        # back from an aggregate as a scan of every episode.
        last: dict[str, tuple[int, str]] = {}
        for r in self.backend.match_ids("(s:Session)<-[:IN_SESSION]-(e:Episode)", "s", sessions,
                                        "s.id AS session, e.id AS id, e.seq AS seq"):
            if r["session"] not in last or int(r["seq"]) > last[r["session"]][0]:
                last[r["session"]] = (int(r["seq"]), r["id"])
        texts = {r["id"]: r["text"] for r in self.backend.match_ids(
            "(n:Episode)", "n", [i for _, i in last.values()], "n.id AS id, n.text AS text")}
        # A turn deleted between the two reads leaves its session without a known tail here; the
        # write reads the tails again inside its transaction.
        return {session: (node_id, seq, texts[node_id]) for session, (seq, node_id) in last.items()
                if node_id in texts}

    def session_owners(self, sessions: Sequence[str]) -> dict[str, str]:
        """The agent each existing session belongs to."""
        rows = self.backend.execute(
            "MATCH (s:Session) WHERE s.id IN $ids RETURN s.id AS id, s.agent AS agent", {"ids": list(sessions)}
        )
        return {r["id"]: r["agent"] for r in rows}

    def episodes(self, ids: Sequence[str]) -> list[Episode]:
        rows = self.backend.match_ids("(n:Episode)", "n", ids, _read_properties(EPISODE))
        by_id = {r["id"]: _episode(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def session_episodes(self, session: str) -> list[Episode]:
        rows = self.backend.execute(
            f"MATCH (n:Episode) WHERE n.session = $s RETURN {_read_properties(EPISODE)} ORDER BY n.seq",
            {"s": session},
        )
        return [_episode(r) for r in rows]

    def sessions(self, agent: str) -> list[Session]:
        return self._sessions("MATCH (a:Agent {name: $agent})-[:HAS_SESSION]->(s:Session)", {"agent": agent})

    def sessions_by_id(self, ids: Sequence[str]) -> list[Session]:
        return self._sessions("MATCH (s:Session) WHERE s.id IN $ids", {"ids": list(ids)}) if ids else []

    def _sessions(self, match: str, params: dict[str, object]) -> list[Session]:
        rows = self.backend.execute(
            f"{match} OPTIONAL MATCH (e:Episode)-[:IN_SESSION]->(s) "
            "RETURN s.id AS id, s.agent AS agent, s.started_at AS started_at, count(e) AS n "
            "ORDER BY started_at",
            params,
        )
        return [Session(id=r["id"], agent=r["agent"], started_at=v.from_ms(r["started_at"]),
                        episode_count=r["n"]) for r in rows]


def _memory(label: str, row: Row) -> Memory:
    cls = MEMORY_TYPES[label]
    data = {k: row.get(k) for k in cls.model_fields if k in row}
    for name in ("created_at", "updated_at", "valid_from", "valid_to", "invalidated_at", "last_access"):
        data[name] = v.from_ms(row.get(name))
    data["metadata"] = json.loads(row.get("metadata") or "{}")
    return cls(**data)


def _episode(row: Row) -> Episode:
    data = {k: row.get(k) for k in Episode.model_fields if k in row}
    data["timestamp"] = v.from_ms(row["timestamp"])
    data["created_at"] = v.from_ms(row["created_at"])
    meta = row.get("metadata")
    data["metadata"] = json.loads(meta) if isinstance(meta, str) else (meta or {})
    return Episode(**data)
