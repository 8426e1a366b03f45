"""The shell adapter's rendering: a card reads as lines of text, buttons as their typed twins."""

from __future__ import annotations

from bot.shell import render
from handlers.messages import Button, Field, Preview, Reply


def test_a_card_with_platform_previews_reads_as_lines() -> None:
    card = Reply(
        text="Post 1 by alice (v1) — awaiting approval\n> Big launch!",
        fields=(Field("Targets", "acme, demo"), Field("Level", "1 of 1")),
        buttons=(Button("Approve", "/approve 1", "primary"), Button("Reject", "/reject 1", ask="reason")),
        previews=(
            Preview("X · acme", 312, 280, "…launch✂ day", ("X allows 280 characters, this is 312.",)),
            Preview("Dry run · demo", 12, None, "Big launch!"),
        ),
        ref="post:1:approval",
        kind="approval",
    )

    assert render(card).splitlines() == [
        "Post 1 by alice (v1) — awaiting approval",
        "> Big launch!",
        "  Targets: acme, demo · Level: 1 of 1",
        "  X · acme (312/280): …launch✂ day",
        "    ! X allows 280 characters, this is 312.",
        "  Dry run · demo (12): Big launch!",
        "  [Approve: /approve 1] [Reject: /reject 1 REASON]",
    ]
