"""Traversal-aware retrieval.

1. Candidates: each searchable label's vector index and full-text index, filters inside the query.
2. Expansion: the best candidates' graph neighbourhood — the turns before and after an episode
   in its session (`NEXT`), the episodes a memory derives from and the memories derived from an
   episode (`DERIVED_FROM`), and from a match on a replaced memory its valid successor
   (`SUPERSEDES`). A neighbour that matches the query well lifts the item; an item reached only
   through the graph enters with its own similarity plus that lift.
3. Scoring: similarity, recency, success, confidence and importance (see scoring.py and
   importance.py), best first. Relevance is lifted for a question that asks when, on items that
   date what they say, and for an episode said by someone the query names (scoring.lifted).

Reads that do not depend on each other (the searches of each label, the walks, the objects) go
to `Backend.gather` together, which runs them side by side where the database can.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from .. import timephrases
from .. import validation as v
from ..backends.base import Hit, SearchFilter
from ..concepts import words
from ..errors import ValidationError
from ..model import MEMORY_TYPES, Memory, MemorySlice, ScoredItem
from ..schema import MEMORY_LABELS, SEARCHABLE_LABELS
from ..store import GraphStore
from . import importance, scoring
from .scoring import RetrievalConfig

_WORD = re.compile(r"\w+")
# Shared by every retriever: a query's embedding is computed beside its first searches. Wide
# enough that concurrent retrievals (the API server's) do not queue for it: a remote embedder
# waits on the network, and the local model already takes one text batch at a time.
_QUERY_EMBEDDING = ThreadPoolExecutor(max_workers=16, thread_name_prefix="alma-query-embedding")


@dataclass
class _Candidate:
    label: str
    dense: float | None = None
    lexical_raw: float = 0.0
    lexical: float = 0.0  # relative to the query's best BM25 score
    found_by: set[str] = field(default_factory=set)
    neighbour: float = 0.0
    via: str | None = None
    concept: float | None = None  # the item's concept closest to the query (None: it has no concepts)
    concept_word: str | None = None
    superseded: bool = False  # an invalidated match: it leads to its successor, never returned

    relevance: float = 0.0
    direct: float = 0.0


@dataclass(frozen=True)
class RetrievalRequest:
    query: str
    agent: str
    # Whose memories the agent reads (itself, agents sharing with it, agents it inherits from);
    # the searches filter on it inside their queries.
    readers: tuple[str, ...] = ()
    top_k: int = 10
    labels: tuple[str, ...] = SEARCHABLE_LABELS
    # World time of an item (a memory's valid_from, an episode's timestamp) within [since, until].
    since_ms: int | None = None
    until_ms: int | None = None
    include_invalidated: bool = False
    # A past moment: what held in the world then and was already known (bi-temporal, see SearchFilter).
    as_of_ms: int | None = None


class Retriever:
    def __init__(self, store: GraphStore, config: RetrievalConfig | None = None):
        self.store = store
        self.config = config or RetrievalConfig()

    def _filter(self, label: str, request: RetrievalRequest) -> SearchFilter:
        is_memory = label in MEMORY_LABELS
        return SearchFilter(
            agents=request.readers or (request.agent,),
            valid_only=is_memory and not request.include_invalidated,
            time_property="valid_from" if is_memory else "timestamp",
            since_ms=request.since_ms,
            until_ms=request.until_ms,
            as_of_ms=request.as_of_ms,
            world_end="valid_to" if is_memory else None,
        )

    def retrieve(self, request: RetrievalRequest) -> MemorySlice:
        started = time.perf_counter()
        config = self.config
        # The model embeds the query while the full-text searches, which do not need it, run:
        # on a large store both take milliseconds that would otherwise add up.
        embedding = _QUERY_EMBEDDING.submit(self.store.embed, [request.query])
        candidates: dict[str, _Candidate] = {}
        pool = max(config.candidates, 2 * request.top_k)
        # Invalidated memories are searched too: a match on an old version leads, along
        # SUPERSEDES, to the version that replaced it.
        wheres = {label: replace(self._filter(label, request), valid_only=False) for label in request.labels}
        for label, hits in self._per_label(self.store.text_search, wheres, request.query, pool):
            for hit in hits:
                c = candidates.setdefault(hit.id, _Candidate(label))
                c.lexical_raw = hit.score
                c.found_by.add("fulltext")
        query_vector = embedding.result()[0]  # raises what the embedder raised
        for label, hits in self._per_label(self.store.vector_search, wheres, query_vector, pool):
            for hit in hits:
                c = candidates.setdefault(hit.id, _Candidate(label))
                c.dense = hit.score
                c.found_by.add("vector")

        self._mark_superseded(candidates, request)
        self._fill(candidates, _by_label(candidates, candidates), request, query_vector)
        self._fuse(candidates)
        self._expand(candidates, request, query_vector)
        self._follow_supersession(candidates, request, query_vector)
        for node_id in [i for i, c in candidates.items() if c.superseded]:
            del candidates[node_id]
        self._fuse(candidates)  # graph-reached items join the rankings with their own evidence
        for c in candidates.values():
            c.relevance = scoring.with_graph(c.direct, c.neighbour, config)

        now = v.now_ms()
        return self._rank(candidates, request, now, started)

    def _per_label(self, search: Callable[..., list[Hit]], wheres: dict[str, SearchFilter],
                   query: object, k: int) -> list[tuple[str, list[Hit]]]:
        """One search per label, run side by side where the database can."""
        found = self.store.backend.gather([partial(search, label, query, k, where) for label, where in wheres.items()])
        return list(zip(wheres, found))

    def _fill(self, candidates: dict[str, _Candidate], ids_by_label: dict[str, list[str]],
              request: RetrievalRequest, query_vector: np.ndarray) -> None:
        """The listed candidates' dense similarity (where no search gave it) and concept match
        (unless its weight is 0), every label's reads side by side where the database can."""
        ignore = frozenset(words(request.query))
        reads: list[tuple[str, Callable[[], dict]]] = []
        for label, ids in ids_by_label.items():
            unscored = [i for i in ids if candidates[i].dense is None]
            if unscored:
                reads.append(("dense", partial(self.store.similarities, label, unscored, query_vector)))
            if self.config.concept_weight > 0:
                reads.append(("concept", partial(self.store.concept_matches, label, ids,
                                                 request.readers or (request.agent,), query_vector, ignore)))
        found = self.store.backend.gather([read for _, read in reads])
        for (kind, _), per_label in zip(reads, found):
            for node_id, value in per_label.items():
                c = candidates[node_id]
                if kind == "dense":
                    c.dense = value
                else:
                    c.concept, c.concept_word = value

    def _mark_superseded(self, candidates: dict[str, _Candidate], request: RetrievalRequest) -> None:
        if request.include_invalidated:
            return
        ids = [node_id for node_id, c in candidates.items() if c.label in MEMORY_LABELS]
        # Every memory type in one statement: they share the filter.
        valid = self.store.passing(MEMORY_LABELS, ids, self._filter(MEMORY_LABELS[0], request))
        for node_id in ids:
            candidates[node_id].superseded = node_id not in valid

    def _follow_supersession(self, candidates: dict[str, _Candidate], request: RetrievalRequest,
                             query_vector: np.ndarray) -> None:
        """Lift the valid successor of every invalidated match (through chains of versions)."""
        frontier = {i: c.direct for i, c in candidates.items() if c.superseded}
        for _ in range(5):
            if not frontier:
                return
            successors: dict[str, tuple[str, str, float]] = {}
            for old, new_id, label in self.store.linked(list(frontier), "SUPERSEDES", outgoing=False):
                if label in request.labels and frontier[old] > successors.get(new_id, ("", "", -1.0))[2]:
                    successors[new_id] = (old, label, frontier[old])
            by_label: dict[str, list[str]] = defaultdict(list)
            for new_id, (_, label, _) in successors.items():
                by_label[label].append(new_id)
            frontier = {}
            new: dict[str, list[str]] = defaultdict(list)
            for label, ids in by_label.items():
                valid = self.store.passing([label], ids, self._filter(label, request))
                for new_id in ids:
                    old, _, lift = successors[new_id]
                    if new_id not in valid:
                        frontier[new_id] = lift
                        continue
                    if new_id not in candidates:
                        candidates[new_id] = _Candidate(label)
                        new[label].append(new_id)
                    c = candidates[new_id]
                    if self.config.neighbour_decay * lift > c.neighbour:
                        c.neighbour = self.config.neighbour_decay * lift
                        c.via = f"SUPERSEDES {old}"
                    c.found_by.add("graph")
            self._fill(candidates, new, request, query_vector)

    def _fuse(self, candidates: dict[str, _Candidate]) -> None:
        """Each candidate's direct relevance from its dense and lexical evidence."""
        items = list(candidates.values())
        lexical_max = max((c.lexical_raw for c in items), default=0.0) or 1.0
        for c in items:
            c.lexical = c.lexical_raw / lexical_max
        dense_range = scoring.DenseRange.of([c.dense or 0.0 for c in items])
        for c in items:
            c.direct = scoring.direct_relevance(dense_range(c.dense or 0.0), c.lexical, c.concept, self.config)

    def _expand(self, candidates: dict[str, _Candidate], request: RetrievalRequest,
                query_vector: np.ndarray) -> None:
        config = self.config
        live = [(i, c) for i, c in candidates.items() if not c.superseded]
        seeds = sorted(live, key=lambda kv: kv[1].direct, reverse=True)[: config.expand_top]
        episode_seeds = [i for i, c in seeds if c.label == "Episode"]
        memory_seeds = [i for i, c in seeds if c.label != "Episode"]
        walks: dict[str, Callable[[], list]] = {}  # independent reads, run side by side
        if "Episode" in request.labels and episode_seeds:
            walks["next"] = partial(self.store.session_neighbours, episode_seeds,
                                    self._filter("Episode", request), config.session_hops)
        if episode_seeds and any(label in MEMORY_LABELS for label in request.labels):
            walks["derived"] = partial(self.store.derived_memories, episode_seeds,
                                       self._filter(MEMORY_LABELS[0], request))
        if memory_seeds and "Episode" in request.labels:
            walks["sources"] = partial(self._passing_sources, candidates, memory_seeds, request)
        found = dict(zip(walks, self.store.backend.gather(list(walks.values()))))
        links = [(s, n, "Episode", "NEXT", config.neighbour_decay * config.hop_decay ** (steps - 1))
                 for s, n, steps in found.get("next", ())]  # (seed, neighbour, its label, edge, decay)
        links += [(s, n, label, "DERIVED_FROM", config.neighbour_decay)
                  for s, n, label in [*found.get("derived", ()), *found.get("sources", ())]
                  if label in request.labels]

        new: dict[str, list[str]] = defaultdict(list)
        for seed, neighbour, label, edge, decay in links:
            c = candidates.get(neighbour)
            if c is None:
                c = candidates[neighbour] = _Candidate(label)
                new[label].append(neighbour)
            lift = decay * candidates[seed].direct
            if lift > c.neighbour:
                c.neighbour = lift
                c.via = f"{edge} {seed}"
            c.found_by.add("graph")
        self._fill(candidates, new, request, query_vector)

    def _passing_sources(self, candidates: dict[str, _Candidate], memory_ids: list[str],
                         request: RetrievalRequest) -> list[tuple[str, str, str]]:
        """(memory, source, source label) along DERIVED_FROM. The walk reaches sources of any
        type, so those not yet candidates must still pass the request's filters (agent,
        validity, time); the other walks apply them in their queries."""
        links = self.store.linked(memory_ids, "DERIVED_FROM", outgoing=True)
        unchecked: dict[str, list[str]] = defaultdict(list)
        for _, source, label in links:
            if source not in candidates and label in request.labels:
                unchecked[label].append(source)
        failing: set[str] = set()
        for label, ids in unchecked.items():
            failing |= set(ids) - self.store.passing([label], ids, self._filter(label, request))
        return [link for link in links if link[1] not in failing]

    def _rank(self, candidates: dict[str, _Candidate], request: RetrievalRequest, now: int,
              started: float) -> MemorySlice:
        config = self.config
        # Rank on relevance first to bound the objects fetched, then score fully.
        shortlist = sorted(candidates.items(), key=lambda kv: kv[1].relevance, reverse=True)
        shortlist = shortlist[: max(3 * request.top_k, 30)]
        by_label: dict[str, list[str]] = defaultdict(list)
        for node_id, c in shortlist:
            by_label[c.label].append(node_id)
        reads: list[Callable[[], object]] = [
            partial(self.store.episodes, ids) if label == "Episode" else partial(self.store.memories_by_label, label, ids)
            for label, ids in by_label.items()]
        # How many memories rest on each item, for its importance; skipped when importance is off.
        if config.weights.importance > 0:
            reads.append(partial(importance.reference_counts, self.store, {i: c.label for i, c in shortlist}))
        found = self.store.backend.gather(reads)
        references = found.pop() if config.weights.importance > 0 else {}
        objects = {o.id: o for per_label in found for o in per_label}
        scored = []
        asks_when = config.dated_lift > 0 and timephrases.asks_when(request.query)
        named = {w.lower() for w in _WORD.findall(request.query)}
        for node_id, c in shortlist:
            obj = objects.get(node_id)
            if obj is None:
                continue
            memory = obj if isinstance(obj, Memory) else None
            when = obj.timestamp if memory is None else obj.valid_from  # type: ignore[union-attr]
            lifts = {
                "dated": config.dated_lift if asks_when and timephrases.mentions_time(obj.text) else 0.0,  # type: ignore[union-attr]
                "speaker": config.speaker_lift if memory is None and _said_by_named(obj, named) else 0.0,
            }
            weight = importance.combine(_signals(obj, memory, references.get(node_id, 0), now, config),
                                        config.importance)
            score, explanation = scoring.explain(
                relevance=scoring.lifted(c.relevance, lifts),
                dense=c.dense or 0.0,
                lexical=c.lexical,
                concept=c.concept,
                concept_word=c.concept_word,
                graph=c.neighbour,
                lifts=lifts,
                recency_value=scoring.recency(int(when.timestamp() * 1000), now, config.recency_half_life_days),
                success_value=scoring.success(memory),
                confidence_value=memory.confidence if memory else 0.5,
                importance_value=weight,
                weights=config.weights,
                found_by=tuple(sorted(c.found_by)),
                via=c.via,
            )
            scored.append((score, node_id, c, obj, explanation))
        scored.sort(key=lambda t: t[0], reverse=True)
        top = _distinct(scored, request.top_k)

        memory_ids = [node_id for _, node_id, _, obj, _ in top if isinstance(obj, Memory)]
        sources = self.store.source_ids(memory_ids)
        self.store.record_access(memory_ids, now)

        items = []
        for score, node_id, c, obj, explanation in top:
            is_memory = isinstance(obj, Memory)
            if is_memory:
                source_ids = tuple(sources.get(node_id, ()))
            else:  # an episode is its own source
                source_ids = (obj.source_id,) if obj.source_id else ()
            items.append(ScoredItem(
                kind="memory" if is_memory else "episode",
                score=round(score, 6),
                memory=obj if is_memory else None,
                episode=None if is_memory else obj,
                source_ids=source_ids,
                explanation=explanation,
            ))
        return MemorySlice(
            query=request.query,
            agent=request.agent,
            items=tuple(items),
            took_ms=round((time.perf_counter() - started) * 1000, 3),
        )


