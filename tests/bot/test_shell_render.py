"""The shell adapter's rendering: a card reads as lines of text, buttons as their typed twins."""

from __future__ import annotations

from bot.shell import render
from handlers.messages import Button, Field, Preview, Reply, TargetStatus


def test_a_card_with_platform_previews_reads_as_lines() -> None:
    card = Reply(
        text="Post 1 by alice — awaiting approval\n> Big launch!",
        fields=(Field("Targets", "acme, demo"), Field("Awaiting", "bob")),
        buttons=(Button("Approve", "/approve 1", "primary"), Button("Reject", "/reject 1", ask="reason")),
        previews=(
            Preview("X · acme", 312, 280, "…launch✂ day", ("X allows 280 characters, this is 312.",)),
            Preview("Dry run · demo", 12, None, "Big launch!"),
        ),
        ref="post:1:approval",
        kind="approval",
    )

    assert render(card).splitlines() == [
        "Post 1 by alice — awaiting approval",
        "> Big launch!",
        "  Targets: acme, demo · Awaiting: bob",
        "  X · acme (312/280 characters): …launch✂ day",
        "    ! X allows 280 characters, this is 312.",
        "  Dry run · demo (12 characters): Big launch!",
        "  [Approve: /approve 1] [Reject: /reject 1 REASON]",
    ]


def test_a_card_after_publishing_reads_one_line_per_target_with_its_buttons() -> None:
    card = Reply(
        text="Post 1 by alice — failed\n> Big launch!",
        statuses=(
            TargetStatus("demo (Dry run)", "published", "published: https://dryrun.invalid/demo/dry-1"),
            TargetStatus("acme (X)", "failed", "failed: X said no."),
            TargetStatus(
                "toot (Mastodon)",
                "unknown",
                "may or may not have been published: no answer. Check the account, then choose.",
                (Button("Verify", "/verify 3"), Button("Republish", "/republish 3", "danger")),
            ),
        ),
        buttons=(Button("Retry", "/retry 1"),),
        ref="post:1:approval",
        kind="approval",
    )

    assert render(card).splitlines() == [
        "Post 1 by alice — failed",
        "> Big launch!",
        "  demo (Dry run) — published: https://dryrun.invalid/demo/dry-1",
        "  acme (X) — failed: X said no.",
        "  toot (Mastodon) — may or may not have been published: no answer. Check the account, then choose.",
        "    [Verify: /verify 3] [Republish: /republish 3]",
        "  [Retry: /retry 1]",
    ]
