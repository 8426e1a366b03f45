"""Recording what happened when a delivery was published, and telling the conversation.

The worker (``tasks/``) claims a delivery here, calls the platform, and reports the outcome here;
this module owns the database side and the wording, so every chat reads the same sentences. Once a
post's deliveries have settled, its approval card is shown again wherever it is shown, with the outcome per
target (:func:`refresh_cards`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.admin.members import mentions
from handlers.drafting.views import approval_card, card_ref
from handlers.messages import Button, Conversation, Mention, Reply
from handlers.ports import Notifier
from handlers.text.platforms import platform
from models import crypto, hotpath
from models.chatrefs import ChatMessageRef
from models.errors import InvalidTransition
from models.lifecycle import DELIVERY_FINAL, TERMINAL, Action, DeliveryState, Move, PostState, advance, move_deliveries
from models.posts import Delivery, Post

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Claimed:
    """Everything a publisher needs about one claimed delivery."""

    delivery_id: int
    post_id: int
    attempt: int
    platform: str
    handle: str
    credentials: str | None
    text: str
    media: tuple[str, ...]
    idempotency_key: str
    origin: Conversation | None
    siblings: int = 1  # deliveries of the same post (1: the post settles with this one)
    worker: str | None = None  # who holds the claim; a result from anyone else is stale
    author: Mention | None = None  # the post's author, named in the report so they are told
    account_id: int = 0
    account_status: str = "ok"  # "reconnect": the platform refuses the account; don't call it

    @property
    def subject(self) -> str:
        """``Post 12 by @alice``: how a report starts."""
        return f"Post {self.post_id}" + (f" by {self.author.token}" if self.author else "")

    @property
    def mentions(self) -> tuple[Mention, ...]:
        return (self.author,) if self.author else ()


async def claim_many(delivery_ids: list[int], *, worker: str, now: datetime) -> list[Claimed | None]:
    """Move each delivery from queued to publishing (one statement on PostgreSQL); for each, in order, what
    the publisher needs, or None if someone else has it, it is not due, or its post can't go out now.

    This conditional UPDATE is the only gate before a platform call: a redelivered or duplicated
    queue message (or the same delivery twice in one batch) finds the row already claimed and does nothing.
    """
    if hotpath.available():
        return await _claim_fast(delivery_ids, worker=worker, now=now)
    return [await _claim_orm(delivery_id, worker=worker, now=now) for delivery_id in delivery_ids]


async def _claim_orm(delivery_id: int, *, worker: str, now: datetime) -> Claimed | None:
    changed = await move_deliveries(
        Move.CLAIM, {"id": delivery_id}, claimed_by=worker, claimed_at=now, attempts=F("attempts") + 1
    )
    if changed != 1:
        return None
    claimed = await load(delivery_id)
    try:
        await advance(claimed.post_id, Action.START_PUBLISH)
    except InvalidTransition:
        await _withdraw_claim(delivery_id, claimed.post_id)
        return None
    return claimed


async def _claim_fast(delivery_ids: list[int], *, worker: str, now: datetime) -> list[Claimed | None]:
    rows = {int(row["id"]): row for row in await hotpath.claim(delivery_ids, worker, now)}
    out: list[Claimed | None] = []
    for delivery_id in delivery_ids:
        row = rows.pop(delivery_id, None)  # a duplicate message in the same batch gets nothing
        if row is not None and not row["started"]:
            await _withdraw_claim(delivery_id, int(row["post_id"]))
            row = None
        out.append(None if row is None else _claimed(row, worker))
    return out


def _claimed(row: dict[str, Any], worker: str) -> Claimed:
    credentials = row["credentials"]
    return Claimed(
        delivery_id=int(row["id"]),
        post_id=int(row["post_id"]),
        attempt=int(row["attempts"]),
        platform=str(row["platform"]),
        handle=str(row["handle"]),
        credentials=crypto.decrypt(credentials) if credentials else None,
        text=str(row["text"]),
        media=tuple(row["media"] or ()),
        idempotency_key=str(row["idempotency_key"]),
        origin=Conversation.from_json(row["origin"]) if row["origin"] else None,
        siblings=int(row["siblings"]),
        worker=worker,
        author=Mention(str(row["author"]), tuple((str(a), str(i)) for a, i in row["author_chats"] or ()))
        if row.get("author")
        else None,
        account_id=int(row["account_id"]),
        account_status=str(row["account_status"]),
    )


async def _withdraw_claim(delivery_id: int, post_id: int) -> None:
    """The post changed after this delivery was queued (cancelled, or back under approval)."""
    current = PostState((await Post.get(id=post_id)).state)
    back = DeliveryState.CANCELLED if current in TERMINAL else DeliveryState.WAITING
    await move_deliveries(Move.UNCLAIM, {"id": delivery_id}, to=back)
    log.info("delivery.claim_withdrawn", post_id=post_id, delivery_id=delivery_id, post_state=current.value)


async def load(delivery_id: int) -> Claimed:
    delivery = await Delivery.get(id=delivery_id).prefetch_related("account", "post", "post__author")
    post = delivery.post
    return Claimed(
        delivery_id=delivery.id,
        post_id=post.id,
        attempt=delivery.attempts,
        platform=delivery.account.platform,
        handle=delivery.account.handle,
        credentials=delivery.account.credentials,
        text=post.text,
        media=tuple(post.media or ()),
        idempotency_key=delivery.idempotency_key,
        origin=Conversation.from_json(post.origin) if post.origin else None,
        siblings=await Delivery.filter(post_id=post.id).count(),
        worker=delivery.claimed_by,
        author=(await mentions([post.author]))[0],
        account_id=delivery.account.id,
        account_status=delivery.account.status,
    )


async def abandoned(delivery_id: int, *, notifier: Notifier | None, now: datetime) -> None:
    """A worker claimed the delivery and died: the platform may have it. Without an idempotency key
    we can't safely send again, so a human decides (verify or republish)."""
    claimed = await load(delivery_id)
    reason = "The worker publishing it stopped before the platform answered."
    reply = await failed(claimed, reason=reason, unknown=True)
    if reply is not None:
        await tell(notifier, claimed, reply, [delivery_id], now=now)


