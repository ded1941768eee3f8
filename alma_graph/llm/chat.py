"""A chat model behind any OpenAI-compatible endpoint, asked for JSON and held to a schema.

The project's only use of a language model is optional judgement (merge texts, whether a new
memory repeats or contradicts an old one); everything it decides has an offline rule too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as SchemaMismatch

from ..errors import DependencyMissingError, ModelAnswerError, ModelError, ValidationError

if TYPE_CHECKING:
    from openai import OpenAI

Answer = TypeVar("Answer", bound=BaseModel)
_OBJECT = re.compile(r"\{.*\}", re.S)


@dataclass(frozen=True)
class LLMConfig:
    """Where the model is: `base_url` of any OpenAI-compatible server (vLLM, Ollama, LM Studio,
    api.openai.com when None), the `model` name and its `api_key`."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    timeout_s: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> LLMConfig | None:
        """ALMA_GRAPH_LLM_MODEL (required to use a model at all), ALMA_GRAPH_LLM_URL and
        ALMA_GRAPH_LLM_API_KEY (or OPENAI_API_KEY); None when no model is named."""
        model = environ.get("ALMA_GRAPH_LLM_MODEL", "").strip()
        if not model:
            return None
        return cls(model=model, base_url=environ.get("ALMA_GRAPH_LLM_URL") or None,
                   api_key=environ.get("ALMA_GRAPH_LLM_API_KEY") or environ.get("OPENAI_API_KEY") or None)


class ChatModel:
    """`ask(system, prompt, Schema)`: one chat completion at temperature 0 in JSON mode, parsed
    and validated into `Schema`. An unreachable or failing server is a `ModelError`; an answer
    that does not fit the schema is a `ModelAnswerError` (a subclass), so a caller can fall back
    on a bad answer without hiding a broken configuration."""

    def __init__(self, config: LLMConfig, client: OpenAI | None = None):
        if not isinstance(config.model, str) or not config.model.strip():
            raise ValidationError("llm.model", f"expected a model name, got {config.model!r}")
        self.config = config
        self._client = client if client is not None else _client(config)

    @property
    def name(self) -> str:
        return f"{self.config.model} at {self.config.base_url or 'api.openai.com'}"

    def ask(self, system: str, prompt: str, schema: type[Answer]) -> Answer:
        from openai import OpenAIError

        try:
            response = self._client.chat.completions.create(
                model=self.config.model,
                temperature=0,
                response_format={"type": "json_object"},
                messages=[{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            )
        except OpenAIError as exc:
            raise ModelError(f"the language model {self.name} failed: {exc}") from exc
        content = (response.choices[0].message.content or "") if response.choices else ""
        return parse_answer(content, schema, self.name)


def parse_answer(content: str, schema: type[Answer], source: str = "the model") -> Answer:
    """The JSON object in `content` (some servers wrap it in prose or a code fence), validated."""
    match = _OBJECT.search(content)
    if match is None:
        raise ModelAnswerError(f"{source} answered without a JSON object: {content[:200]!r}")
    try:
        return schema.model_validate(json.loads(match.group(0)))
    except json.JSONDecodeError as exc:
        raise ModelAnswerError(f"{source} answered with invalid JSON ({exc.msg}): {content[:200]!r}") from None
    except SchemaMismatch as exc:
        problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:3])
        raise ModelAnswerError(f"{source} answered with JSON that is not a {schema.__name__} ({problem})") from None


def _client(config: LLMConfig) -> OpenAI:
    try:
        from openai import OpenAI
    except ImportError:
        raise DependencyMissingError("a language model", "openai", extra="openai") from None
    if not config.api_key and config.base_url is None:
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise ValidationError("llm.api_key", "no API key given and OPENAI_API_KEY is not set "
                                                 "(needed for api.openai.com)")
    else:
        # Self-hosted servers often need no key, but the client refuses to start without one.
        key = config.api_key or "unused"
    return OpenAI(api_key=key, base_url=config.base_url, timeout=config.timeout_s, max_retries=1)
