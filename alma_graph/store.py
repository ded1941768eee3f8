"""Typed operations on the property graph, written once in plain Cypher for every backend.

The store knows the memory model and the schema; the backend knows its database. Nothing here
asks which database it is talking to: what differs is a backend method.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from . import validation as v
from .backends.base import Backend, Hit, Row, SearchFilter
from .embed import Embedder
from .errors import NotFoundError, SchemaVersionError, ValidationError
from .model import (
    MEMORY_TYPES,
    Agent,
    Episode,
    History,
    Memory,
    MemoryScope,
    ProvenanceNode,
    ProvenanceStep,
    Session,
)
from .schema import (
    AGENT,
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

PROVENANCE_RELS = ("DERIVED_FROM", "SUPERSEDES")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class EpisodeInput:
    text: str
    session: str
    timestamp_ms: int
    source_id: str | None = None
    metadata: dict[str, object] | None = None


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _read_properties(kind: NodeKind) -> str:
    return ", ".join(f"n.{p} AS {p}" for p in kind.property_names if p != "embedding")


class GraphStore:
    """The memory graph on one backend, with one embedder's vectors."""

    def __init__(self, backend: Backend, embedder: Embedder):
        self.backend = backend
        self.embedder = embedder
        self.dimension = embedder.dimension
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
        with self.backend.transaction():
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
                self.backend.create_nodes(AGENT, [{**row, "created_at": v.now_ms()}])
        return self.get_agent(scope.agent)

    def get_agent(self, name: str) -> Agent:
        rows = self.backend.execute(
            f"MATCH (n:Agent) WHERE n.name = $name RETURN {_read_properties(AGENT)}", {"name": name}
        )
        if not rows:
            raise NotFoundError("agent", name)
        return self._agent(rows[0])

    def list_agents(self) -> list[Agent]:
        rows = self.backend.execute(f"MATCH (n:Agent) RETURN {_read_properties(AGENT)} ORDER BY n.name")
        return [self._agent(r) for r in rows]

    @staticmethod
    def _agent(row: Row) -> Agent:
        scope = MemoryScope(
            agent=row["name"],
            can_learn=tuple(json.loads(row["can_learn"] or "[]")),
            cannot_learn=tuple(json.loads(row["cannot_learn"] or "[]")),
            description=row["description"] or "",
        )
        return Agent(name=row["name"], scope=scope, created_at=v.from_ms(row["created_at"]))

    # -- memories ---------------------------------------------------------------------------

    def create_memory(
        self,
        label: str,
        agent: str,
        fields: dict[str, object],
        *,
        confidence: float = 0.5,
        importance: float = 0.5,
        metadata: dict[str, object] | None = None,
        valid_from_ms: int | None = None,
        derived_from: Sequence[str] = (),
        supersedes: Sequence[str] = (),
        reason: str = "explicit",
    ) -> Memory:
        """Write one memory with its LEARNED, DERIVED_FROM and SUPERSEDES edges, atomically."""
        cls = MEMORY_TYPES[label]
        text = cls.render_text(fields)
        now = v.now_ms()
        memory_id = new_id(label.lower()[:4])
        row = {
            **fields,
            "id": memory_id,
            "agent": agent,
            "text": text,
            "embedding": self.embed([text])[0],
            "created_at": now,
            "updated_at": now,
            "valid_from": valid_from_ms if valid_from_ms is not None else now,
            "valid_to": None,
            "confidence": confidence,
            "importance": importance,
            "access_count": 0,
            "last_access": None,
            "metadata": _dumps(metadata or {}),
        }
        sources = self.labels_of(derived_from, field="derived_from")
        replaced = self.labels_of(supersedes, field="supersedes")
        for old_id, old_label in replaced.items():
            if old_label not in MEMORY_LABELS:
                raise ValidationError("supersedes", f"{old_id!r} is an {old_label}, not a memory")
        edge = {"at": now, "reason": reason}
        with self.backend.transaction():
            self.backend.create_nodes(node_kind(label), [row])
            self.backend.create_edges("LEARNED", "Agent", label, [(agent, memory_id, edge)])
            for target_label, ids in _group(sources).items():
                self.backend.create_edges(
                    "DERIVED_FROM", label, target_label, [(memory_id, t, edge) for t in ids]
                )
            for target_label, ids in _group(replaced).items():
                self.backend.create_edges(
                    "SUPERSEDES", label, target_label, [(memory_id, t, edge) for t in ids]
                )
                self.backend.execute(
                    f"MATCH (n:{target_label}) WHERE n.id IN $ids AND n.valid_to IS NULL "
                    "SET n.valid_to = $now, n.updated_at = $now",
                    {"ids": ids, "now": now},
                )
        return self.get_memory(memory_id)

    def locate(self, ids: Iterable[str], *, field: str = "id") -> dict[str, tuple[str, str]]:
        """(label, owning agent) of each memory or episode id; an unknown id is an error naming `field`."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        union = " UNION ALL ".join(
            f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, '{label}' AS label, n.agent AS agent"
            for label in SEARCHABLE_LABELS
        )
        found = {r["id"]: (r["label"], r["agent"]) for r in self.backend.execute(union, {"ids": ids})}
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
        rows = self.backend.execute(
            f"MATCH (n:{label}) WHERE n.id IN $ids RETURN {_read_properties(kind)}", {"ids": list(ids)}
        )
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
            f"MATCH (n:{label}) WHERE n.id = $id AND n.valid_to IS NULL "
            "SET n.valid_to = $at, n.updated_at = $at",
            {"id": memory_id, "at": at_ms},
        )

    def delete(self, node_id: str) -> None:
        label = self.labels_of([node_id])[node_id]
        self.backend.execute(f"MATCH (n:{label}) WHERE n.id = $id DETACH DELETE n", {"id": node_id})

    def record_access(self, ids_by_label: dict[str, list[str]], at_ms: int) -> None:
        for label, ids in ids_by_label.items():
            if label in MEMORY_LABELS and ids:
                self.backend.execute(
                    f"MATCH (n:{label}) WHERE n.id IN $ids "
                    "SET n.access_count = n.access_count + 1, n.last_access = $at",
                    {"ids": ids, "at": at_ms},
                )

    def outcomes(self, agent: str, task_type: str) -> list[Memory]:
        kind = node_kind("Outcome")
        rows = self.backend.execute(
            f"MATCH (n:Outcome) WHERE n.agent = $agent AND n.task_type = $task_type "
            f"AND n.valid_to IS NULL RETURN {_read_properties(kind)} ORDER BY n.created_at",
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
            f"MATCH (n:{label}) WHERE n.agent = $agent AND n.valid_to IS NULL{where} "
            f"RETURN {_read_properties(kind)} ORDER BY n.created_at",
            {"agent": agent, **{f"e_{k}": val for k, val in equals.items()}},
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
        embeddings = self.embed([e.text for e in inputs])
        with self.backend.transaction():
            known = self.session_owners(sessions)
            for sid, owner in known.items():
                if owner != agent:
                    raise ValidationError("session", f"{sid!r} belongs to agent {owner!r}, not {agent!r}")
            new_sessions = [s for s in sessions if s not in known]
            first_time = {s: min(e.timestamp_ms for e in inputs if e.session == s) for s in new_sessions}
            self.backend.create_nodes(
                SESSION, [{"id": s, "agent": agent, "started_at": first_time[s]} for s in new_sessions]
            )
            self.backend.create_edges("HAS_SESSION", "Agent", "Session", [(agent, s, {}) for s in new_sessions])
            tails = {
                r["session"]: (r["id"], r["seq"])
                for r in self.backend.execute(
                    "MATCH (e:Episode) WHERE e.session IN $ids WITH e.session AS s, max(e.seq) AS m "
                    "MATCH (x:Episode) WHERE x.session = s AND x.seq = m "
                    "RETURN s AS session, x.id AS id, x.seq AS seq",
                    {"ids": sessions},
                )
            }
            rows, next_pairs = [], []
            for e, emb in zip(inputs, embeddings):
                eid = new_id("ep")
                prev = tails.get(e.session)
                seq = prev[1] + 1 if prev else 0
                if prev:
                    next_pairs.append((prev[0], eid, {}))
                tails[e.session] = (eid, seq)
                rows.append({
                    "id": eid, "agent": agent, "session": e.session, "text": e.text, "embedding": emb,
                    "timestamp": e.timestamp_ms, "seq": seq, "source_id": e.source_id,
                    "created_at": now, "metadata": _dumps(e.metadata or {}),
                })
            self.backend.create_nodes(EPISODE, rows)
            self.backend.create_edges("IN_SESSION", "Episode", "Session", [(r["id"], r["session"], {}) for r in rows])
            self.backend.create_edges("NEXT", "Episode", "Episode", next_pairs)
        return [_episode(r) for r in rows]

    def session_owners(self, sessions: Sequence[str]) -> dict[str, str]:
        """The agent each existing session belongs to."""
        rows = self.backend.execute(
            "MATCH (s:Session) WHERE s.id IN $ids RETURN s.id AS id, s.agent AS agent", {"ids": list(sessions)}
        )
        return {r["id"]: r["agent"] for r in rows}

    def episodes(self, ids: Sequence[str]) -> list[Episode]:
        rows = self.backend.execute(
            f"MATCH (n:Episode) WHERE n.id IN $ids RETURN {_read_properties(EPISODE)}", {"ids": list(ids)}
        )
        by_id = {r["id"]: _episode(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def session_episodes(self, session: str) -> list[Episode]:
        rows = self.backend.execute(
            f"MATCH (n:Episode) WHERE n.session = $s RETURN {_read_properties(EPISODE)} ORDER BY n.seq",
            {"s": session},
        )
        return [_episode(r) for r in rows]

    def sessions(self, agent: str) -> list[Session]:
        rows = self.backend.execute(
            "MATCH (a:Agent {name: $agent})-[:HAS_SESSION]->(s:Session) "
            "OPTIONAL MATCH (e:Episode)-[:IN_SESSION]->(s) "
            "RETURN s.id AS id, s.agent AS agent, s.started_at AS started_at, count(e) AS n "
            "ORDER BY started_at",
            {"agent": agent},
        )
        return [Session(id=r["id"], agent=r["agent"], started_at=v.from_ms(r["started_at"]),
                        episode_count=r["n"]) for r in rows]

    # -- search and graph walks -------------------------------------------------------------

    def vector_search(self, label: str, vector: np.ndarray, k: int, where: SearchFilter) -> list[Hit]:
        return self.backend.vector_search(node_kind(label), vector, k, where)

    def text_search(self, label: str, query: str, k: int, where: SearchFilter) -> list[Hit]:
        """BM25 over the retrieval text. The query is reduced to its words first: full-text engines
        read punctuation as part of a term (Kuzu: 'picnic?' never matches 'picnic') or as query
        syntax (Lucene)."""
        terms = " ".join(_WORD.findall(query))
        if not terms:
            return []
        return self.backend.text_search(node_kind(label), terms, k, where)

    def embeddings(self, label: str, ids: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self.backend.execute(
            f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, n.embedding AS e", {"ids": list(ids)}
        )
        return {r["id"]: np.asarray(r["e"], dtype=np.float32) for r in rows if r["e"] is not None}

    def session_neighbours(self, ids: Sequence[str], where: SearchFilter) -> list[tuple[str, str]]:
        """(episode, neighbour) pairs one NEXT step either way, neighbours passing `where`."""
        predicate, params = where.cypher_where("b")
        rows = self.backend.execute(
            f"MATCH (a:Episode)-[:NEXT]-(b:Episode) WHERE a.id IN $ids AND {predicate} "
            "RETURN a.id AS src, b.id AS dst",
            {**params, "ids": list(ids)},
        )
        return [(r["src"], r["dst"]) for r in rows]

    def derived_memories(self, episode_ids: Sequence[str], label: str, where: SearchFilter) -> list[tuple[str, str]]:
        """(episode, memory) pairs for memories of `label` derived from the episodes."""
        predicate, params = where.cypher_where("m")
        rows = self.backend.execute(
            f"MATCH (m:{label})-[:DERIVED_FROM]->(e:Episode) WHERE e.id IN $ids AND {predicate} "
            "RETURN e.id AS src, m.id AS dst",
            {**params, "ids": list(episode_ids)},
        )
        return [(r["src"], r["dst"]) for r in rows]

    def passing(self, label: str, ids: Sequence[str], where: SearchFilter) -> set[str]:
        """Which of the ids pass the filter."""
        predicate, params = where.cypher_where("n")
        rows = self.backend.execute(
            f"MATCH (n:{label}) WHERE n.id IN $ids AND {predicate} RETURN n.id AS id", {**params, "ids": list(ids)}
        )
        return {r["id"] for r in rows}

    def linked(self, ids: Sequence[str], rel: str, *, outgoing: bool) -> list[tuple[str, str, str]]:
        """(from id, to id, to label) along one edge type from the given nodes."""
        if rel not in {r.type for r in REL_KINDS}:
            raise ValidationError("rel", f"unknown edge type {rel!r}")
        arrow = f"-[:{rel}]->" if outgoing else f"<-[:{rel}]-"
        source = self.backend.any_label(SEARCHABLE_LABELS)
        union = " UNION ALL ".join(
            f"MATCH (a{source}){arrow}(b:{label}) WHERE a.id IN $ids RETURN a.id AS src, b.id AS dst, '{label}' AS label"
            for label in SEARCHABLE_LABELS
        )
        return [(r["src"], r["dst"], r["label"]) for r in self.backend.execute(union, {"ids": list(ids)})]

    def source_ids(self, ids_by_label: dict[str, list[str]]) -> dict[str, list[str]]:
        """For each node, the source_id of every episode it is or derives from (two hops deep)."""
        out: dict[str, list[str]] = defaultdict(list)
        episode_ids = ids_by_label.get("Episode", [])
        if episode_ids:
            for r in self.backend.execute(
                "MATCH (e:Episode) WHERE e.id IN $ids AND e.source_id IS NOT NULL "
                "RETURN e.id AS id, e.source_id AS sid", {"ids": episode_ids},
            ):
                out[r["id"]].append(r["sid"])
        memory_ids = [i for label, ids in ids_by_label.items() if label != "Episode" for i in ids]
        if memory_ids:
            label_expr = self.backend.any_label(MEMORY_LABELS)
            for r in self.backend.execute(
                f"MATCH (m{label_expr})-[:DERIVED_FROM]->(e:Episode) WHERE m.id IN $ids "
                "AND e.source_id IS NOT NULL RETURN m.id AS id, e.source_id AS sid "
                f"UNION MATCH (m{label_expr})-[:DERIVED_FROM]->(x{label_expr})-[:DERIVED_FROM]->(e:Episode) "
                "WHERE m.id IN $ids AND e.source_id IS NOT NULL RETURN m.id AS id, e.source_id AS sid",
                {"ids": memory_ids},
            ):
                out[r["id"]].append(r["sid"])
        return {k: sorted(set(vals)) for k, vals in out.items()}

    def history(self, root: str, max_depth: int = 10) -> History:
        labels = self.labels_of([root])
        learned_by = None
        if labels[root] in MEMORY_LABELS:
            rows = self.backend.execute(
                f"MATCH (a:Agent)-[:LEARNED]->(m:{labels[root]}) WHERE m.id = $id RETURN a.name AS a",
                {"id": root},
            )
            learned_by = rows[0]["a"] if rows else None
        edges: set[tuple[str, str, str]] = set()
        frontier, seen = [root], {root}
        for _ in range(max_depth):
            found: list[tuple[str, str, str]] = []
            for rel in PROVENANCE_RELS:
                found += [(s, rel, d) for s, d, lab in self.linked(frontier, rel, outgoing=True)
                          if labels.setdefault(d, lab)]
                found += [(d, rel, s) for s, d, lab in self.linked(frontier, rel, outgoing=False)
                          if labels.setdefault(d, lab)]
            new_edges = set(found) - edges
            edges |= new_edges
            frontier = [n for e in new_edges for n in (e[0], e[2]) if n not in seen]
            seen.update(frontier)
            if not frontier:
                break
        nodes = []
        for label, ids in _group(labels).items():
            kind = node_kind(label)
            agent_col = ", n.valid_to AS valid_to" if label != "Episode" else ""
            for r in self.backend.execute(
                f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, n.text AS text, n.agent AS agent{agent_col}",
                {"ids": ids},
            ):
                nodes.append(ProvenanceNode(id=r["id"], label=kind.label, text=r["text"], agent=r["agent"],
                                            valid=r.get("valid_to") is None))
        steps = tuple(ProvenanceStep(source=s, relation=rel, target=d) for s, rel, d in sorted(edges))
        return History(root=root, learned_by=learned_by, nodes=tuple(nodes), edges=steps)

    def stats(self) -> dict[str, int]:
        counts = {}
        for kind in NODE_KINDS:
            if kind.label == SCHEMA_INFO.label:
                continue
            counts[kind.label] = int(self.backend.execute(f"MATCH (n:{kind.label}) RETURN count(n) AS c")[0]["c"])
        for rel in REL_KINDS:
            counts[rel.type] = int(self.backend.execute(f"MATCH ()-[r:{rel.type}]->() RETURN count(r) AS c")[0]["c"])
        return counts


def _group(labels: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for node_id, label in labels.items():
        grouped[label].append(node_id)
    return dict(grouped)


def _memory(label: str, row: Row) -> Memory:
    cls = MEMORY_TYPES[label]
    data = {k: row.get(k) for k in cls.model_fields if k in row}
    for name in ("created_at", "updated_at", "valid_from", "valid_to", "last_access"):
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
