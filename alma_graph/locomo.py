"""Reading LoCoMo-format conversations (Maharana et al., ACL 2024) into episodes and questions.

One file is one conversation: `speaker_a`, `speaker_b`, `session_N` (turns with `speaker`,
`dia_id`, `text`, optionally `blip_caption` for a shared image), `session_N_date_time`, and `qa`
(questions with `evidence` dia_ids and a `category`: 1 multi-hop, 2 temporal, 3 open-domain,
4 single-hop, 5 adversarial). Annotations (observations, summaries, events) are not read: they
are not something a system under test may see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import ValidationError

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
_DATE_FORMAT = "%I:%M %p on %d %B, %Y"


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    timestamp: datetime
    caption: str | None = None

    @property
    def episode_text(self) -> str:
        """What is remembered: who said it, what they said, and what their image showed."""
        text = f"{self.speaker}: {self.text}"
        if self.caption:
            text += f" [shares an image: {self.caption}]"
        return text


@dataclass(frozen=True)
class Question:
    question: str
    answer: str
    evidence: tuple[str, ...]
    category: int


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    turns: tuple[Turn, ...]
    questions: tuple[Question, ...]

    def session_id(self, turn: Turn) -> str:
        return f"{self.sample_id}-session_{turn.session}"

    def episodes(self) -> list[dict[str, object]]:
        """The turns as `remember_many` input, in conversation order."""
        return [
            {"text": t.episode_text, "session": self.session_id(t), "timestamp": t.timestamp,
             "source_id": t.dia_id, "metadata": {"speaker": t.speaker, "session": t.session}}
            for t in self.turns
        ]


def parse_date(value: str, field: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), _DATE_FORMAT).replace(tzinfo=timezone.utc)
    except (ValueError, AttributeError):
        raise ValidationError(field, f"{value!r} is not a LoCoMo date like '1:56 pm on 8 May, 2023'") from None


def load(path: str | Path) -> Conversation:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValidationError("data", f"cannot read {path}: {exc}") from None
    try:
        return _parse(data, path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValidationError("data", f"{path} is not a LoCoMo conversation (missing or malformed {exc})") from None


def _parse(data: dict, path: Path) -> Conversation:
    conversation = data.get("conversation", data)
    sample_id = str(data.get("sample_id") or path.stem)
    sessions = sorted(
        int(m.group(1)) for key in conversation if (m := re.fullmatch(r"session_(\d+)", key))
    )
    turns = []
    for n in sessions:
        when = parse_date(conversation[f"session_{n}_date_time"], f"{path.name}: session_{n}_date_time")
        for i, raw in enumerate(conversation[f"session_{n}"]):
            # Turns inside one session keep their order; a minute apart keeps timestamps distinct.
            turns.append(Turn(
                dia_id=raw["dia_id"], speaker=raw["speaker"], text=raw.get("text", ""),
                session=n, timestamp=when.replace(second=0) if i == 0 else
                datetime.fromtimestamp(when.timestamp() + 60 * i, tz=timezone.utc),
                caption=raw.get("blip_caption"),
            ))
    questions = tuple(
        Question(question=q["question"], answer=str(q.get("answer", q.get("adversarial_answer", ""))),
                 evidence=tuple(_evidence_ids(q.get("evidence", []))), category=int(q["category"]))
        for q in data.get("qa", [])
    )
    return Conversation(
        sample_id=sample_id,
        speakers=(conversation["speaker_a"], conversation["speaker_b"]),
        turns=tuple(t for t in turns if t.text.strip() or t.caption),
        questions=questions,
    )


def _evidence_ids(evidence: list[str]) -> list[str]:
    # A few evidence entries hold several ids in one string ("D8:6; D9:17").
    return [part for item in evidence for part in re.split(r"[;,\s]+", item) if part]
