"""`alma-graph consolidate`: merge an agent's near-duplicate memories, now or (with
`alma-graph serve --consolidate-every 1h`) on a schedule. `alma-graph compress`: sum up an
agent's old, little-believed memories by topic.

A language model writes the merged texts when ALMA_GRAPH_LLM_MODEL names one (with
ALMA_GRAPH_LLM_URL for any OpenAI-compatible server and ALMA_GRAPH_LLM_API_KEY); otherwise
the offline merge does.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import timedelta

from .client import GraphMemory
from .llm import LLMConfig
from .services.compression import CompressionResult
from .services.consolidation import ConsolidationResult
from .services.merging import MERGEABLE, ConsolidationConfig

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def open_memory(args: argparse.Namespace) -> GraphMemory:
    """The CLI's client: the language model, if any, comes from the environment."""
    return GraphMemory(args.url, embedder=args.embedder, consolidation=ConsolidationConfig(llm=LLMConfig.from_env()))


def duration(value: str) -> float:
    """Seconds in '90s', '30m', '1h', '1d' (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 30m, 1h or 1d, got {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _snippet(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def print_result(result: ConsolidationResult) -> None:
    verb = "would merge" if result.dry_run else "merged"
    print(f"agent {result.agent!r}: {result.examined} memories examined, {verb} {result.merged} "
          f"into {len(result.groups)} (cosine >= {result.similarity_threshold:g})")
    for group in result.groups:
        target = group.merged_id or "(dry run)"
        print(f"\n{group.memory_type} {target}  merged by {group.merged_by}, similarity {group.similarity:.2f}")
        print(f"  = {_snippet(group.text)}")
        for memory_id, text in zip(group.merged_from, group.texts):
            print(f"  <- {memory_id}  {_snippet(text, 80)}")
        if group.note:
            print(f"  note: {group.note}")


def cmd_consolidate(args: argparse.Namespace) -> int:
    with open_memory(args) as memory:
        result = memory.consolidate(args.agent, args.type, args.threshold, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_result(result)
    return 0


def print_compression(result: CompressionResult) -> None:
    verb = "would sum up" if result.dry_run else "summed up"
    print(f"agent {result.agent!r}: {result.examined} memories examined, {verb} {result.compressed} old ones "
          f"(before {result.cutoff:%Y-%m-%d %H:%M}, confidence < {result.keep_confidence:g}) "
          f"into {len(result.groups)}")
    for group in result.groups:
        target = group.summary_id or "(dry run)"
        print(f"\n{group.memory_type} {target}  summarized by {group.summarized_by}")
        print(f"  = {_snippet(group.text)}")
        for memory_id, text in zip(group.summarized, group.texts):
            print(f"  <- {memory_id}  {_snippet(text, 80)}")
        if group.note:
            print(f"  note: {group.note}")


def cmd_compress(args: argparse.Namespace) -> int:
    with open_memory(args) as memory:
        result = memory.compress(args.agent, timedelta(seconds=args.older_than), args.keep_confidence,
                                 dry_run=args.dry_run, memory_type=args.type, similarity_threshold=args.threshold)
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_compression(result)
    return 0


def register(sub: argparse._SubParsersAction, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `consolidate` and `compress` commands to the main parser (`command` makes one subcommand)."""
    p = command(sub, "consolidate", cmd_consolidate, "merge an agent's near-duplicate memories "
                "(originals are invalidated, linked by MERGED_FROM)")
    p.add_argument("--agent", required=True)
    p.add_argument("--type", choices=MERGEABLE, help="one memory type (default: every type but Outcome)")
    p.add_argument("--threshold", type=float, metavar="X", help="cosine two memories must reach (default: 0.85)")
    p.add_argument("--dry-run", action="store_true", help="show what would merge; write nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command(sub, "compress", cmd_compress, "sum up an agent's old, low-confidence memories by topic "
                "(originals are invalidated, linked by MERGED_FROM with reason compression)")
    p.add_argument("--agent", required=True)
    p.add_argument("--older-than", type=duration, default=90 * 86400.0, metavar="DURATION",
                   help="learned and last retrieved at least this long ago (default: 90d)")
    p.add_argument("--keep-confidence", type=float, default=0.8, metavar="X",
                   help="memories this confident or more are kept as they are (default: 0.8)")
    p.add_argument("--type", choices=MERGEABLE, help="one memory type (default: every type but Outcome)")
    p.add_argument("--threshold", type=float, metavar="X", help="cosine that puts two in one topic (default: 0.5)")
    p.add_argument("--dry-run", action="store_true", help="show what would be summed up; write nothing")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
