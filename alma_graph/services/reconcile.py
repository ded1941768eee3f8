"""What a new memory means for those its agent already holds: a repeat, a contradiction, or new.

An explicit add (MemoryService.add) asks before it writes. A repeat (the same text once case,
punctuation and spacing are ignored) strengthens the existing memory instead of writing another;
a contradiction (the same key: see `merging.contradiction_key`) makes the new memory supersede
the older one instead of both standing. With a language model configured, the model also judges
the similar memories whose key differs; its answer, when invalid, is ignored with a warning (the
offline rules stand), while an unreachable model fails the write (a ModelError) rather than
silently changing what the write does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..backends.base import SearchFilter
from ..errors import ModelAnswerError
from ..llm import ChatModel
from ..llm import prompts
from ..model import MEMORY_TYPES, Memory
from ..store import GraphStore
from .merging import (
    MERGEABLE, ConsolidationConfig, contradiction_key, key_fields, normalised, own_values, support,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """`repeats`: the existing memory the new one repeats (write nothing new; strengthen it).
    `contradicts`: the existing memories the new one supersedes."""

    repeats: Memory | None = None
    contradicts: tuple[Memory, ...] = field(default=())


class Reconciler:
    def __init__(self, store: GraphStore, config: ConsolidationConfig, model: ChatModel | None = None):
        self.store = store
        self.config = config
        self.model = model

    def decide(self, memory_type: str, agent: str, fields: dict[str, object],
               metadata: dict[str, object] | None = None) -> Decision:
        """What writing a memory of `memory_type` with these (validated) fields would repeat or contradict."""
        if memory_type not in MERGEABLE:
            return Decision()
        text = MEMORY_TYPES[memory_type].render_text(fields)
        similar = self._similar(memory_type, agent, text)
        keyed = self._keyed(memory_type, agent, fields, contradiction_key(memory_type, fields, metadata))
        candidates = [*(m for m, _ in similar), *keyed]
        repeats = [m for m in candidates if normalised(m.text) == normalised(text)]
        if repeats:
            return Decision(repeats=max(repeats, key=support))
        contradicts = {m.id: m for m in keyed}
        if self.model is not None:
            unkeyed = [m for m, cosine in similar if m.id not in contradicts and cosine >= self.config.judge_similarity]
            judged = self._judge(memory_type, fields, unkeyed)
            if judged.repeats is not None:
                return judged
            contradicts.update((m.id, m) for m in judged.contradicts)
        return Decision(contradicts=tuple(sorted(contradicts.values(), key=lambda m: m.created_at)))

    def _similar(self, memory_type: str, agent: str, text: str) -> list[tuple[Memory, float]]:
        """The agent's valid memories of the type nearest the text, each with its cosine."""
        vector = self.store.embed([text])[0]
        hits = self.store.vector_search(memory_type, vector, self.config.candidates, SearchFilter(agents=(agent,)))
        scores = {h.id: h.score for h in hits}
        return [(m, scores[m.id]) for m in self.store.memories_by_label(memory_type, list(scores))]

    def _keyed(self, memory_type: str, agent: str, fields: dict[str, object],
               key: tuple[str, ...] | None) -> list[Memory]:
        """The agent's valid memories of the type with the same contradiction key."""
        if key is None:
            return []
        equals = {name: fields[name] for name in key_fields(memory_type)}
        found = self.store.find_memories(memory_type, agent, equals)
        return [m for m in found if contradiction_key(memory_type, own_values(m), m.metadata) == key]

    def _judge(self, memory_type: str, fields: dict[str, object], candidates: list[Memory]) -> Decision:
        if not candidates or self.model is None:
            return Decision()
        by_id = {m.id: m for m in candidates}
        prompt = prompts.judge_prompt(memory_type, fields, [{"id": m.id, **own_values(m)} for m in candidates])
        try:
            answer = self.model.ask(prompts.SYSTEM, prompt, prompts.JudgeAnswer)
        except ModelAnswerError as exc:
            log.warning("ignoring the model's judgement of a new %s (the offline rules stand): %s", memory_type, exc)
            return Decision()
        verdicts = [(by_id[v.id], v.relation) for v in answer.verdicts if v.id in by_id]
        repeats = [m for m, relation in verdicts if relation == "repeat"]
        if repeats:
            return Decision(repeats=max(repeats, key=support))
        return Decision(contradicts=tuple(m for m, relation in verdicts if relation == "contradicts"))
