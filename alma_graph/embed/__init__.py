"""Embedders: turn texts into L2-normalised float32 vectors.

Use ``make_embedder("local" | "hashing[:dim]" | "openai[:model]")`` to get one, always
wrapped in an LRU cache.
"""

from __future__ import annotations

import inspect

from ..errors import ValidationError
from .base import Embedder
from .cache import CachedEmbedder
from .hashing import HashingEmbedder
from .local import LocalEmbedder
from .openai_api import OpenAIEmbedder

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "HashingEmbedder",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "make_embedder",
]

_UNKNOWN = "unknown embedder {spec!r}; expected one of hashing, local, openai[:model]"


def make_embedder(spec: str | Embedder | None = "local", **options: object) -> CachedEmbedder:
    """Return a cached embedder for ``spec``.

    - ``"hashing"`` or ``"hashing:<dimension>"``: ``HashingEmbedder``
    - ``"local"`` (also ``None``): ``LocalEmbedder``
    - ``"openai"`` or ``"openai:<model>"``: ``OpenAIEmbedder(model, **options)``
    - an ``Embedder``: used as is, wrapped in a ``CachedEmbedder`` unless it already is one

    ``options`` go to the embedder's constructor; an option it does not take is a
    ``ValidationError`` naming ``options``.
    """
    if isinstance(spec, Embedder):
        if options:
            raise ValidationError("options", "options apply only when the embedder is named by a string")
        return spec if isinstance(spec, CachedEmbedder) else CachedEmbedder(spec)
    if spec is None:
        spec = "local"
    if not isinstance(spec, str):
        raise ValidationError("embedder", f"expected a name or an Embedder, got {type(spec).__name__}")

    kind, _, argument = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "hashing":
        if argument:
            if not argument.isdigit():
                raise ValidationError("embedder", f"{spec!r}: the hashing dimension must be a positive integer")
            options = {"dimension": int(argument), **options}
        return CachedEmbedder(_build(HashingEmbedder, options))
    if kind == "local" and not argument:
        return CachedEmbedder(_build(LocalEmbedder, options))
    if kind == "openai":
        if argument:
            options = {"model": argument, **options}
        return CachedEmbedder(_build(OpenAIEmbedder, options))
    raise ValidationError("embedder", _UNKNOWN.format(spec=spec))


def _build(cls: type[Embedder], options: dict[str, object]) -> Embedder:
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise ValidationError("options", f"{cls.__name__}: {exc}") from None
    return cls(**options)
