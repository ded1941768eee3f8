"""LLM-judged answer accuracy (the "J" score of published LoCoMo results).

An OpenAI-compatible chat model answers each question from the retrieved context only; a judge
model compares the answer with the gold answer and says CORRECT or WRONG. Runs only when a
`base_url` is given: no model is reachable offline, and no score is ever made up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

ANSWER_PROMPT = """You answer questions about a long conversation between two people.
Use only the memories below. Each line starts with the date it was said or learned; turn relative dates
("yesterday", "last week") into absolute ones using that date. Answer in a short phrase.

Memories:
{context}

Question: {question}
Answer:"""

JUDGE_PROMPT = """Label an answer to a question as CORRECT or WRONG, given the gold answer.
Be generous: an answer that refers to the same thing or the same date as the gold answer, in
other words or another format, is CORRECT. Reply with JSON only: {{"label": "CORRECT"}} or
{{"label": "WRONG"}}.

Question: {question}
Gold answer: {gold}
Answer: {answer}"""


@dataclass(frozen=True)
class Verdict:
    answer: str
    correct: bool


class LLMJudge:
    def __init__(self, base_url: str, model: str, judge_model: str | None = None, api_key: str | None = None):
        try:
            from openai import OpenAI
        except ImportError:
            raise SystemExit("the LLM-judged mode needs the openai package: pip install 'alma-graph[openai]'")
        self.client = OpenAI(base_url=base_url, api_key=api_key or "unused")
        self.model = model
        self.judge_model = judge_model or model

    def _chat(self, model: str, prompt: str) -> str:
        response = self.client.chat.completions.create(
            model=model, temperature=0, messages=[{"role": "user", "content": prompt}]
        )
        return (response.choices[0].message.content or "").strip()

    def verdict(self, question: str, gold: str, context: str) -> Verdict:
        answer = self._chat(self.model, ANSWER_PROMPT.format(context=context, question=question))
        raw = self._chat(self.judge_model, JUDGE_PROMPT.format(question=question, gold=gold, answer=answer))
        return Verdict(answer=answer, correct=parse_label(raw))


def parse_label(raw: str) -> bool:
    """The judge's label; anything that is not a clear CORRECT counts as WRONG."""
    match = re.search(r"\{.*\}", raw, re.S)
    if match:
        try:
            return str(json.loads(match.group(0)).get("label", "")).upper() == "CORRECT"
        except (json.JSONDecodeError, AttributeError):
            pass
    return raw.strip().upper().startswith("CORRECT")
