"""Reading the graph: index searches, one-step walks along edges, provenance chains.

Plain Cypher for every backend, like the rest of the store; `GraphStore` inherits these so that
callers have one object to talk to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from functools import partial

import numpy as np

from . import validation as v
from .backends.base import Backend, Hit, SearchFilter
from .concepts import WordVectors, stem
from .embed.base import normalize_rows
from .errors import ValidationError
from .model import History, ProvenanceNode, ProvenanceStep
from .schema import MEMORY_LABELS, NODE_KINDS, REL_KINDS, SCHEMA_INFO, SEARCHABLE_LABELS, node_kind

def provenance_rels() -> tuple[str, ...]:
    """The edge types a provenance chain follows: how a memory came to be and what it replaced."""
    return tuple(r.type for r in REL_KINDS if r.type in ("DERIVED_FROM", "MERGED_FROM", "SUPERSEDES"))
_WORD = re.compile(r"\w+")


class GraphWalks:
    backend: Backend
    word_vectors: WordVectors

    def labels_of(self, ids: Sequence[str], *, field: str = "id") -> dict[str, str]:
        """The label of each node; GraphStore implements it (it owns node lookups)."""
        raise NotImplementedError

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

    def similarities(self, label: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        return self.backend.similarities(label, ids, vector)

    def concept_matches(self, label: str, ids: Sequence[str], agents: Sequence[str], vector: np.ndarray,
                        ignore: frozenset[str] = frozenset()) -> dict[str, tuple[float, str | None]]:
        """For each of the items (owned by one of `agents`) that mention concepts: the similarity
        to `vector` of its concept closest to it, and that concept; the words in `ignore` (the
        query's own, which the full-text search already weighs), in any inflection, do not count.
        Items linked to no concept are left out: they were stored before concepts existed, or by a
        database that keeps no vectors."""
        # The owners first: Kuzu tests `id IN $list` against every row that reaches it (at 100k
        # episodes of 8 agents, 196 ms for 150 ids; 40 ms behind the owner test).
        rows = self.backend.match_ids(f"(n:{label})-[:MENTIONS]->(c:Concept)", "n", ids,
                                      "n.id AS id, c.id AS concept", where="n.agent IN $agents",
                                      params={"agents": list(agents)})
        mentioned: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            mentioned[r["id"]].append(r["concept"])
        ignored = {stem(w) for w in ignore}
        words = sorted({w for ws in mentioned.values() for w in ws if stem(w) not in ignored})
        vectors = self.word_vectors.get(words, partial(self.backend.embeddings, "Concept"))
        similar: dict[str, float] = {}
        if vectors:  # cosines, as the database computes them (a zero vector scores 0)
            rows = normalize_rows(np.stack(list(vectors.values())).astype(np.float32))
            query = normalize_rows(np.array(vector, dtype=np.float32).reshape(1, -1))[0]  # a copy
            similar = dict(zip(vectors, (rows @ query).tolist()))
        out: dict[str, tuple[float, str | None]] = {}
        for node_id, ws in mentioned.items():
            own = [w for w in ws if stem(w) not in ignored]
            scored = [(similar[w], w) for w in own if w in similar]
            if scored:
                out[node_id] = max(scored)
            elif not own:  # it mentions nothing but the query's own words
                out[node_id] = (0.0, None)
        return out

    def session_neighbours(self, ids: Sequence[str], where: SearchFilter,
                           hops: int = 1) -> list[tuple[str, str, int]]:
        """(episode, neighbour, steps) for neighbours up to `hops` NEXT steps either way that
        pass `where`."""
        predicate, params = where.cypher_where("b")
        steps = "" if hops == 1 else f"*1..{int(hops)}"  # a plain edge plans far cheaper in Kuzu
        rows = self.backend.match_ids(
            f"(a:Episode)-[:NEXT{steps}]-(b:Episode)", "a", ids,
            "DISTINCT a.id AS src, b.id AS dst, abs(a.seq - b.seq) AS steps",
            where=f"a.id <> b.id AND {predicate}", params=params,
        )
        return [(r["src"], r["dst"], int(r["steps"])) for r in rows]

    def derived_memories(self, episode_ids: Sequence[str], where: SearchFilter) -> list[tuple[str, str, str]]:
        """(episode, memory, memory label) for the memories derived from the episodes that pass
        `where`, all memory types in one statement."""
        predicate, params = where.cypher_where("m")
        rows = self.backend.match_ids(
            f"(m{self.backend.any_label(MEMORY_LABELS)})-[:DERIVED_FROM]->(e:Episode)", "e", episode_ids,
            "e.id AS src, m.id AS dst, labels(m) AS labels", where=predicate, params=params,
        )
        return [(r["src"], r["dst"], self.backend.own_label(r["labels"])) for r in rows]

    def passing(self, labels: Sequence[str], ids: Sequence[str], where: SearchFilter) -> set[str]:
        """Which of the ids, nodes of any of `labels`, pass the filter."""
        predicate, params = where.cypher_where("n")
        rows = self.backend.match_ids(f"(n{self.backend.any_label(labels)})", "n", ids, "n.id AS id",
                                      where=predicate, params=params)
        return {r["id"] for r in rows}

    def linked(self, ids: Sequence[str], rel: str, *, outgoing: bool) -> list[tuple[str, str, str]]:
        """(from id, to id, to label) along one edge type from the given memories and episodes."""
        return [(r["src"], r["dst"], self.backend.own_label(r["labels"])) for r in self._walk(ids, rel, outgoing, "")]

    def linked_edges(self, ids: Sequence[str], rel: str, *,
                     outgoing: bool) -> list[tuple[str, str, str, int | None, str | None]]:
        """As `linked`, with each edge's `at` and `reason` (for edge types that carry them)."""
        rows = self._walk(ids, rel, outgoing, ", r.at AS at, r.reason AS reason")
        return [(r["src"], r["dst"], self.backend.own_label(r["labels"]), r["at"], r["reason"]) for r in rows]

    def _walk(self, ids: Sequence[str], rel: str, outgoing: bool, edge_returns: str) -> list:
        rel_kind = next((r for r in REL_KINDS if r.type == rel), None)
        if rel_kind is None:
            raise ValidationError("rel", f"unknown edge type {rel!r}")
        # Both ends as the label sets the schema allows, so one statement covers every type.
        starts, ends = zip(*rel_kind.pairs) if outgoing else zip(*((b, a) for a, b in rel_kind.pairs))
        near = [label for label in SEARCHABLE_LABELS if label in starts]
        far = [label for label in SEARCHABLE_LABELS if label in ends]
        if not near or not far:
            return []
        arrow = f"-[r:{rel}]->" if outgoing else f"<-[r:{rel}]-"
        return self.backend.match_ids(
            f"(a{self.backend.any_label(near)}){arrow}(b{self.backend.any_label(far)})", "a", ids,
            f"a.id AS src, b.id AS dst, labels(b) AS labels{edge_returns}",
        )

    def incoming_counts(self, labels: Sequence[str], ids: Sequence[str], rels: Sequence[str]) -> dict[str, int]:
        """How many edges of the types `rels` arrive at each of the nodes, all of them of `labels`."""
        arriving = [r.type for r in REL_KINDS if r.type in rels and any(b in labels for _, b in r.pairs)]
        if not ids or not arriving:
            return {}
        rows = self.backend.match_ids(
            f"(a{self.backend.any_label(labels)})<-[r:{'|'.join(arriving)}]-()", "a", ids,
            "a.id AS id, count(r) AS n",
        )
        return {r["id"]: int(r["n"]) for r in rows}

    def source_ids(self, memory_ids: Sequence[str]) -> dict[str, list[str]]:
        """For each memory, the source_id of every episode it derives from (two hops deep)."""
        out: dict[str, list[str]] = defaultdict(list)
        memory = self.backend.any_label(MEMORY_LABELS)
        for pattern in (f"(m{memory})-[:DERIVED_FROM]->(e:Episode)",
                        f"(m{memory})-[:DERIVED_FROM]->(x{memory})-[:DERIVED_FROM]->(e:Episode)"):
            # Missing source ids are dropped here: `e.source_id IS NOT NULL` in the query makes
            # Kuzu plan the walk from every episode (20 ms at 100k instead of 2).
            for r in self.backend.match_ids(pattern, "m", memory_ids, "m.id AS id, e.source_id AS sid"):
                if r["sid"] is not None:
                    out[r["id"]].append(r["sid"])
        return {k: sorted(set(vals)) for k, vals in out.items()}

    def history(self, root: str, max_depth: int = 10) -> History:
        """The provenance chain around a node, both ways, to max_depth: what it was created from
        (DERIVED_FROM, MERGED_FROM), what it replaced and what replaced it (SUPERSEDES), each edge
        with when and why it was written; who learned the root, when and why."""
        labels = self.labels_of([root])
        learned = []
        if labels[root] in MEMORY_LABELS:
            learned = self.backend.execute(
                f"MATCH (a:Agent)-[r:LEARNED]->(m:{labels[root]}) WHERE m.id = $id "
                "RETURN a.name AS agent, r.at AS at, r.reason AS reason",
                {"id": root},
            )
        edges: dict[tuple[str, str, str], tuple[int | None, str | None]] = {}
        frontier, seen = [root], {root}
        for _ in range(max_depth):
            found: dict[tuple[str, str, str], tuple[int | None, str | None]] = {}
            for rel in provenance_rels():
                for outgoing in (True, False):
                    for near, far, far_label, at, reason in self.linked_edges(frontier, rel, outgoing=outgoing):
                        labels[far] = far_label
                        found[(near, rel, far) if outgoing else (far, rel, near)] = (at, reason)
            new_edges = {e: meta for e, meta in found.items() if e not in edges}
            edges.update(new_edges)
            frontier = [n for e in new_edges for n in (e[0], e[2]) if n not in seen]
            seen.update(frontier)
            if not frontier:
                break
        nodes = []
        for label, ids in group_by_label(labels).items():
            kind = node_kind(label)
            validity = ", n.valid_to AS valid_to, n.invalidated_at AS invalidated_at" if label != "Episode" else ""
            for r in self.backend.match_ids(f"(n:{label})", "n", ids,
                                            f"n.id AS id, n.text AS text, n.agent AS agent, n.created_at AS created_at{validity}"):
                nodes.append(ProvenanceNode(id=r["id"], label=kind.label, text=r["text"], agent=r["agent"],
                                            valid=r.get("invalidated_at") is None, created_at=v.from_ms(r["created_at"]),
                                            valid_to=v.from_ms(r.get("valid_to")),
                                            invalidated_at=v.from_ms(r.get("invalidated_at"))))
        steps = tuple(ProvenanceStep(source=s, relation=rel, target=d, at=v.from_ms(at), reason=reason)
                      for (s, rel, d), (at, reason) in sorted(edges.items()))
        first = learned[0] if learned else {}
        return History(root=root, learned_by=first.get("agent"), learned_at=v.from_ms(first.get("at")),
                       reason=first.get("reason"), nodes=tuple(nodes), edges=steps)

    def stats(self) -> dict[str, int]:
        counts = {}
        for kind in NODE_KINDS:
            if kind.label == SCHEMA_INFO.label:
                continue
            counts[kind.label] = int(self.backend.execute(f"MATCH (n:{kind.label}) RETURN count(n) AS c")[0]["c"])
        for rel in REL_KINDS:
            counts[rel.type] = int(self.backend.execute(f"MATCH ()-[r:{rel.type}]->() RETURN count(r) AS c")[0]["c"])
        return counts


def group_by_label(labels: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for node_id, label in labels.items():
        grouped[label].append(node_id)
    return dict(grouped)
