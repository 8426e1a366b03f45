"""Failure reports and their buttons' twins: /retry, /verify, /republish; and /schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.audit import AuditEntry
from models.lifecycle import DeliveryState, PostState
from models.outbox import OutboxMessage
from models.posts import Delivery, Post
from tasks.publishers import DryRunPublisher, Publishers
from tasks.publishers.base import Publication, Published
from tasks.publishers.errors import OutcomeUnknown, PlatformDown, Rejected
from tests.auxil.chat import Chat


@dataclass
class Scripted:
    """A publisher that raises the given errors in turn, then succeeds."""

    errors: list[Exception]
    idempotent: bool = False
    calls: list[Publication] = field(default_factory=list)

    async def publish(self, publication: Publication) -> Published:
        self.calls.append(publication)
        if self.errors:
            raise self.errors.pop(0)
        return Published(external_id="42", url="https://example.invalid/42")


async def approved_post(chat: Chat, publisher: Scripted) -> None:
    chat.runtime.publishers = Publishers({}, fallback=publisher)  # type: ignore[arg-type]
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo Hello")
    await chat.say("/approve 1", as_="bob")


async def test_permanent_failure_is_reported_and_retry_publishes(chat: Chat) -> None:
    publisher = Scripted([Rejected("Fake said: Validation failed: duplicate status.")])
    await approved_post(chat, publisher)
    report = await chat.publish_due()
    assert report == "Post 1 failed on demo (Dry run): Fake said: Validation failed: duplicate status."
    last = await OutboxMessage.all().order_by("-id").first()
    assert last is not None and last.payload["buttons"][0][:2] == ["Retry", "/retry 1"]
    assert (await Post.get(id=1)).state == PostState.FAILED
    assert await chat.publish_due() == ""  # permanent: not retried by itself

    await chat.say("/retry 1", as_="bob")
    assert chat.errors == ["Only the author of post 1 or an admin can do that."]
    assert "will be published again to 1 account(s)" in await chat.say("/retry 1")
    assert await chat.publish_due() == "Post 1 published to demo (Dry run): https://example.invalid/42"
    assert (await Post.get(id=1)).state == PostState.PUBLISHED
    assert len(publisher.calls) == 2


async def test_transient_failure_is_retried_later_with_backoff(chat: Chat) -> None:
    publisher = Scripted([PlatformDown("Fake is down.", retry_after=30)])
    await approved_post(chat, publisher)
    assert await chat.publish_due() == ""  # nothing to report yet: it will try again
    delivery = await Delivery.get(post_id=1)
    assert delivery.state == DeliveryState.SCHEDULED and delivery.last_error == "Fake is down."
    assert (delivery.due_at - chat.clock.now()).total_seconds() >= 30  # Retry-After honoured
    chat.clock.advance(seconds=29)
    assert await chat.publish_due() == ""
    chat.clock.advance(minutes=1)
    assert "published to demo" in await chat.publish_due()
    assert (await Delivery.get(post_id=1)).attempts == 2


async def test_unknown_outcome_asks_a_human_then_verify(chat: Chat) -> None:
    publisher = Scripted([OutcomeUnknown("Fake didn't answer within 10 seconds.")])
    await approved_post(chat, publisher)
    report = await chat.publish_due()
    assert report.startswith("Post 1 may or may not have reached demo (Dry run): Fake didn't answer")
    delivery = await Delivery.get(post_id=1)
    assert delivery.state == DeliveryState.UNKNOWN
    chat.clock.advance(hours=1)
    assert await chat.publish_due() == ""  # never blindly repeated
    assert len(publisher.calls) == 1
    assert "Marked post 1 as published on demo" in await chat.say(f"/verify {delivery.id} https://x.invalid/1")
    assert (await Post.get(id=1)).state == PostState.PUBLISHED
    await chat.say(f"/verify {delivery.id}")
    assert chat.errors == [f"Delivery {delivery.id} is published; only unknown outcomes need verifying."]


async def test_unknown_outcome_republish_sends_again(chat: Chat) -> None:
    publisher = Scripted([OutcomeUnknown("Fake didn't answer.")])
    await approved_post(chat, publisher)
    await chat.publish_due()
    delivery = await Delivery.get(post_id=1)
    assert "will be sent to demo again now" in await chat.say(f"/republish {delivery.id}")
    assert "published to demo" in await chat.publish_due()
    assert len(publisher.calls) == 2


async def test_idempotent_platform_retries_an_unknown_outcome_by_itself(chat: Chat) -> None:
    publisher = Scripted([OutcomeUnknown("Fake didn't answer.")], idempotent=True)
    await approved_post(chat, publisher)
    assert await chat.publish_due() == ""
    chat.clock.advance(minutes=1)
    assert "published to demo" in await chat.publish_due()
    keys = {p.idempotency_key for p in publisher.calls}
    assert len(publisher.calls) == 2 and len(keys) == 1  # the same key both times


async def test_schedule_moves_a_scheduled_post(chat: Chat) -> None:
    chat.runtime.publishers = Publishers({}, fallback=DryRunPublisher())
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at in 1h Later")
    await chat.say("/approve 1", as_="bob")
    assert "now goes out" in await chat.say("/schedule 1 in 2h")
    chat.clock.advance(hours=1, minutes=1)
    assert await chat.publish_due() == ""
    chat.clock.advance(hours=1)
    assert "published" in await chat.publish_due()
    await chat.say("/schedule 1 in 3h")
    assert chat.errors == ["Post 1 is published, so its time can't be changed."]


async def test_post_due_during_an_outage_beyond_grace_is_missed_then_published_on_request(chat: Chat) -> None:
    chat.runtime.publishers = Publishers({}, fallback=DryRunPublisher())
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at in 1h Launch")
    await chat.say("/approve 1", as_="bob")
    chat.clock.advance(hours=1, minutes=16)  # Herald was down from before 1h until now
    report = await chat.publish_due()
    assert "Post 1 was due" in report and "Herald wasn't running then (more than 15 min ago)" in report
    assert "Publish it now or pick a new time." in report
    assert (await Post.get(id=1)).state == PostState.MISSED
    assert (await Delivery.get(post_id=1)).state == DeliveryState.MISSED
    assert await chat.publish_due() == ""  # not published behind anyone's back
    await chat.say("/publish 1", as_="bob")
    assert chat.errors == ["Only the author of post 1 or an admin can do that."]
    assert "will be published now" in await chat.say("/publish 1")
    assert "published to demo" in await chat.publish_due()
    assert (await Post.get(id=1)).state == PostState.PUBLISHED


async def test_post_due_during_a_short_outage_is_still_published(chat: Chat) -> None:
    chat.runtime.publishers = Publishers({}, fallback=DryRunPublisher())
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at in 1h Launch")
    await chat.say("/approve 1", as_="bob")
    chat.clock.advance(hours=1, minutes=14)  # within the 15-minute grace window
    assert "published to demo" in await chat.publish_due()


async def test_missed_post_can_be_rescheduled(chat: Chat) -> None:
    chat.runtime.publishers = Publishers({}, fallback=DryRunPublisher())
    await chat.say("/account add dryrun demo")
    await chat.say("/role add bob approver")
    await chat.say("/draft --to demo --at in 1h Launch")
    await chat.say("/approve 1", as_="bob")
    chat.clock.advance(hours=2)
    await chat.publish_due()
    assert "now goes out" in await chat.say("/schedule 1 in 30m")
    assert (await Post.get(id=1)).state == PostState.SCHEDULED
    chat.clock.advance(minutes=30)
    assert "published to demo" in await chat.publish_due()


async def test_verify_and_republish_go_through_the_state_machine_audited(chat: Chat) -> None:
    publisher = Scripted([OutcomeUnknown("Fake didn't answer.")])
    await approved_post(chat, publisher)
    await chat.publish_due()
    delivery = await Delivery.get(post_id=1)
    assert (await Post.get(id=1)).state == PostState.FAILED

    await chat.say(f"/republish {delivery.id}")
    entry = await AuditEntry.filter(action="delivery.republish").prefetch_related("actor").get()
    assert (entry.state, entry.version, entry.actor.name) == ("scheduled", 1, "alice")  # type: ignore[union-attr]
    assert (await Post.get(id=1)).state == PostState.SCHEDULED

    publisher.errors.append(OutcomeUnknown("Fake didn't answer again."))
    await chat.publish_due()
    await chat.say(f"/verify {delivery.id} https://x.invalid/1")
    entry = await AuditEntry.filter(action="delivery.verified").prefetch_related("actor").get()
    assert (entry.state, entry.version, entry.actor.name) == ("published", 1, "alice")  # type: ignore[union-attr]
    assert entry.detail == {"account": "demo", "url": "https://x.invalid/1"}
    assert (await Post.get(id=1)).state == PostState.PUBLISHED


async def test_republish_of_a_cancelled_post_is_refused_and_changes_nothing(chat: Chat) -> None:
    await approved_post(chat, Scripted([OutcomeUnknown("Fake didn't answer.")]))
    await chat.publish_due()
    delivery = await Delivery.get(post_id=1)
    await chat.say("/cancel 1")
    assert (await Post.get(id=1)).state == PostState.CANCELLED

    await chat.say(f"/republish {delivery.id}")
    assert chat.errors == ["Post 1 is cancelled, so it can't be republished."]
    assert (await Delivery.get(id=delivery.id)).state == DeliveryState.UNKNOWN  # rolled back with the refusal
    await chat.say(f"/verify {delivery.id}")
    assert chat.errors == ["Post 1 is cancelled, so it can't be marked published."]
    assert (await Delivery.get(id=delivery.id)).state == DeliveryState.UNKNOWN
    assert not await AuditEntry.filter(action__in=["delivery.republish", "delivery.verified"]).exists()


async def test_retry_with_only_an_unknown_outcome_is_refused(chat: Chat) -> None:
    # found by the property test: /retry moved the post back to scheduled with nothing to send
    await approved_post(chat, Scripted([OutcomeUnknown("Fake didn't answer.")]))
    await chat.publish_due()
    await chat.say("/retry 1")
    assert chat.errors == ["Post 1 has no failed delivery to retry; an unknown outcome needs /verify or /republish."]
    assert (await Post.get(id=1)).state == PostState.FAILED
