"""The interface every embedder implements, plus the checks they share."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from ..errors import BackendError, ValidationError


class Embedder(abc.ABC):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension.

    Subclasses set ``dimension`` (an int attribute, or a property where it is only known
    after loading a model), define ``name`` and implement ``embed``. ``check_texts`` and
    ``finish_matrix`` give every implementation the same input and output guarantees.
    """

    dimension: int

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """Stable identifier of model and dimension, stored with the data it produced.

        Two embedders with the same name must produce comparable vectors; reopening a
        database with a different name is an error rather than silently mixed vectors.
        """

    @abc.abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: a float32 array of shape ``(len(texts), dimension)``.

        Each row has unit L2 norm (the hashing embedder returns a zero row for a text
        without any word characters). Raises ``ValidationError`` naming ``texts`` or
        ``texts[i]`` for bad input.
        """

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text: a float32 vector of shape ``(dimension,)``."""
        if not isinstance(text, str):
            raise ValidationError("text", f"expected a string, got {type(text).__name__}")
        return self.embed([text])[0]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def check_texts(texts: object) -> list[str]:
    """Validate the argument of ``Embedder.embed`` and return it as a list."""
    # A bare string is a Sequence[str] too; embedding it character by character is never meant.
    if isinstance(texts, (str, bytes)):
        raise ValidationError("texts", "expected a sequence of strings, got a single string; wrap it in a list")
    if not isinstance(texts, Sequence):
        raise ValidationError("texts", f"expected a sequence of strings, got {type(texts).__name__}")
    items = list(texts)
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise ValidationError(f"texts[{i}]", f"expected a string, got {type(text).__name__}")
    return items


def check_positive_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(field, f"expected a positive integer, got {value!r}")
    return value


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm in place; all-zero rows stay zero."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix


def finish_matrix(raw: object, rows: int, dimension: int, source: str) -> np.ndarray:
    """Turn a model's output into the contract's shape, dtype and normalisation.

    A wrong shape means the model or server is not what its name claims, which is a
    backend failure rather than a caller mistake.
    """
    try:
        matrix = np.array(raw, dtype=np.float32, copy=True)
    except (TypeError, ValueError) as exc:
        raise BackendError(f"{source} returned vectors that are not a numeric matrix: {exc}") from exc
    if matrix.shape != (rows, dimension):
        raise BackendError(
            f"{source} returned vectors of shape {matrix.shape}, expected ({rows}, {dimension})"
        )
    if not np.isfinite(matrix).all():
        raise BackendError(f"{source} returned vectors containing NaN or infinity")
    return normalize_rows(matrix)


def empty_matrix(dimension: int) -> np.ndarray:
    return np.zeros((0, dimension), dtype=np.float32)
