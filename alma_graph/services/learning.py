"""Learning from outcomes: record what happened, and notice what keeps working or failing.

Every `learn` call writes an `Outcome`. Then the agent's outcomes on similar tasks (the same
`task_type`, or — without one — tasks whose embeddings are close) that used the same strategy
are counted: enough successes form or strengthen a `Heuristic`, enough failures an
`AntiPattern`. Both keep `DERIVED_FROM` edges to the outcomes that support them, so the
evidence behind every piece of advice stays in the graph.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from .. import validation as v
from ..backends.base import SearchFilter
from ..errors import ValidationError
from ..events import ANTIPATTERN_DETECTED, HEURISTIC_FORMED, MEMORY_UPDATED
from ..model import LearnResult, Memory, MemoryScope, Outcome
from .memories import MemoryService, event


@dataclass(frozen=True)
class LearningConfig:
    min_occurrences: int = 3  # successes with one strategy before it becomes a heuristic
    min_failures: int = 3  # failures with one strategy before it becomes an anti-pattern
    min_rate: float = 0.6  # share of those outcomes that must agree
    task_similarity: float = 0.75  # cosine between task texts when no task_type is given


def _normalise(strategy: str) -> str:
    return re.sub(r"\s+", " ", strategy.strip().lower())


def _laplace(successes: int, total: int) -> float:
    return (successes + 1) / (total + 2)


class Learner:
    def __init__(self, memories: MemoryService, config: LearningConfig | None = None):
        self.memories = memories
        self.store = memories.store
        self.config = config or LearningConfig()

    def learn(
        self,
        agent: str,
        task: str,
        outcome: object,
        strategy_used: str,
        *,
        task_type: str | None = None,
        duration_ms: float | None = None,
        error: str | None = None,
        episodes: list[str] | tuple[str, ...] = (),
        metadata: dict[str, object] | None = None,
    ) -> LearnResult:
        success = _success(outcome)
        if task_type is not None:
            task_type = v.text("task_type", task_type)
        recorded = self.memories.add(
            "Outcome",
            agent,
            {"task": task, "task_type": task_type or "general", "success": success,
             "strategy_used": strategy_used, "duration_ms": duration_ms, "error": error},
            confidence=1.0,
            metadata=metadata,
            derived_from=list(episodes),
            reason="learning",
        )
        assert isinstance(recorded, Outcome)
        related = self._related(recorded, by_type=task_type is not None)
        same = [o for o in related if _normalise(o.strategy_used) == _normalise(strategy_used)]
        wins = [o for o in same if o.success]
        losses = [o for o in same if not o.success]
        condition = task_type or task
        scope = self.memories.agent(agent).scope
        notes: list[str] = []

        by_type = task_type is not None
        origin = {"strategy": strategy_used, "condition": condition}

        heuristic = self._existing("Heuristic", recorded, strategy_used, by_type=by_type)
        if heuristic is None and self._enough(wins, same, self.config.min_occurrences):
            heuristic = self._form(
                "Heuristic", agent, scope, notes,
                {"condition": condition, "strategy": strategy_used,
                 "occurrence_count": len(same), "success_count": len(wins)},
                support=wins, total=len(same), origin=origin, derived_from=same,
                note=f"formed a heuristic from {len(wins)} successes in {len(same)} tries",
            )
        elif heuristic is not None:
            occurrences = getattr(heuristic, "occurrence_count") + 1
            successes = getattr(heuristic, "success_count") + (1 if success else 0)
            heuristic = self._strengthen("Heuristic", heuristic.id, recorded, {
                "occurrence_count": occurrences, "success_count": successes,
                "confidence": _laplace(successes, occurrences), "updated_at": v.now_ms(),
            })
            notes.append("updated the heuristic's counts")

        anti = self._existing("AntiPattern", recorded, strategy_used, by_type=by_type)
        if anti is None and self._enough(losses, same, self.config.min_failures):
            anti = self._form(
                "AntiPattern", agent, scope, notes,
                {"pattern": _pattern(strategy_used, condition), "why_bad": _why_bad(losses),
                 "better_alternative": _best_alternative(related, strategy_used),
                 "occurrence_count": len(losses)},
                support=losses, total=len(same), origin=origin, derived_from=losses,
                note=f"detected an anti-pattern from {len(losses)} failures",
            )
        elif anti is not None and not success:
            count = getattr(anti, "occurrence_count") + 1
            anti = self._strengthen("AntiPattern", anti.id, recorded, {
                "occurrence_count": count, "updated_at": v.now_ms(),
                "metadata": json.dumps({**anti.metadata, "failures": count}, sort_keys=True),
            })
        return LearnResult(outcome=recorded, heuristic=heuristic, anti_pattern=anti, notes=tuple(notes))

    def _enough(self, agreeing: list[Outcome], tries: list[Outcome], minimum: int) -> bool:
        return len(agreeing) >= minimum and len(agreeing) / len(tries) >= self.config.min_rate

    def _form(self, label: str, agent: str, scope: MemoryScope, notes: list[str], fields: dict[str, object], *,
              support: list[Outcome], total: int, origin: dict[str, str], derived_from: list[Outcome],
              note: str) -> Memory | None:
        """Write a learned memory, or say why the agent's scope kept it from forming."""
        if not scope.allows(label):
            notes.append(f"a {label} would have formed, but the agent's scope forbids {label}")
            return None
        notes.append(note)
        return self.memories.add(
            label, agent, fields, confidence=_laplace(len(support), total), metadata=origin,
            derived_from=[o.id for o in derived_from], reason="learning", also=(_FORMED[label],),
        )

    def _related(self, outcome: Outcome, *, by_type: bool) -> list[Outcome]:
        """The agent's valid outcomes on tasks like this one (including this one)."""
        if by_type:
            return [o for o in self.store.outcomes(outcome.agent, outcome.task_type) if isinstance(o, Outcome)]
        embed = self.store.embed
        query = embed([outcome.task])[0]
        where = SearchFilter(agents=(outcome.agent,))
        hits = self.store.vector_search("Outcome", embed([outcome.text])[0], 100, where)
        found = [m for m in self.store.memories_by_label("Outcome", [h.id for h in hits]) if isinstance(m, Outcome)]
        if not found:
            return [outcome]
        tasks = embed([o.task for o in found])
        close = [o for o, e in zip(found, tasks) if float(np.dot(e, query)) >= self.config.task_similarity]
        return close if any(o.id == outcome.id for o in close) else close + [outcome]

    def _existing(self, label: str, outcome: Outcome, strategy: str, *, by_type: bool) -> Memory | None:
        """The agent's valid heuristic (or anti-pattern) for this strategy on tasks like this one."""
        candidates = [
            m for m in self.store.find_memories(label, outcome.agent, {})
            if _normalise(str(m.metadata.get("strategy", getattr(m, "strategy", "")))) == _normalise(strategy)
        ]
        if not candidates:
            return None
        conditions = [str(m.metadata.get("condition", getattr(m, "condition", ""))) for m in candidates]
        if by_type:
            matching = [m for m, c in zip(candidates, conditions) if c == outcome.task_type]
        else:
            task = self.store.embed([outcome.task])[0]
            similar = self.store.embed(conditions) @ task
            matching = [m for m, s in zip(candidates, similar) if s >= self.config.task_similarity]
        return matching[-1] if matching else None

    def _strengthen(self, label: str, memory_id: str, outcome: Outcome, values: dict[str, object]) -> Memory:
        """One more outcome behind a learned memory: its counts change and it derives from that outcome too."""
        def write() -> None:
            self.store.set_memory_fields(label, memory_id, values)
            self.store.add_derivations(label, memory_id, [outcome.id], "learning")

        self.memories.commit(write, [event(MEMORY_UPDATED, memory_id, outcome.agent, label)])
        return self.store.get_memory(memory_id)


