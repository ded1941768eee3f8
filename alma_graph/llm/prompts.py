"""The prompts alma-graph sends a language model, each with the JSON shape its answer must have.

Memories are sent as JSON objects of their own fields, so the model sees exactly what is stored
and answers in the same field names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SYSTEM = ("You maintain the long-term memory of an AI agent. Answer with one JSON object and nothing else, "
          "exactly in the shape the user asks for.")


class MergeAnswer(BaseModel):
    """The merged (or summary) memory's text fields, and why it says what it says."""

    model_config = ConfigDict(extra="ignore")

    fields: dict[str, str | None]
    reason: str = ""


Relation = Literal["repeat", "contradicts", "distinct"]


class Verdict(BaseModel):
    id: str
    relation: Relation


class JudgeAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    verdicts: list[Verdict] = Field(default_factory=list)


def _memories(items: Sequence[Mapping[str, object]]) -> str:
    return "\n".join(json.dumps(dict(item), ensure_ascii=False, sort_keys=True) for item in items)


def merge_prompt(memory_type: str, fields: Sequence[str], members: Sequence[Mapping[str, object]]) -> str:
    """Ask for one memory that says everything the near-duplicate `members` say, best-supported first."""
    shape = json.dumps({"fields": {f: "..." for f in fields}, "reason": "..."})
    return (
        f"These {len(members)} {memory_type} memories of one agent say nearly the same thing; the first is "
        "the best supported. Merge them into ONE memory of the same type: keep every distinct fact, "
        "drop repetition, prefer the wording of the first, invent nothing. A field none of them fills "
        "is null.\n\n"
        f"Memories (one JSON object per line):\n{_memories(members)}\n\n"
        f"Answer with JSON of this shape: {shape}"
    )


def judge_prompt(memory_type: str, new: Mapping[str, object], candidates: Sequence[Mapping[str, object]]) -> str:
    """Ask whether a new memory repeats, contradicts or is distinct from each similar existing one."""
    shape = json.dumps({"verdicts": [{"id": "<candidate id>", "relation": "repeat | contradicts | distinct"}]})
    return (
        f"An agent is about to store a new {memory_type} memory. For each existing memory below, say "
        "whether the new one REPEATS it (says the same thing, perhaps in other words), CONTRADICTS it "
        "(they cannot both be true now: the new one replaces it), or is DISTINCT (both can stand).\n\n"
        f"New memory: {json.dumps(dict(new), ensure_ascii=False, sort_keys=True)}\n\n"
        f"Existing memories (one JSON object per line):\n{_memories(candidates)}\n\n"
        f"Answer with JSON of this shape, one verdict per existing memory: {shape}"
    )


def summary_prompt(memory_type: str, fields: Sequence[str], members: Sequence[Mapping[str, object]]) -> str:
    """Ask for one memory that sums up old memories on one topic, shorter than they are together
    (answered as a MergeAnswer)."""
    shape = json.dumps({"fields": {f: "..." for f in fields}, "reason": "..."})
    return (
        f"These {len(members)} old {memory_type} memories of one agent are about one topic and are no "
        "longer used. Summarize them into ONE memory of the same type that keeps what is still worth "
        "knowing: the facts they share and the few that stand out, in fewer words than they take "
        "together. Invent nothing; drop repetition and detail of no lasting use. A field none of them "
        "fills is null.\n\n"
        f"Memories (one JSON object per line):\n{_memories(members)}\n\n"
        f"Answer with JSON of this shape: {shape}"
    )
