"""Posts held while their account needs reconnecting, and what happens when it is reconnected.

When a platform refuses an account's token and refreshing it fails, the account is marked ``reconnect`` and each
of its due deliveries is *held* (not failed, not lost). The post's conversation hears why, with a Reconnect button,
and the account's owner (who connected it; the admins when nobody is known) is told once. When an admin connects
the account again, :func:`release` sends the held deliveries: those still within the grace window late, the rest
reported missed with Publish now / Reschedule, as a post missed while Herald was down.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from handlers import audit
from handlers.context import Services
from handlers.messages import Button, Reply
from handlers.notices import direct
from handlers.ports import Notifier
from handlers.publishing import delivery
from handlers.publishing.delivery import Claimed
from handlers.text.platforms import platform
from models import accounts
from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, Move, move_deliveries
from models.members import ADMIN_ROLE, ChatIdentity, Member
from models.posts import Delivery

log = structlog.get_logger(__name__)


def reconnect_button(account: SocialAccount | Claimed) -> Button:
    name = account.platform
    return Button("Reconnect", f"/account connect {name}", "primary")


async def park(claimed: Claimed, *, reason: str, notifier: Notifier | None) -> bool:
    """Hold a claimed delivery whose account the platform refuses; tell the post's conversation and, the first
    time, the account's owner. False when the claim was no longer current (someone else moved it)."""
    if not await move_deliveries(Move.PARK, delivery.still_ours(claimed), last_error=reason):
        log.warning("delivery.stale_result", post_id=claimed.post_id, delivery_id=claimed.delivery_id, outcome="held")
        return False
    first = await accounts.needs_reconnect(claimed.account_id, reason)
    await audit.record("delivery.held", post_id=claimed.post_id, account=claimed.handle, error=reason)
    log.warning("delivery.held", post_id=claimed.post_id, delivery_id=claimed.delivery_id, account=claimed.handle)
    label = platform(claimed.platform).label
    text = (
        f"{claimed.subject} is held for {claimed.handle} ({label}): {reason} "
        f"It goes out as soon as an admin reconnects {claimed.handle}."
    )
    reply = Reply(
        text=text,
        buttons=(reconnect_button(claimed),),
        post_id=claimed.post_id,
        kind="report",
        mentions=claimed.mentions,
    )
    if notifier is not None and claimed.origin is not None:
        try:
            await notifier.notify(claimed.origin, reply)
        except Exception:
            log.exception("notice.failed", post_id=claimed.post_id)
    if notifier is not None:
        await delivery.tell_other_chats(notifier, claimed, reply)
    if first and notifier is not None:
        await tell_owner(claimed.account_id, notifier, reason=reason)
    return True


async def tell_owner(account_id: int, notifier: Notifier, *, reason: str) -> None:
    """Tell whoever connected the account (the admins when nobody is known) that it needs reconnecting."""
    account = await SocialAccount.get(id=account_id)
    owners: list[Member] = []
    if account.connected_by_id is not None:  # type: ignore[attr-defined]
        owners = await Member.filter(id=account.connected_by_id)  # type: ignore[attr-defined]
    if not owners:
        owners = await Member.filter(roles__role=ADMIN_ROLE).distinct()
    label = platform(account.platform).label
    reply = Reply(
        text=f"The {label} account {account.handle} needs reconnecting: {reason} "
        f"Posts to it are held until then; reconnect it with /account connect {account.platform}.",
        buttons=(reconnect_button(account),),
        kind="report",
    )
    for owner in owners:
        for identity in await ChatIdentity.filter(member_id=owner.id):
            try:
                await notifier.notify(direct(identity.adapter, identity.external_id), reply)
            except Exception:
                log.exception("notice.failed", member=owner.name, adapter=identity.adapter)


async def release(account_id: int, services: Services) -> tuple[int, int]:
    """The account works again: its held deliveries go out now if still within the grace window, the others are
    reported missed. Returns (sent, missed)."""
    now: datetime = services.clock.now()
    held = await Delivery.filter(account_id=account_id, state=DeliveryState.HELD.value).only("id", "due_at")
    late = [d.id for d in held if d.due_at is None or now - d.due_at <= services.missed_grace]
    gone = [d.id for d in held if d.id not in late]
    sent = await move_deliveries(Move.UNPARK, {"id__in": late}, due_at=now, last_error=None) if late else 0
    if sent:
        await services.scheduler.scheduled(now)
    missed = await move_deliveries(Move.MISS, {"id__in": gone}) if gone else 0
    if missed:
        account = await SocialAccount.get(id=account_id)
        await delivery.missed(
            gone,
            notifier=services.notifier,
            grace=services.missed_grace,
            because=f"{account.handle} needed reconnecting until now",
        )
    log.info("account.released", account_id=account_id, sent=sent, missed=missed)
    return sent, missed