async def missed(
    delivery_ids: list[int], *, notifier: Notifier | None, grace: timedelta, because: str | None = None
) -> None:
    """Deliveries that came due while Herald was down, beyond the grace window: tell the author."""
    posts: dict[int, list[Claimed]] = {}
    for delivery_id in delivery_ids:
        claimed = await load(delivery_id)
        posts.setdefault(claimed.post_id, []).append(claimed)
    for post_id, claims in posts.items():
        await audit.record("delivery.missed", post_id=post_id, accounts=[c.handle for c in claims])
        post = await Post.get(id=post_id)
        open_ = await Delivery.filter(
            post_id=post_id,
            state__in=[
                DeliveryState.SCHEDULED.value,
                DeliveryState.QUEUED.value,
                DeliveryState.PUBLISHING.value,
                DeliveryState.HELD.value,
            ],
        ).exists()
        if not open_:
            try:
                state = await advance(post_id, Action.MISS)
                await audit.record("post.missed", post_id=post_id, state=state.value, version=post.version)
            except InvalidTransition:
                await _settle(post_id)
        minutes = int(grace.total_seconds() // 60)
        herald_down = f"Herald wasn't running then (more than {minutes} min ago)"
        rows = await Delivery.filter(id__in=[c.delivery_id for c in claims]).only("due_at")
        dues = [r.due_at for r in rows if r.due_at is not None]
        when = min(dues).strftime("%Y-%m-%d %H:%M UTC") if dues else "earlier"
        text = (
            f"{claims[0].subject} was due {when} but {because or herald_down}, so it "
            f"was not sent to {', '.join(c.handle for c in claims)}. Publish it now or pick a new time."
        )
        buttons = (
            Button("Publish now", f"/publish {post_id}", "primary"),
            Button("Reschedule", f"/schedule {post_id}", ask="when"),
        )
        reply = Reply(text=text, buttons=buttons, post_id=post_id, kind="report", mentions=claims[0].mentions)
        await tell(notifier, claims[0], reply, [c.delivery_id for c in claims], now=datetime.now(UTC))


def still_ours(claimed: Claimed) -> dict[str, Any]:
    """The delivery, if the claim this result belongs to is still the current one (every move out of
    publishing starts from there)."""
    return {"id": claimed.delivery_id, "claimed_by": claimed.worker}


def _stale(claimed: Claimed, outcome: str) -> None:
    # The reconciler judged this claim dead and moved the delivery on (retried it, or asked a
    # human); the newer path reports. Recording this late result too would tell the chat twice.
    log.warning("delivery.stale_result", post_id=claimed.post_id, delivery_id=claimed.delivery_id, outcome=outcome)


@dataclass(frozen=True)
class Outcome:
    """A platform's yes for one claimed delivery, to be recorded."""

    claimed: Claimed
    external_id: str
    url: str


async def published(outcomes: list[Outcome], *, now: datetime) -> list[Reply | None]:
    """Record publishes (one statement for all single-delivery posts on PostgreSQL); for each, the
    report to tell, or None when its claim was no longer current (someone else reports)."""
    fast = [o for o in outcomes if o.claimed.siblings == 1] if hotpath.available() else []
    recorded = await hotpath.record_published(
        [
            hotpath.Publish(
                delivery_id=o.claimed.delivery_id,
                external_id=o.external_id,
                url=o.url,
                detail={"account": o.claimed.handle, "url": o.url},
                worker=o.claimed.worker or "",
            )
            for o in fast
        ],
        now,
    )
    fast_ids = {id(o) for o in fast}
    replies: list[Reply | None] = []
    for outcome in outcomes:
        if id(outcome) in fast_ids:
            ok = outcome.claimed.delivery_id in recorded
        else:
            ok = await _record_published_orm(outcome, now=now)
        if not ok:
            _stale(outcome.claimed, "published")
        replies.append(report_published(outcome.claimed, outcome.url) if ok else None)
    return replies


async def _record_published_orm(outcome: Outcome, *, now: datetime) -> bool:
    claimed = outcome.claimed
    async with in_transaction():  # all or nothing, so a retry after a lost connection is exact
        changed = await move_deliveries(
            Move.PUBLISH,
            still_ours(claimed),
            external_id=outcome.external_id,
            url=outcome.url,
            published_at=now,
            last_error=None,
        )
        if not changed:
            return False
        await audit.record(
            "delivery.published", post_id=claimed.post_id, state=None, account=claimed.handle, url=outcome.url
        )
        await _settle(claimed.post_id)
    return True


async def failed(claimed: Claimed, *, reason: str, unknown: bool = False) -> Reply | None:
    """Record a failure that will not be retried (``unknown`` when the request may have gone through);
    the report to tell, or None when the claim was no longer current."""
    state = DeliveryState.UNKNOWN if unknown else DeliveryState.FAILED
    async with in_transaction():  # all or nothing, so a retry after a lost connection is exact
        if not await move_deliveries(Move.LOSE if unknown else Move.FAIL, still_ours(claimed), last_error=reason):
            _stale(claimed, state.value)
            return None
        await audit.record(f"delivery.{state.value}", post_id=claimed.post_id, account=claimed.handle, error=reason)
        await _settle(claimed.post_id)
    log.warning(
        f"delivery.{state.value}",
        post_id=claimed.post_id,
        delivery_id=claimed.delivery_id,
        account=claimed.handle,
        reason=reason,
    )
    return report_failed(claimed, reason, unknown=unknown)


async def retry_later(claimed: Claimed, *, reason: str, at: datetime, counts: bool = True) -> None:
    """A transient failure: put the delivery back on the schedule for ``at``. ``counts``: False when the
    platform itself said when (a rate limit's reset, a quota), which is no failed attempt."""
    changes: dict[str, Any] = {"due_at": at, "last_error": reason}
    if not counts:
        changes["attempts"] = F("attempts") - 1
    if not await move_deliveries(Move.RETRY_LATER, still_ours(claimed), **changes):
        return _stale(claimed, "retry")
    log.info(
        "delivery.retry_scheduled",
        post_id=claimed.post_id,
        delivery_id=claimed.delivery_id,
        attempt=claimed.attempt,
        at=at.isoformat(),
        reason=reason,
    )


async def _settle(post_id: int) -> None:
    """When every delivery of the post is final, the post becomes published or failed."""
    async with in_transaction():
        post = await Post.select_for_update().get(id=post_id)
        states = set(await Delivery.filter(post_id=post_id).values_list("state", flat=True))
        if post.lifecycle_state != PostState.PUBLISHING or not states <= {s.value for s in DELIVERY_FINAL}:
            return
        ok = states <= {DeliveryState.PUBLISHED.value, DeliveryState.CANCELLED.value}
        action = Action.FINISH_PUBLISHED if ok else Action.FINISH_FAILED
        new_state = await advance(post_id, action)
        await audit.record(f"post.{new_state.value}", post_id=post_id, state=new_state.value, version=post.version)


async def tell(
    notifier: Notifier | None, claimed: Claimed, reply: Reply, delivery_ids: list[int], *, now: datetime
) -> bool:
    """Tell the post's conversation and mark the deliveries reported.

    A chat reached through the database (the outbox) is written in the same transaction as the mark,
    so it is told exactly once; any other chat is told first and marked after, so a crash in between
    tells it again rather than never. If telling fails, the deliveries stay unreported and
    :func:`report_stragglers` tells them later.
    """
    if notifier is None:
        return False
    try:
        if claimed.origin is None or writes_to_database(notifier, claimed.origin):
            await tell_in_database(notifier, [(claimed, reply)], now=now, delivery_ids=delivery_ids)
            await tell_other_chats(notifier, claimed, reply)
            return True
        await notifier.notify(claimed.origin, reply)
        await mark_reported(delivery_ids, now=now)
    except Exception:  # a chat outage must not undo a publish that happened
        log.exception("notify.failed", post_id=claimed.post_id, delivery_id=claimed.delivery_id)
        return False
    await tell_other_chats(notifier, claimed, reply)
    await refresh_cards(notifier, [claimed.post_id])
    return True


async def shown_elsewhere(post_ids: list[int]) -> list[list[Conversation]]:
    """For each of ``post_ids``, one conversation per chat showing its approval card (the oldest there), for
    :func:`tell_elsewhere`. One query for all of them; a post without a card costs nothing more."""
    if not post_ids:
        return []
    refs = {card_ref(post_id): post_id for post_id in post_ids}
    rows = await ChatMessageRef.filter(ref__in=list(refs)).order_by("id").values_list("ref", "adapter", "channel")
    found: dict[int, dict[str, Conversation]] = {}
    for ref, adapter, channel in rows:
        found.setdefault(refs[str(ref)], {}).setdefault(str(adapter), Conversation(str(adapter), str(channel)))
    return [list(found.get(post_id, {}).values()) for post_id in post_ids]


async def tell_other_chats(notifier: Notifier, claimed: Claimed, reply: Reply) -> None:
    """:func:`tell_elsewhere` for one report told on its own (a hold, a postponement); never raises."""
    try:
        shown = (await shown_elsewhere([claimed.post_id]))[0]
    except Exception:
        log.exception("notify.failed", post_id=claimed.post_id)
        return
    await tell_elsewhere(notifier, claimed, reply, shown)


async def tell_elsewhere(notifier: Notifier, claimed: Claimed, reply: Reply, shown: list[Conversation]) -> None:
    """Tell ``reply`` in the chats other than the origin's that show the post's card (``shown``, from
    :func:`shown_elsewhere`): a post drafted in Slack and decided in Telegram is reported in both.

    One conversation per chat: a report told in one conversation of a chat is that chat's adapter's to show
    under the card in its other conversations (:class:`~handlers.ports.Notifier`), as it does for the origin.
    The origin's report and its mark come first; these are best effort (logged, never raised), and are not
    told again by the straggler pass.
    """
    here = claimed.origin.adapter if claimed.origin is not None else None
    for conversation in shown:
        if conversation.adapter == here:
            continue
        try:
            await notifier.notify(conversation, reply)
        except Exception:  # the other chats still get it
            log.exception("notify.failed", post_id=claimed.post_id, adapter=conversation.adapter)


#: A post in one of these states has no delivery still under way: its card can say how each target fared.
SETTLED = [PostState.PUBLISHED.value, PostState.FAILED.value, PostState.MISSED.value]


async def refresh_cards(notifier: Notifier | None, post_ids: list[int]) -> None:
    """Show each settled post of ``post_ids`` on its approval card, edited in place in every conversation
    showing it (those remembered in :class:`~models.chatrefs.ChatMessageRef`): published with the link, or
    the reason and the buttons, per target.

    Called after outcomes are told, with the posts of many reports at once (a worker's relay groups them):
    one query finds which of them show a card anywhere (posts created without a chat, as a script's or a
    benchmark's, have none and cost nothing more), two more which of those have settled with every outcome
    told: a post with a delivery still under way, or another outcome still being told, keeps its card until
    its last report, so a post's card changes once however many targets it has. Never raises: a card that
    can't be shown is logged, and the report in the thread still says what happened.
    """
    if notifier is None or not post_ids:
        return
    try:
        refs = {card_ref(post_id): post_id for post_id in post_ids}
        shown: dict[int, list[Conversation]] = {}
        rows = await ChatMessageRef.filter(ref__in=list(refs)).order_by("id").values_list("ref", "adapter", "channel")
        for ref, adapter, channel in rows:
            shown.setdefault(refs[str(ref)], []).append(Conversation(str(adapter), str(channel)))
        posts = await Post.filter(id__in=list(shown), state__in=SETTLED).order_by("id") if shown else []
        if posts:  # a post whose other outcomes are still being told waits for the last of them
            rows_untold = await Delivery.filter(
                post_id__in=[p.id for p in posts], state__in=REPORTED_STATES, reported_at__isnull=True
            ).values("post_id")
            untold = {int(row["post_id"]) for row in rows_untold}
            posts = [p for p in posts if p.id not in untold]
    except Exception:
        log.exception("card.refresh_failed", post_ids=post_ids[:20])
        return
    for post in posts:
        try:
            card = await approval_card(post)
        except Exception:
            log.exception("card.refresh_failed", post_id=post.id)
            continue
        for conversation in shown[post.id]:
            try:
                await notifier.notify(conversation, card)
            except Exception:  # the other conversations still get it
                log.exception("card.refresh_failed", post_id=post.id, adapter=conversation.adapter)
        log.info("card.refreshed", post_id=post.id, state=post.state, conversations=len(shown[post.id]))


async def tell_in_database(
    notifier: Notifier, told: list[tuple[Claimed, Reply]], *, now: datetime, delivery_ids: list[int] | None = None
) -> None:
    """Tell several outcomes through a notifier that writes rows (the outbox), with their marks and the cards
    they settle (:func:`refresh_cards`), in one transaction: all told exactly once, or none (left for
    :func:`report_stragglers`), and whoever reads the report reads the card with it. The deliveries marked
    are the told ones unless ``delivery_ids`` says otherwise (one report for several)."""
    async with in_transaction():
        for claimed, reply in told:
            if claimed.origin is not None:
                await notifier.notify(claimed.origin, reply)
        await mark_reported(delivery_ids or [claimed.delivery_id for claimed, _ in told], now=now)
        await refresh_cards(notifier, [claimed.post_id for claimed, _ in told])


def writes_to_database(notifier: Notifier, conversation: Conversation) -> bool:
    """Whether ``notifier`` reaches ``conversation`` by writing rows (so it can join a transaction)."""
    check = getattr(notifier, "writes_to_database", None)
    return bool(check(conversation)) if check is not None else False


async def still_telling(delivery_ids: list[int], *, now: datetime) -> None:
    """A live worker is still telling these outcomes: keep them out of :func:`report_stragglers`."""
    if hotpath.available():
        return await hotpath.touch_unreported(delivery_ids, now)
    await Delivery.filter(id__in=delivery_ids, reported_at__isnull=True).update(updated_at=now)


async def mark_reported(delivery_ids: list[int], *, now: datetime) -> None:
    if hotpath.available():
        return await hotpath.mark_reported(delivery_ids, now)
    await Delivery.filter(id__in=delivery_ids, reported_at__isnull=True).update(reported_at=now)


def report_published(claimed: Claimed, url: str) -> Reply:
    label = platform(claimed.platform).label
    return Reply(
        text=f"{claimed.subject} published to {claimed.handle} ({label}): {url}",
        post_id=claimed.post_id,
        kind="report",
        mentions=claimed.mentions,
    )


def report_failed(claimed: Claimed, reason: str, *, unknown: bool) -> Reply:
    label = platform(claimed.platform).label
    buttons: tuple[Button, ...]
    if unknown:
        text = (
            f"{claimed.subject} may or may not have reached {claimed.handle} ({label}): {reason} "
            "Check the account, then choose."
        )
        buttons = (
            Button("Verify", f"/verify {claimed.delivery_id}"),
            Button("Republish", f"/republish {claimed.delivery_id}", "danger"),
        )
    else:
        text = f"{claimed.subject} failed on {claimed.handle} ({label}): {reason}"
        buttons = (Button("Retry", f"/retry {claimed.post_id}"),)
    return Reply(text=text, buttons=buttons, post_id=claimed.post_id, kind="report", mentions=claimed.mentions)


REPORTED_STATES = [DeliveryState.PUBLISHED.value, DeliveryState.FAILED.value, DeliveryState.UNKNOWN.value]


async def report_stragglers(*, notifier: Notifier | None, now: datetime, older_than: timedelta, batch: int) -> int:
    """Tell outcomes that were recorded but never told (the worker died in between)."""
    cutoff = now - older_than
    told = 0
    rows = (
        await Delivery.filter(reported_at__isnull=True, state__in=REPORTED_STATES, updated_at__lt=cutoff)
        .limit(batch)
        .only("id")
    )
    for row in rows:
        async with in_transaction():
            locked = (
                await Delivery.filter(id=row.id, reported_at__isnull=True).select_for_update(skip_locked=True).first()
            )
            if locked is None:
                continue
            claimed = await load(row.id)
            if locked.state == DeliveryState.PUBLISHED.value:
                reply = report_published(claimed, locked.url or "")
            else:
                reply = report_failed(claimed, locked.last_error or "", unknown=locked.state == DeliveryState.UNKNOWN)
            log.warning("report.late", post_id=claimed.post_id, delivery_id=row.id)
            if await tell(notifier, claimed, reply, [row.id], now=now):
                told += 1
    return told
