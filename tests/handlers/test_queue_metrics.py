"""/queue metrics: the last 24 hours' outcomes per platform, lateness, report lag, retries, failure reasons."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from handlers.ops import queue_metrics
from models.accounts import SocialAccount
from models.lifecycle import DeliveryState, PostState
from models.members import Member
from models.posts import Delivery, Post
from tests.auxil.chat import Chat
from tests.handlers.test_queue_status import NOW, ago, delivery, team

S = DeliveryState


def published(late: float, told: float, **fields: object) -> dict[str, object]:
    """A delivery due 10 min ago, published ``late`` s after its time, told ``told`` s after that."""
    due = ago(minutes=10)
    return {
        "due_at": due,
        "published_at": due + timedelta(seconds=late),
        "reported_at": due + timedelta(seconds=late + told),
        **fields,
    }


async def on_mastodon(**times: timedelta) -> None:
    author = await Member.get(name="alice")
    account = await SocialAccount.create(platform="mastodon", handle="toot")
    post = await Post.create(author=author, text="hi", state=PostState.PUBLISHED.value)
    await Delivery.create(
        post=post,
        account=account,
        state=S.PUBLISHED.value,
        idempotency_key=uuid.uuid4().hex,
        **{k: NOW + v for k, v in times.items()},
    )


async def test_metrics_per_platform_with_lateness_report_lag_retries_and_reasons(chat: Chat) -> None:
    await team(chat)
    for late, told in ((0.2, 0.5), (1.0, 1.5), (3.0, 30.0)):
        await delivery(S.PUBLISHED, **published(late, told))
    await delivery(S.FAILED, claimed_at=ago(minutes=5), attempts=3, last_error="Dry run said: Duplicate status.")
    await delivery(S.UNKNOWN, claimed_at=ago(minutes=30), attempts=1, last_error="Dry run didn't answer in time.")
    await delivery(S.MISSED, due_at=ago(hours=2))
    await delivery(S.PUBLISHED, **published(0.1, 0.1, published_at=ago(hours=25)))  # outside the window
    await on_mastodon(due_at=ago(minutes=1), published_at=ago(minutes=1) + timedelta(milliseconds=40))

    text = await chat.say("/queue metrics", as_="carol")

    lines = text.splitlines()
    assert lines[0].startswith("Queue metrics, last 24 h to ")
    assert lines[1:] == [
        "Dry run: 3 published, 1 failed, 1 unknown, 1 missed (50.0% did not go out); late p50 1.0 s.",
        "Mastodon: 1 published; late p50 40 ms.",
        "All platforms: 4 published, 1 failed, 1 unknown, 1 missed (42.9% did not go out); late p50 200 ms.",
        "Went out after their time: p50 200 ms, p95 3.0 s, max 3.0 s.",
        "Chat told after publishing: p50 1.5 s, p95 30.0 s, max 30.0 s.",
        "Retried: 1 of 7 took more than one attempt.",
        "Most common failures:",
        "1× Dry run said: Duplicate status.",  # ties: the newest first
        "1× Dry run didn't answer in time.",
    ]
    assert chat.last[0].ephemeral


async def test_a_quiet_day_says_so(chat: Chat) -> None:
    await team(chat)
    await delivery(S.PUBLISHED, **published(0.1, 0.1, published_at=ago(hours=30)))

    text = await chat.say("/queue metrics")  # alice: an admin

    assert text.splitlines()[1:] == ["No delivery finished in the last 24 hours."]


async def test_a_busy_day_is_read_up_to_the_cap_newest_first(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_metrics, "CAP", 3)
    await team(chat)
    for minutes in (50, 40, 30, 20):  # the oldest (50 min ago) is past the cap
        await delivery(S.PUBLISHED, due_at=ago(minutes=minutes), published_at=ago(minutes=minutes))
    await delivery(S.MISSED, due_at=ago(minutes=10))

    lines = (await chat.say("/queue metrics")).splitlines()

    assert lines[1] == "(The newest 3 outcomes; there were more.)"
    assert lines[2] == "Dry run: 2 published, 1 missed (33.3% did not go out); late p50 0 ms."
