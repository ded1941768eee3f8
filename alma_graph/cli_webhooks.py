"""`alma-graph webhooks ...`: configure endpoints, see their state, and run delivery alone.

On embedded Kuzu one process holds the database: while `alma-graph serve` runs (and delivers),
stop it before using these commands, or use the GraphQL mutations instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

from .client import GraphMemory
from .events import EVENT_TYPES
from .services.webhook_dispatch import DeliverySettings, WebhookDispatcher
from .services.webhooks import Webhook


def _open(args: argparse.Namespace) -> GraphMemory:
    return GraphMemory(args.url, embedder=args.embedder)


def cmd_add(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        hook, secret = memory.webhooks.add(args.url_to_call, args.events, secret=args.secret)
    print(f"webhook {hook.id} for {', '.join(hook.events)} -> {hook.url}", file=sys.stderr)
    if args.secret is None:
        print("its signing secret (shown once; verify X-Alma-Signature with it):", file=sys.stderr)
        print(secret)
    return 0


def _as_json(hook: Webhook) -> dict:
    data = {k: getattr(hook, k) for k in hook.__dataclass_fields__}
    return {k: value.isoformat() if hasattr(value, "isoformat") else value for k, value in data.items()}


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        hooks = memory.webhooks.list()
    if args.json:
        print(json.dumps([_as_json(h) for h in hooks], indent=2))
        return 0
    if not hooks:
        print("no webhooks yet: add one with 'alma-graph webhooks add URL --events memory.created'", file=sys.stderr)
    for h in hooks:
        print(f"{h.id}  {h.status:<7} {h.url}\n    events {', '.join(h.events)}; pending {h.pending}, "
              f"failed {h.failed}, delivered {h.delivered}"
              + (f"; last delivered {h.last_delivered_at:%Y-%m-%d %H:%M:%S}" if h.last_delivered_at else ""))
        if h.last_error:
            failed = f"failed {h.failed_at:%Y-%m-%d %H:%M:%S}: " if h.failed_at else ""
            print(f"    {failed}last error: {h.last_error}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        memory.webhooks.remove(args.webhook_id)
    print(f"webhook {args.webhook_id} removed, with the deliveries it was still owed")
    return 0


def cmd_enable(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        hook = memory.webhooks.enable(args.webhook_id)
    print(f"webhook {hook.id} active again; {hook.pending} deliveries waiting will be sent")
    return 0


def cmd_deliver(args: argparse.Namespace) -> int:
    with _open(args) as memory:
        if args.once:
            dispatcher = WebhookDispatcher(memory.webhooks, DeliverySettings.from_env())
            try:
                sent = dispatcher.deliver_until_idle()
            finally:
                dispatcher.stop()
            pending = sum(h.pending for h in memory.webhooks.list())
            print(f"made {sent} delivery attempts; {pending} deliveries still pending")
            return 0
        memory.start_webhook_delivery()
        print("delivering webhooks; Ctrl-C to stop", file=sys.stderr)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def register(sub: argparse._SubParsersAction, command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `webhooks` commands to the main parser (`command` makes one subcommand)."""
    hooks = sub.add_parser("webhooks", help="HTTP webhooks for memory events").add_subparsers(
        dest="action", required=True)
    p = command(hooks, "add", cmd_add, "call a URL on memory events (signed with a secret)")
    p.add_argument("url_to_call", metavar="URL")
    p.add_argument("--events", nargs="+", metavar="TYPE", choices=EVENT_TYPES,
                   help=f"event types to send (default: all: {', '.join(EVENT_TYPES)})")
    p.add_argument("--secret", help="the signing secret (default: a generated one, printed once)")
    p = command(hooks, "list", cmd_list, "list webhooks: status, pending and failed deliveries, last error")
    p.add_argument("--json", action="store_true", help="print JSON")
    command(hooks, "remove", cmd_remove, "remove a webhook and what it is still owed").add_argument("webhook_id")
    command(hooks, "enable", cmd_enable, "re-enable a failed webhook; its waiting deliveries resume") \
        .add_argument("webhook_id")
    p = command(hooks, "deliver", cmd_deliver, "send due deliveries (alma-graph serve does this itself)")
    p.add_argument("--once", action="store_true", help="send what is due, then exit (for cron)")
