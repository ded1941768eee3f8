"""`alma-graph`: the command line. Each subcommand is a small function over `GraphMemory`.

Exit codes: 0 success, 2 a user error (bad input, unknown id, ...), 3 the database is held by
another process (for example `alma-graph serve`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import cli_consolidate, cli_webhooks, locomo
from .backends import default_url
from .backends.server import redact
from .client import GraphMemory
from .errors import AlmaGraphError, DatabaseLockedError, NotFoundError, ValidationError
from .model import History, MemoryScope, MemorySlice
from .schema import REL_KINDS
from .services.memories import MemoryService

LOCOMO_DIR = "shared/data/locomo"  # looked for beside the project folder and the working directory


def _snippet(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _dump(data: object) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _open(args: argparse.Namespace) -> GraphMemory:
    return cli_consolidate.open_memory(args)  # a context manager: closes on exit


def _scope_text(scope: MemoryScope) -> str:
    text = f"can learn {', '.join(scope.can_learn) or 'every type'}"
    text += f"; cannot learn {', '.join(scope.cannot_learn)}" if scope.cannot_learn else ""
    text += f"; shares with {', '.join(scope.share_with)}" if scope.share_with else ""
    text += f"; reads {', '.join(scope.inherit_from)}'s memories" if scope.inherit_from else ""
    return text + (f" - {scope.description}" if scope.description else "")


def cmd_agent_add(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        agent = memory.register_agent(args.name, can_learn=tuple(args.can_learn or ()),
                                      cannot_learn=tuple(args.cannot_learn or ()),
                                      share_with=tuple(args.share_with or ()),
                                      inherit_from=tuple(args.inherit_from or ()), description=args.description or "")
    print(f"agent {agent.name!r} saved: {_scope_text(agent.scope)}")
    return 0


def cmd_agent_list(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        agents = memory.agents()
    if not agents:
        print("no agents yet: create one with 'alma-graph agent add NAME'", file=sys.stderr)
    for agent in agents:
        print(f"{agent.name:<20} {_scope_text(agent.scope)}  (created {agent.created_at:%Y-%m-%d %H:%M})")
    return 0


def _bad_line(source: str, line: int, field: str | None, problem: str) -> ValidationError:
    where = f"{source} line {line}" + (f", field '{field}'" if field else "")
    return ValidationError(where, f"{problem}; nothing was imported")


def _read_jsonl(path: str, agent: str) -> list[tuple[int, dict]]:
    """Every episode of the file, validated, with its line number: one bad line fails them all."""
    source = "<stdin>" if path == "-" else path
    rows: list[tuple[int, dict]] = []
    try:
        with nullcontext(sys.stdin) if path == "-" else open(path, encoding="utf-8") as stream:
            for n, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    raw = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise _bad_line(source, n, None, f"not valid JSON ({exc.msg}, column {exc.colno})") from None
                if not isinstance(raw, dict):
                    raise _bad_line(source, n, None, f"expected a JSON object, got {type(raw).__name__}")
                try:  # the same checks remember_many makes, so a bad line is found before anything is written
                    MemoryService.episode_input(agent, raw, "episode")
                except ValidationError as exc:
                    raise _bad_line(source, n, exc.field.removeprefix("episode."), exc.problem) from None
                rows.append((n, raw))
    except UnicodeDecodeError as exc:
        raise ValidationError(source, f"is not UTF-8 text ({exc.reason}); nothing was imported") from None
    return rows


def _check_sessions(memory: GraphMemory, agent: str, rows: list[tuple[int, dict]], source: str) -> None:
    """A session that belongs to another agent would fail mid-import: refuse before writing."""
    first_line: dict[str, int] = {}
    for n, raw in rows:
        first_line.setdefault(raw.get("session") or f"{agent}/default", n)
    for session, owner in memory.store.session_owners(list(first_line)).items():
        if owner != agent:
            raise _bad_line(source, first_line[session], "session",
                            f"{session!r} belongs to agent {owner!r}, not {agent!r}")


def cmd_import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    source = "<stdin>" if args.file == "-" else args.file
    with _open(args) as memory:
        exists = any(a.name == args.agent for a in memory.agents())
        if not exists and not args.create_agent:
            raise AlmaGraphError(f"agent {args.agent!r} does not exist: create it with "
                                 f"'alma-graph agent add {args.agent}' or pass --create-agent")
        rows = _read_jsonl(args.file, args.agent)
        if not rows:
            print(f"nothing to import: {source} holds no episodes", file=sys.stderr)
            return 0
        _check_sessions(memory, args.agent, rows, source)
        if not exists:
            memory.register_agent(args.agent)
        started = time.perf_counter()
        with tqdm(total=len(rows), unit="ep", desc="importing", file=sys.stderr, disable=args.quiet) as bar:
            for i in range(0, len(rows), args.batch_size):
                batch = rows[i: i + args.batch_size]
                try:  # each batch is one transaction: it is written whole or not at all
                    memory.remember_many(args.agent, [raw for _, raw in batch])
                except AlmaGraphError as exc:
                    raise AlmaGraphError(f"import stopped at the batch starting on {source} line {batch[0][0]}: "
                                         f"{exc}; the {i} episodes before it were written") from exc
                bar.update(len(batch))
        seconds = time.perf_counter() - started
    sessions = {raw.get("session") or f"{args.agent}/default" for _, raw in rows}
    print(f"imported {len(rows)} episodes in {len(sessions)} sessions for agent {args.agent!r} "
          f"in {seconds:.2f} s ({len(rows) / max(seconds, 1e-9):.1f} episodes/s)")
    return 0


def _print_slice(result: MemorySlice, explain: bool) -> None:
    for rank, item in enumerate(result.items, 1):
        label = item.memory.type if item.memory else f"Episode {item.episode.timestamp:%Y-%m-%d}"  # type: ignore[union-attr]
        sources = f"  [sources: {', '.join(item.source_ids)}]" if item.source_ids else ""
        print(f"{rank:>3}. {item.score:.3f}  {label:<18} {_snippet(item.text)}{sources}")
        if explain:
            e = item.explanation
            factors = "  ".join(f"{k} {f.value:.2f}x{f.weight:g}={f.contribution:.3f}" for k, f in e.factors.items())
            relevance = " ".join(f"{k}={value:.2f}" for k, value in e.relevance.items())
            found = "+".join(e.found_by) + (f" via {e.via}" if e.via else "")
            concept = f"; closest concept {e.concept!r}" if e.concept else ""
            print(f"{'':>12}{factors}\n{'':>12}similarity from {relevance}; found by {found}{concept}; id {item.id}")


def cmd_retrieve(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        result = memory.retrieve(args.query, args.agent, top_k=args.top_k, types=args.types,
                                 since=args.since, until=args.until, as_of=args.as_of, when=args.when,
                                 reference=args.reference)
    if args.json:
        _dump(result.model_dump(mode="json"))
    else:
        print(f"{len(result)} results for {result.query!r} (agent {result.agent}, {result.took_ms:.0f} ms)")
        _print_slice(result, args.explain)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        obj = memory.get(args.id)
    data = obj.model_dump(mode="json")
    data = {"type": data.pop("memory_type", "Episode"), **data}
    if args.json:
        _dump(data)
    else:
        print(f"{data.pop('type')} {data.pop('id')}\n  text: {data.pop('text')}")
        print("\n".join(f"  {key}: {json.dumps(value) if isinstance(value, dict) else value}"
                        for key, value in data.items() if value not in (None, {}, "")))
    return 0


def _print_history(history: History) -> None:
    """A tree from the root along provenance edges; edges the tree does not show are listed after it."""
    nodes = {n.id: n for n in history.nodes}

    def line(node_id: str) -> str:
        n = nodes.get(node_id)
        if n is None:  # an edge end the history did not describe
            return f"{node_id} (unknown node)"
        return f"{n.label} {n.id} \"{_snippet(n.text, 80)}\"" + ("" if n.valid else " (invalidated)")

    def label(e) -> str:
        when = f" {e.at:%Y-%m-%d %H:%M}" if e.at else ""
        return f"{e.relation}{when}{f' ({e.reason})' if e.reason else ''}"

    links: dict[str, list[tuple[str, str]]] = {}
    for e in history.edges:
        links.setdefault(e.source, []).append((f"-[{label(e)}]->", e.target))
        links.setdefault(e.target, []).append((f"<-[{label(e)}]-", e.source))
    learned = ""
    if history.learned_by:
        learned = f"  (learned by {history.learned_by}"
        learned += f" {history.learned_at:%Y-%m-%d %H:%M}" if history.learned_at else ""
        learned += f", {history.reason})" if history.reason else ")"
    print(line(history.root) + learned)
    seen, shown = {history.root}, set()

    def walk(node_id: str, depth: int) -> None:
        for arrow, other in links.get(node_id, []):
            if other not in seen:
                seen.add(other)
                shown.add(frozenset((node_id, other)))
                print(f"{'    ' * depth}{arrow} {line(other)}")
                walk(other, depth + 1)

    walk(history.root, 1)
    if not history.edges:
        print("    (no provenance edges: it derives from nothing and supersedes nothing)")
    for e in (e for e in history.edges if frozenset((e.source, e.target)) not in shown):
        print(f"  also: {line(e.source)} -[{label(e)}]-> {line(e.target)}")


def cmd_history(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        history = memory.history(args.id)
    _dump(history.model_dump(mode="json")) if args.json else _print_history(history)
    return 0


def _stats(memory: GraphMemory) -> dict[str, dict]:
    counts, rels = memory.stats(), {r.type for r in REL_KINDS}
    return {"nodes": {k: n for k, n in counts.items() if k not in rels},
            "edges": {k: n for k, n in counts.items() if k in rels},
            "indexes": memory.backend.index_status()}


def _print_stats(stats: dict[str, dict]) -> None:
    for section, values in stats.items():
        print(f"{section}:" + "".join(f"\n  {key:<16} {value:>9}" for key, value in values.items()))


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        stats = _stats(memory)
    _dump(stats) if args.json else _print_stats(stats)
    return 0


def cmd_index_refresh(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        done = memory.refresh_indexes()
        threshold = getattr(memory.backend, "vector_index_min_rows", None)
        for label, what in done.items():
            print(f"{label}: {what}")
        if not done:
            limit = f" (an HNSW index is built once a table reaches {threshold} rows)" if threshold else ""
            print(f"nothing to do: no table needs a new vector index{limit}")
        _print_stats({"indexes": memory.backend.index_status()})
    return 0


SAMPLE = """\
Maya: Hi! I'm Maya. I'm building a recipe-sharing web app in Flask with my friend Tom.
Assistant: Nice to meet you, Maya. What would you like to start with?
Maya: Please keep answers short and put the code first; I skim long explanations.
Assistant: Got it: concise answers, code first.
Maya: Our test suite is flaky: test_upload fails about one run in five on CI.
Assistant: Let's run it in isolation with a fixed random seed to see whether order matters.
Maya: The fixed seed showed it: the test depended on set ordering. [shares: a screenshot of a green CI pipeline]
Maya: Back again. My dog Biscuit chewed my laptop charger, so I'm on my old machine today.
Assistant: Oh no, poor charger! What are we working on?
Maya: Another flaky test, test_search this time; adding a sleep did not help.
Assistant: Same approach as last week: isolate it and fix the random seed.
Maya: That worked again. Next week we deploy the app to a small VPS with Docker.""".splitlines()
SAMPLE_QUERIES = ["How should I fix a flaky test?", "What does Maya prefer in answers?", "What is Maya's dog called?"]


def _sample_turns() -> list[dict]:
    """Two sessions, a week and a day ago (so recency means something), a turn a minute."""
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    episodes = []
    for i, text in enumerate(SAMPLE):
        n = 1 if i < 7 else 2
        when = now - timedelta(days=7 if n == 1 else 1) + timedelta(minutes=i)
        episodes.append({"text": text, "session": f"sample-session_{n}", "timestamp": when, "source_id": f"D{n}:{i + 1}"})
    return episodes


def _sample_learning(memory: GraphMemory, agent: str, ids: list[str]) -> None:
    seed, sleep = "run the test in isolation with a fixed random seed", "add a sleep before the assertion"
    for task, strategy, ok, turns in [("test_upload fails intermittently on CI", sleep, False, [4]),
                                      ("test_upload fails intermittently on CI", seed, True, [4, 6]),
                                      ("test_search fails intermittently", sleep, False, [9]),
                                      ("test_search fails intermittently", seed, True, [9, 11]),
                                      ("test_login is flaky after the upgrade", seed, True, [])]:
        result = memory.learn(agent, task, ok, strategy, task_type="flaky test", episodes=[ids[t] for t in turns],
                              error=None if ok else "still failed about one run in five")
        for note in result.notes:
            print(f"  learn: {note}")
    memory.add_preference(agent, "Maya", "answer style", "short answers with the code first",
                          source="conversation", derived_from=[ids[2]])
    print("  added a preference derived from turn D1:3")


def _locomo_turns(path: Path) -> tuple[list[dict], list[dict]]:
    """A LoCoMo conversation's turns as episodes, and three of its questions (single-hop, multi-hop, temporal)."""
    path = min(path.glob("*.json"), default=path / "*.json") if path.is_dir() else path
    conversation = locomo.load(path)
    if not conversation.turns:
        raise ValidationError("data", f"{path} holds no session_1, session_2, ... turns: not a LoCoMo conversation")
    qa = [q for q in conversation.questions if q.category != 5]
    first = [next((q for q in qa if q.category == c), None) for c in (4, 1, 2)]
    chosen = [q for q in first if q] or qa[:3]
    questions = [{"question": q.question, "answer": q.answer, "evidence": list(q.evidence)} for q in chosen]
    return conversation.episodes(), questions


