"""Reading the graph: index searches, one-step walks along edges, provenance chains.

Plain Cypher for every backend, like the rest of the store; `GraphStore` inherits these so that
callers have one object to talk to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from .backends.base import Backend, Hit, SearchFilter
from .errors import ValidationError
from .model import History, ProvenanceNode, ProvenanceStep
from .schema import MEMORY_LABELS, NODE_KINDS, REL_KINDS, SCHEMA_INFO, SEARCHABLE_LABELS, node_kind

PROVENANCE_RELS = ("DERIVED_FROM", "SUPERSEDES")
_WORD = re.compile(r"\w+")


class GraphWalks:
    backend: Backend

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

    def derived_memories(self, episode_ids: Sequence[str], labels: Sequence[str],
                         where: SearchFilter) -> list[tuple[str, str, str]]:
        """(episode, memory, memory label) for memories of `labels` derived from the episodes,
        the memories passing `where`."""
        if not episode_ids:
            return []
        predicate, params = where.cypher_where("m")
        # One statement per label rather than a UNION: Kuzu 0.11.3 can reuse the plan of a
        # plain statement, not of a UNION, and each unreused plan leaks memory.
        return [
            (r["src"], r["dst"], label)
            for label in labels
            for r in self.backend.execute(
                f"MATCH (m:{label})-[:DERIVED_FROM]->(e:Episode) WHERE e.id IN $ids AND {predicate} "
                "RETURN e.id AS src, m.id AS dst",
                {**params, "ids": list(episode_ids)},
            )
        ]

    def passing(self, label: str, ids: Sequence[str], where: SearchFilter) -> set[str]:
        """Which of the ids pass the filter."""
        predicate, params = where.cypher_where("n")
        rows = self.backend.match_ids(f"(n:{label})", "n", ids, "n.id AS id", where=predicate, params=params)
        return {r["id"] for r in rows}

    def linked(self, ids: Sequence[str], rel: str, *, outgoing: bool) -> list[tuple[str, str, str]]:
        """(from id, to id, to label) along one edge type from the given nodes."""
        if rel not in {r.type for r in REL_KINDS}:
            raise ValidationError("rel", f"unknown edge type {rel!r}")
        arrow = f"-[:{rel}]->" if outgoing else f"<-[:{rel}]-"
        source = self.backend.any_label(SEARCHABLE_LABELS)
        return [
            (r["src"], r["dst"], label)
            for label in SEARCHABLE_LABELS
            for r in self.backend.match_ids(f"(a{source}){arrow}(b:{label})", "a", ids, "a.id AS src, b.id AS dst")
        ]

    def source_ids(self, ids_by_label: dict[str, list[str]]) -> dict[str, list[str]]:
        """For each node, the source_id of every episode it is or derives from (two hops deep)."""
        out: dict[str, list[str]] = defaultdict(list)
        episode_ids = ids_by_label.get("Episode", [])
        for r in self.backend.match_ids("(e:Episode)", "e", episode_ids, "e.id AS id, e.source_id AS sid",
                                        where="e.source_id IS NOT NULL"):
            out[r["id"]].append(r["sid"])
        memory_ids = [i for label, ids in ids_by_label.items() if label != "Episode" for i in ids]
        memory = self.backend.any_label(MEMORY_LABELS)
        for pattern in (f"(m{memory})-[:DERIVED_FROM]->(e:Episode)",
                        f"(m{memory})-[:DERIVED_FROM]->(x{memory})-[:DERIVED_FROM]->(e:Episode)"):
            for r in self.backend.match_ids(pattern, "m", memory_ids, "m.id AS id, e.source_id AS sid",
                                            where="e.source_id IS NOT NULL"):
                out[r["id"]].append(r["sid"])
        return {k: sorted(set(vals)) for k, vals in out.items()}

    def history(self, root: str, max_depth: int = 10) -> History:
        """The provenance chain around a node: DERIVED_FROM and SUPERSEDES, both ways, to max_depth."""
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
            found: set[tuple[str, str, str]] = set()
            for rel in PROVENANCE_RELS:
                for outgoing in (True, False):
                    for near, far, far_label in self.linked(frontier, rel, outgoing=outgoing):
                        labels[far] = far_label
                        found.add((near, rel, far) if outgoing else (far, rel, near))
            new_edges = found - edges
            edges |= new_edges
            frontier = [n for e in new_edges for n in (e[0], e[2]) if n not in seen]
            seen.update(frontier)
            if not frontier:
                break
        nodes = []
        for label, ids in group_by_label(labels).items():
            kind = node_kind(label)
            validity = ", n.valid_to AS valid_to" if label != "Episode" else ""
            for r in self.backend.execute(
                f"MATCH (n:{label}) WHERE n.id IN $ids RETURN n.id AS id, n.text AS text, n.agent AS agent{validity}",
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


def group_by_label(labels: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for node_id, label in labels.items():
        grouped[label].append(node_id)
    return dict(grouped)
