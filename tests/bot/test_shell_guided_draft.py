"""The guided ``/draft`` in the shell adapter: a local photo with its caption answers the text step (stored as
``/draft --media`` stores it), and members switched to with ``/as`` each have their own draft."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.notifiers import OutboxNotifier
from bot.shell import ShellAdapter
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import NullScheduler, SystemClock
from models.dialogs import Dialog
from models.media import LocalMediaStore
from models.posts import Post


def shell_over(tmp_path: Path, out: io.StringIO) -> tuple[ShellAdapter, LocalMediaStore]:
    store = LocalMediaStore(tmp_path / "media")
    services = Services(notifier=OutboxNotifier(), scheduler=NullScheduler(), clock=SystemClock(), media=store)
    return ShellAdapter(Herald(services), user="alice", out=out, media=store), store


async def test_a_photo_with_its_caption_and_two_members_at_once(sqlite_db: str, tmp_path: Path) -> None:
    photo = tmp_path / "team.png"
    Image.new("RGB", (800, 600), (200, 20, 20)).save(photo)
    out = io.StringIO()
    shell, store = shell_over(tmp_path, out)
    for line in ("/account add dryrun demo", "/account add dryrun news", "/role add carol approver", "/draft"):
        await shell.say(line)
    await shell.say(f'/draft --media "{photo}" Our team')
    (dialog,) = await Dialog.all()
    (ref,) = dialog.data["media"]
    assert (await store.get(ref)).data == photo.read_bytes()

    await shell.say("/as bob")
    await shell.say("/draft")
    await shell.say("Bob's words")
    await shell.say("/as alice")
    await shell.say("demo, news")  # alice's draft: her accounts
    await shell.say("/draft when now")
    printed = out.getvalue()
    assert "Targets: demo, news · When: as soon as approved · Media: 1 image" in printed
    assert "Dry run · demo, news (8 characters): Our team" in printed

    shell, _ = shell_over(tmp_path, out)  # a new Herald and shell over the same database
    await shell.say("/draft submit")
    await shell.say("/as bob")
    await shell.say("/draft pick news")
    await shell.say("/draft next")
    await shell.say("/draft when now")
    await shell.say("/draft submit")
    posts = await Post.all().order_by("id").prefetch_related("author")
    assert [(p.text, p.author.name, p.media) for p in posts] == [
        ("Our team", "alice", [ref]),
        ("Bob's words", "bob", []),
    ]
    assert await Dialog.all().count() == 0
    assert "Something went wrong" not in out.getvalue()