def cmd_index_concepts(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        linked = memory.link_concepts()
    for label, count in linked.items():
        print(f"{label}: linked {count:,} items to their concepts")
    if not linked:
        print("nothing to do: every memory and episode with content words already mentions its concepts")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    found = (Path(__file__).resolve().parents[2] / LOCOMO_DIR, Path.cwd().parent / LOCOMO_DIR)
    data = None if args.sample else Path(args.data) if args.data else next((d for d in found if d.is_dir()), None)
    if data is not None:
        episodes, questions = _locomo_turns(data)
        print(f"demo: LoCoMo conversation from {data} ({len(episodes)} turns)")
    else:
        episodes, questions = _sample_turns(), [{"question": q} for q in SAMPLE_QUERIES]
        print(f"demo: built-in sample ({len(episodes)} turns over 2 sessions)")
    with _open(args) as memory:
        try:
            memory.get_agent(args.agent)
        except NotFoundError:
            memory.register_agent(args.agent, description="alma-graph demo")
        if {s.id for s in memory.sessions(args.agent)} & {e["session"] for e in episodes}:
            print(f"agent {args.agent!r} already holds this conversation; retrieving from it")
        else:
            started = time.perf_counter()
            ids = [e.id for e in memory.remember_many(args.agent, episodes)]
            print(f"imported {len(ids)} episodes in {time.perf_counter() - started:.1f} s")
            if data is None:
                _sample_learning(memory, args.agent, ids)
        for q in questions:
            result = memory.retrieve(q["question"], args.agent, top_k=5)
            print(f"\nretrieve {q['question']!r}" + (f"  (expected: {q['answer']})" if "answer" in q else ""))
            _print_slice(result, explain=True)
            for sid in q.get("evidence", []):
                rank = next((r for r, item in enumerate(result.items, 1) if sid in item.source_ids), None)
                print(f"  evidence {sid}: " + (f"retrieved at rank {rank}" if rank else "not in the top 5"))
        print()
        _print_stats(_stats(memory))
    print(f"\nnext: alma-graph retrieve QUERY --agent {args.agent} --explain; alma-graph show ID; alma-graph history ID")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .api.app import Settings, serve  # the web stack loads only for this command

    with _open(args) as memory:
        if not args.insecure and not memory.keys.list():
            print("note: no API keys exist yet, so every request will get 401; create one with "
                  "'alma-graph keys create --agent NAME' (stop the server first on embedded Kuzu)", file=sys.stderr)
        host = f"[{args.host}]" if ":" in args.host else args.host
        auth = "no API keys (--insecure, loopback only)" if args.insecure else "API keys required"
        print(f"serving {redact(memory.backend.url)}: GraphiQL at http://{host}:{args.port}/graphql, {auth}", file=sys.stderr)
        memory.start_webhook_delivery()  # the process holding the database delivers its outbox
        if args.consolidate_every:
            memory.start_consolidation(args.consolidate_every)
            print(f"consolidating every agent's memories every {args.consolidate_every:g} s", file=sys.stderr)
        serve(memory, args.host, args.port, Settings(insecure=args.insecure), log_level=args.log_level)
    return 0


def cmd_keys_create(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        key, token = memory.keys.create(args.agent, admin=args.admin, label=args.label or "")
    who = "admin" if key.admin else f"agent {key.agent!r}"
    print(f"API key {key.id} for {who} (shown once; send it as 'Authorization: Bearer <key>'):", file=sys.stderr)
    print(token)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        keys = memory.keys.list()
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        who = "admin" if key.admin else f"agent={key.agent}"
        print(f"{key.id}  {who:<24} {state:<24} created {key.created_at:%Y-%m-%d %H:%M}  {key.label}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        memory.keys.revoke(args.key_id)
    print(f"API key {args.key_id} revoked")
    return 0


def cmd_assets_install(args: argparse.Namespace) -> int:
    from .api import graphiql

    print(f"GraphiQL assets in {graphiql.install_assets(args.dir)}")
    return 0


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alma-graph", description="Graph-native memory for AI agents.")
    common = argparse.ArgumentParser(add_help=False)  # the global options, also accepted after the command
    embedder = os.environ.get("ALMA_GRAPH_EMBEDDER") or "local"
    for p, top in ((parser, True), (common, False)):
        p.add_argument("--url", default=None if top else argparse.SUPPRESS,
                       help=f"database URL (default: $ALMA_GRAPH_URL or {default_url()})")
        p.add_argument("--embedder", default=embedder if top else argparse.SUPPRESS,
                       help="local, hashing[:dim] or openai[:model] (default: $ALMA_GRAPH_EMBEDDER or local)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def flags(p: argparse.ArgumentParser, *pairs: tuple[str, str]) -> argparse.ArgumentParser:
        for flag, help in pairs:
            p.add_argument(flag, action="store_true", help=help)
        return p

    def command(parent, name: str, func, help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help, description=help)
        p.set_defaults(func=func)
        return p

    agent = sub.add_parser("agent", help="create and list agents").add_subparsers(dest="action", required=True)
    p = command(agent, "add", cmd_agent_add, "create an agent, or update its scope")
    p.add_argument("name")
    p.add_argument("--can-learn", nargs="+", metavar="TYPE", help="memory types it may write (default: all)")
    p.add_argument("--cannot-learn", nargs="+", metavar="TYPE", help="memory types it may not write")
    p.add_argument("--share-with", nargs="+", metavar="AGENT", help="agents that may read its memories")
    p.add_argument("--inherit-from", nargs="+", metavar="AGENT", help="agents whose memories it reads")
    p.add_argument("--description")
    command(agent, "list", cmd_agent_list, "list agents and their scopes")

    p = command(sub, "import", cmd_import, "import episodes from a JSONL file (- for stdin)")
    p.add_argument("file", metavar="FILE.jsonl")
    p.add_argument("--agent", required=True)
    p.add_argument("--batch-size", type=_positive, default=500)
    flags(p, ("--create-agent", "create the agent if it does not exist"), ("--quiet", "no progress bar"))

    p = command(sub, "retrieve", cmd_retrieve, "the memories and episodes most useful for a query")
    p.add_argument("query")
    p.add_argument("--agent", required=True)
    p.add_argument("--top-k", type=_positive, default=10)
    p.add_argument("--types", nargs="+", metavar="TYPE", help="Episode and/or memory types")
    for bound in ("since", "until"):
        p.add_argument(f"--{bound}", metavar="ISO", help=f"only items {bound} this time (ISO-8601)")
    p.add_argument("--when", metavar="PHRASE", help='only items of this time: "last week", "in March", "2 days ago"')
    p.add_argument("--reference", metavar="ISO", help="the time --when is read at (default: --as-of, else now)")
    p.add_argument("--as-of", metavar="ISO", help="what held and was known at this past moment (ISO-8601)")
    flags(p, ("--json", "print the MemorySlice as JSON"), ("--explain", "show how each score was made"))

    for name, func, help in (("show", cmd_show, "one memory or episode"),
                             ("history", cmd_history, "a memory's provenance chain")):
        flags(command(sub, name, func, help), ("--json", "print JSON")).add_argument("id")
    flags(command(sub, "stats", cmd_stats, "node and edge counts, index status"), ("--json", "print JSON"))
    index = sub.add_parser("index", help="search indexes").add_subparsers(dest="action", required=True)
    command(index, "refresh", cmd_index_refresh, "build vector indexes for tables that have outgrown exact search")
    command(index, "concepts", cmd_index_concepts,
            "link memories and episodes stored before concepts existed to their concepts")

    p = command(sub, "serve", cmd_serve, "serve the GraphQL API (GraphiQL at /graphql)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    flags(p, ("--insecure", "no API keys: every request acts as admin (binds to loopback only)"))
    p.add_argument("--consolidate-every", type=cli_consolidate.duration, metavar="DURATION",
                   help="also consolidate every agent's memories this often (e.g. 1h, 30m)")

    keys = sub.add_parser("keys", help="API keys for the GraphQL API").add_subparsers(dest="action", required=True)
    p = command(keys, "create", cmd_keys_create, "issue a key that acts as an agent (or, --admin, as any)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--agent", help="the agent the key acts as")
    who.add_argument("--admin", action="store_true", help="a key that may act as any agent and register agents")
    p.add_argument("--label", help="a note on what the key is for")
    command(keys, "list", cmd_keys_list, "list keys (never their secrets)")
    command(keys, "revoke", cmd_keys_revoke, "revoke a key").add_argument("key_id")

    cli_webhooks.register(sub, command)
    cli_consolidate.register(sub, command)

    assets = sub.add_parser("assets", help="GraphiQL's web assets").add_subparsers(dest="action", required=True)
    p = command(assets, "install", cmd_assets_install, "download GraphiQL, React and React DOM from the npm registry")
    p.add_argument("--dir", help="where to put them (default: $ALMA_GRAPH_ASSETS or the user cache)")

    p = command(sub, "demo", cmd_demo, "import a sample conversation, retrieve from it, explain")
    p.add_argument("--agent", default="demo")
    p.add_argument("--data", metavar="PATH", help="a LoCoMo conversation file or folder")
    flags(p, ("--sample", "use the built-in sample even when LoCoMo data is found"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except AlmaGraphError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, DatabaseLockedError) else 2
    except BrokenPipeError:  # the reader went away (| head): not an error, and nothing more to print
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # an unreadable import or demo file
        print(f"error: cannot read {exc.filename}: {exc.strerror}" if exc.filename else f"error: {exc}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