def _by_label(ids: Iterable[str], candidates: dict[str, _Candidate]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for node_id in ids:
        grouped[candidates[node_id].label].append(node_id)
    return grouped


def _signals(obj: object, memory: Memory | None, references: int, now: int,
             config: RetrievalConfig) -> importance.Signals:
    """An item's importance signals; an episode has no prior or usage record of its own."""
    if memory is None:
        return importance.signals(obj.text, metadata=obj.metadata, reference_count=references,  # type: ignore[attr-defined]
                                  now_ms=now, weights=config.importance)
    last = None if memory.last_access is None else int(memory.last_access.timestamp() * 1000)
    return importance.signals(memory.text, prior=memory.importance, metadata=memory.metadata,
                              access_count=memory.access_count, last_access_ms=last,
                              reference_count=references, now_ms=now, weights=config.importance)


def _said_by_named(episode: object, named: set[str]) -> bool:
    """Whether the query names the episode's speaker (any word of the name in its metadata)."""
    speaker = getattr(episode, "metadata", {}).get("speaker")
    return isinstance(speaker, str) and bool({w.lower() for w in _WORD.findall(speaker)} & named)


def _distinct(scored: list, top_k: int) -> list:
    """The best `top_k` items, one memory per distinct text: repeated outcomes of the same
    strategy on the same task would otherwise fill the slice with one fact. Episodes are events,
    each its own evidence, so two turns saying the same words both stay."""
    seen: set[tuple[str, str]] = set()
    out = []
    for entry in scored:
        _, _, c, obj, _ = entry
        if c.label != "Episode":
            key = (c.label, " ".join(obj.text.lower().split()))
            if key in seen:
                continue
            seen.add(key)
        out.append(entry)
        if len(out) == top_k:
            break
    return out


def time_window(since: object = None, until: object = None, when: object = None, reference: object = None,
                as_of_ms: int | None = None) -> tuple[int | None, int | None]:
    """The (since, until) bounds in epoch ms, both inclusive, of explicit `since`/`until` and a
    phrase `when` ("last week") read at `reference` (default: `as_of`, else now). Given both, the
    window is their intersection; one that is empty is an error."""
    since_ms = None if since is None else v.timestamp_ms("since", since)
    until_ms = None if until is None else v.timestamp_ms("until", until)
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise ValidationError("since", "is later than until")
    if when is None:
        if reference is not None:
            raise ValidationError("reference", "is the time `when` is read at; give `when` too")
        return since_ms, until_ms
    if reference is not None:
        at = v.timestamp_ms("reference", reference)
    else:
        at = as_of_ms if as_of_ms is not None else v.now_ms()
    found = timephrases.resolve(when, v.from_ms(at), field="when")  # type: ignore[arg-type]
    if found.since is not None:
        start = v.timestamp_ms("when", found.since)
        since_ms = start if since_ms is None else max(since_ms, start)
    if found.until is not None:
        end = v.timestamp_ms("when", found.until) - 1  # the range's end is exclusive
        until_ms = end if until_ms is None else min(until_ms, end)
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise ValidationError("when", f"{when!r} does not overlap the since/until window")
    return since_ms, until_ms


def resolve_labels(types: Sequence[str] | None) -> tuple[str, ...]:
    """`types` names memory types and/or "Episode"; None means everything."""
    if types is None:
        return SEARCHABLE_LABELS
    if isinstance(types, str):
        types = [types]
    labels = []
    for t in types:
        if t != "Episode" and t not in MEMORY_TYPES:
            raise ValidationError(
                "types", f"unknown type {t!r}; expected Episode or one of {', '.join(MEMORY_TYPES)}"
            )
        labels.append(t)
    if not labels:
        raise ValidationError("types", "must name at least one type")
    return tuple(dict.fromkeys(labels))
