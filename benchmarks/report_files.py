"""Where every benchmark puts its figures: `--json FILE` (all of them) and `--png FILE` (its chart)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def write(report: dict, json_path: str | None, png_path: str | None, plot: Callable[[dict, Path], None]) -> None:
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2))
    if png_path:
        Path(png_path).parent.mkdir(parents=True, exist_ok=True)
        plot(report, Path(png_path))
