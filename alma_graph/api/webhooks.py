"""GraphQL for webhooks (admin keys only): the `webhooks` query and the add/remove/enable
mutations, thin over services/webhooks.py. A webhook's secret is returned once, by addWebhook."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from ..services import webhooks as service
from .types import EventType, Info


@strawberry.enum
class WebhookStatus(Enum):
    ACTIVE = service.ACTIVE
    FAILED = service.FAILED


@strawberry.type(description="An HTTP endpoint called on memory events; its secret is never shown again.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[EventType]
    status: WebhookStatus
    created_at: datetime
    pending: int = strawberry.field(description="Deliveries waiting to be sent.")
    failed: int = strawberry.field(description="Deliveries that made it fail; sent again once enabled.")
    delivered: int
    last_delivered_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


@strawberry.type
class NewWebhook:
    webhook: Webhook
    secret: str = strawberry.field(description="The signing secret: shown this once, keep it with the receiver.")


def to_webhook(h: service.Webhook) -> Webhook:
    return Webhook(id=strawberry.ID(h.id), url=h.url, events=[EventType(t) for t in h.events],
                   status=WebhookStatus(h.status), created_at=h.created_at, pending=h.pending, failed=h.failed,
                   delivered=h.delivered, last_delivered_at=h.last_delivered_at, failed_at=h.failed_at,
                   last_error=h.last_error)


async def webhooks(info: Info) -> list[Webhook]:
    ctx = info.context
    ctx.who.require_admin("webhooks")
    return [to_webhook(h) for h in await ctx.run(ctx.memory.webhooks.list)]


async def add_webhook(info: Info, url: str, events: list[EventType] | None = None,
                      secret: str | None = None) -> NewWebhook:
    ctx = info.context
    ctx.who.require_admin("addWebhook")
    hook, secret = await ctx.run(ctx.memory.webhooks.add, url, None if events is None else [e.value for e in events],
                                 secret=secret)
    return NewWebhook(webhook=to_webhook(hook), secret=secret)


async def remove_webhook(info: Info, id: strawberry.ID) -> bool:
    ctx = info.context
    ctx.who.require_admin("removeWebhook")
    await ctx.run(ctx.memory.webhooks.remove, str(id))
    return True


async def enable_webhook(info: Info, id: strawberry.ID) -> Webhook:
    ctx = info.context
    ctx.who.require_admin("enableWebhook")
    return to_webhook(await ctx.run(ctx.memory.webhooks.enable, str(id)))
