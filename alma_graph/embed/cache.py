"""An LRU cache in front of any embedder, so repeated texts are embedded once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..errors import ValidationError
from .base import Embedder, check_positive_int, check_texts, empty_matrix


class CachedEmbedder(Embedder):
    """Wraps ``inner`` with a least-recently-used cache of up to ``max_entries`` vectors,
    keyed on the exact text.

    Only the distinct texts of a batch that are not cached go to ``inner``, in one call.
    ``misses`` counts texts sent to ``inner``; ``hits`` counts texts served without it
    (including repeats within one batch). Safe to share between threads; the inner
    embedder is called outside the lock, so a slow call does not block cache hits.
    """

    def __init__(self, inner: Embedder, max_entries: int = 4096) -> None:
        if not isinstance(inner, Embedder):
            raise ValidationError("inner", f"expected an Embedder, got {type(inner).__name__}")
        self.inner = inner
        self.max_entries = check_positive_int("max_entries", max_entries)
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:  # type: ignore[override]  # always the inner embedder's
        return self.inner.dimension

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        """Drop every cached vector (the counters are kept)."""
        with self._lock:
            self._entries.clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return empty_matrix(self.dimension)

        found: dict[str, np.ndarray] = {}
        missing: list[str] = []
        pending: set[str] = set()
        with self._lock:
            for text in items:
                if text in found:
                    continue
                vector = self._entries.get(text)
                if vector is None:
                    if text not in pending:
                        pending.add(text)
                        missing.append(text)
                    continue
                self._entries.move_to_end(text)
                found[text] = vector

        if missing:
            fresh = self.inner.embed(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    # Cached arrays are shared between callers, so make them immutable.
                    vector = vector.copy()
                    vector.flags.writeable = False
                    found[text] = vector
                    self._entries[text] = vector
                    self._entries.move_to_end(text)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)

        with self._lock:
            self.misses += len(missing)
            self.hits += len(items) - len(missing)
        return np.stack([found[text] for text in items]).astype(np.float32, copy=False)
