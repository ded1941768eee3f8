"""Backends chosen by URL scheme.

`kuzu:///path/to/folder` (or a bare path) opens embedded Kuzu; each server scheme opens its
module's `open_url`, imported only when used so that a driver is needed only by its users.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from ..errors import ValidationError
from .base import Backend, Hit, SearchFilter

DEFAULT_PATH = "alma_graph_data/memory.kuzu"


def _open_kuzu(url: str, **options: object) -> Backend:
    from .kuzu import KuzuBackend

    parsed = urlparse(url)
    path = (parsed.netloc + parsed.path) if parsed.scheme else url
    if not path:
        raise ValidationError("url", f"{url!r} names no database folder (kuzu:///path/to/folder)")
    return KuzuBackend(path, **options)  # type: ignore[arg-type]


def _server(module: str) -> Callable[..., Backend]:
    def opener(url: str, **options: object) -> Backend:
        return importlib.import_module(f".{module}", __package__).open_url(url, **options)

    return opener


BACKENDS: dict[str, Callable[..., Backend]] = {
    "kuzu": _open_kuzu,
    "ladybug": _open_kuzu,
    "falkordb": _server("falkordb"),
    **{s: _server("neo4j") for s in ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")},
    **{s: _server("memgraph") for s in ("memgraph", "memgraph+s")},
    **{s: _server("neptune") for s in ("neptune-db", "neptune-graph")},
}


def default_url() -> str:
    return os.environ.get("ALMA_GRAPH_URL") or f"kuzu://{Path.cwd() / DEFAULT_PATH}"


def open_backend(url: str | None = None, **options: object) -> Backend:
    """Open the backend a URL names (default: embedded Kuzu under the working directory)."""
    url = url or default_url()
    if not isinstance(url, str):
        raise ValidationError("url", f"expected a string, got {type(url).__name__}")
    scheme = urlparse(url).scheme
    if len(scheme) <= 1:  # a bare path (or a Windows drive letter)
        return _open_kuzu(url, **options)
    try:
        opener = BACKENDS[scheme]
    except KeyError:
        raise ValidationError(
            "url", f"unknown backend scheme {scheme!r}; expected one of {', '.join(sorted(BACKENDS))}"
        ) from None
    return opener(url, **options)


__all__ = ["Backend", "Hit", "SearchFilter", "open_backend", "default_url", "BACKENDS"]
