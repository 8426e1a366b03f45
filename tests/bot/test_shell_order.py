"""The shell prints a command's replies before any report the command caused (an in-process worker may write
one while the command is still being handled), and never prints a report twice."""

from __future__ import annotations

import asyncio
import io

from bot.shell import CONVERSATION, ShellAdapter
from handlers.messages import Incoming, Reply
from models.outbox import OutboxMessage

REPORT = Reply(text="Post 1 published to demo (Dry run): https://dryrun.invalid/demo/dry-1", post_id=1, kind="report")


class PublishesWhileApproving:
    """Stands in for Herald's core: `/approve` of a post due now, whose worker reports mid-command."""

    async def handle(self, incoming: Incoming) -> list[Reply]:
        await OutboxMessage.create(
            adapter=CONVERSATION.adapter, channel=CONVERSATION.channel, post_id=1, payload=REPORT.to_json()
        )
        await asyncio.sleep(0.3)  # the outbox follower looks every 0.1 s meanwhile
        return [Reply(text="Post 1 approved by bob; it goes to demo now.")]


async def test_a_report_written_during_a_command_shows_after_its_replies_once(any_db: str) -> None:
    out = io.StringIO()
    shell = ShellAdapter(PublishesWhileApproving(), user="bob", out=out)  # type: ignore[arg-type]
    stop = asyncio.Event()
    follower = asyncio.create_task(shell.follow_outbox(stop, interval=0.01))

    await shell.say("/approve 1")
    await asyncio.sleep(0.1)  # the follower gets more chances
    stop.set()
    await follower

    printed = out.getvalue()
    assert printed.index("approved by bob") < printed.index("published to demo")
    assert printed.count("published to demo") == 1