_FORMED = {"Heuristic": HEURISTIC_FORMED, "AntiPattern": ANTIPATTERN_DETECTED}


def _success(outcome: object) -> bool:
    if isinstance(outcome, bool):
        return outcome
    if isinstance(outcome, str) and outcome.strip().lower() in {"success", "succeeded", "ok", "pass", "passed"}:
        return True
    if isinstance(outcome, str) and outcome.strip().lower() in {"failure", "failed", "fail", "error"}:
        return False
    raise ValidationError("outcome", f"expected true/false or 'success'/'failure', got {outcome!r}")


def _pattern(strategy: str, condition: str) -> str:
    return f"{strategy} (for {condition})"


def _why_bad(failures: list[Outcome]) -> str:
    errors = list(dict.fromkeys(o.error for o in failures if o.error))
    reasons = "; ".join(errors[:3]) if errors else "no error recorded"
    return f"failed {len(failures)} times: {reasons}"


def _best_alternative(related: list[Outcome], strategy: str) -> str | None:
    tally: dict[str, list[int]] = {}
    for o in related:
        if _normalise(o.strategy_used) == _normalise(strategy):
            continue
        wins_total = tally.setdefault(o.strategy_used, [0, 0])
        wins_total[0] += int(o.success)
        wins_total[1] += 1
    ranked = sorted(tally.items(), key=lambda kv: (_laplace(*kv[1]), kv[1][1]), reverse=True)
    return ranked[0][0] if ranked and ranked[0][1][0] > 0 else None
