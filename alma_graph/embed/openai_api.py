"""Embedder for the OpenAI embeddings API and any server that speaks its protocol."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BackendError, DependencyMissingError, ValidationError
from .base import Embedder, check_positive_int, check_texts, empty_matrix, finish_matrix

if TYPE_CHECKING:
    from openai import OpenAI

KNOWN_DIMENSIONS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_DEFAULT_URL = "https://api.openai.com/v1"


class OpenAIEmbedder(Embedder):
    """Embeds through ``client.embeddings.create`` of the ``openai`` package.

    ``base_url`` points it at any OpenAI-compatible server (vLLM, Ollama, LM Studio, ...).
    ``dimension`` is sent as the API's ``dimensions`` parameter when given; otherwise it is
    the model's known default or, for unknown models, learnt from one probe request the
    first time it is needed. Texts go out in requests of at most ``batch_size``. Pass a
    ready ``client`` to control timeouts, retries or proxies yourself.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        dimension: int | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 256,
        client: OpenAI | None = None,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ValidationError("model", f"expected a model name, got {model!r}")
        if dimension is not None:
            check_positive_int("dimension", dimension)
        if base_url is not None and (not isinstance(base_url, str) or not base_url.strip()):
            raise ValidationError("base_url", f"expected a URL such as 'http://localhost:8000/v1', got {base_url!r}")
        self._model = model
        self._requested_dimension = dimension
        self._dimension = dimension if dimension is not None else KNOWN_DIMENSIONS.get(model)
        self._batch_size = check_positive_int("batch_size", batch_size)
        self._lock = threading.Lock()
        self._client = client if client is not None else self._make_client(base_url, api_key)
        self._base_url = str(getattr(self._client, "base_url", None) or base_url or _DEFAULT_URL)

    @staticmethod
    def _make_client(base_url: str | None, api_key: str | None) -> OpenAI:
        try:
            from openai import OpenAI
        except ImportError:
            raise DependencyMissingError("the OpenAI embedder", "openai", extra="openai") from None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if base_url is None:
                raise ValidationError(
                    "api_key", "no API key given and OPENAI_API_KEY is not set (needed for api.openai.com)"
                )
            # Self-hosted servers often need no key, but the client refuses to start without one.
            key = "unused"
        return OpenAI(api_key=key, base_url=base_url)

    @property
    def model(self) -> str:
        return self._model

    @property
    def name(self) -> str:
        return f"openai:{self._model}-{self.dimension}"

    @property
    def dimension(self) -> int:  # type: ignore[override]  # may need a probe request to learn
        with self._lock:
            if self._dimension is None:
                self._dimension = len(self._request(["dimension probe"])[0])
            return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        for i, text in enumerate(items):
            # The API rejects empty input with a 400; say which text instead.
            if not text.strip():
                raise ValidationError(f"texts[{i}]", "must not be empty for the OpenAI embedder")
        dimension = self.dimension
        if not items:
            return empty_matrix(dimension)
        vectors: list[list[float]] = []
        for start in range(0, len(items), self._batch_size):
            vectors.extend(self._request(items[start : start + self._batch_size]))
        return finish_matrix(vectors, len(items), dimension, f"the embeddings server at {self._base_url} ({self._model})")

    def _request(self, batch: list[str]) -> list[list[float]]:
        """One embeddings call; vectors in input order."""
        from openai import OpenAIError

        options: dict[str, int] = {}
        if self._requested_dimension is not None:
            options["dimensions"] = self._requested_dimension
        try:
            response = self._client.embeddings.create(
                model=self._model, input=batch, encoding_format="float", **options
            )
        except OpenAIError as exc:
            raise BackendError(
                f"embedding request to {self._base_url} with model {self._model!r} failed: {exc}"
            ) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            raise BackendError(
                f"the embeddings server at {self._base_url} ({self._model}) returned "
                f"{len(data)} vectors for {len(batch)} texts"
            )
        return [list(item.embedding) for item in data]
