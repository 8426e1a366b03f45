"""The shell drafts with local files: ``/draft --media PATH,…`` stores them and the post keeps their refs."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from bot.notifiers import OutboxNotifier
from bot.shell import ShellAdapter
from handlers.app import Herald
from handlers.context import Services
from handlers.ports import NullScheduler, SystemClock
from models.media import LocalMediaStore
from models.posts import Post


async def test_local_files_are_stored_and_the_post_keeps_their_refs(sqlite_db: str, tmp_path: Path) -> None:
    photo = tmp_path / "team photo.png"
    Image.new("RGB", (640, 480), (20, 20, 200)).save(photo)
    store = LocalMediaStore(tmp_path / "media")
    services = Services(notifier=OutboxNotifier(), scheduler=NullScheduler(), clock=SystemClock(), media=store)
    out = io.StringIO()
    shell = ShellAdapter(Herald(services), user="alice", out=out, media=store)
    await shell.say("/account add dryrun demo")
    await shell.say("/role add bob approver")

    await shell.say(f'/draft --to demo --media "{photo}" Our team')
    (post,) = await Post.all()
    (ref,) = post.media
    assert (await store.get(ref)).data == photo.read_bytes() and ref.endswith(".png")
    assert (await store.get(ref)).filename == "team photo.png"

    await shell.say(f"/draft --to demo --media {ref} The same photo again, by its ref")
    await shell.say(f"/draft --to demo --media {tmp_path / 'nowhere.png'} A file that isn't there")
    assert [p.media for p in await Post.all().order_by("id")] == [[ref], [ref]]
    assert "Herald has no stored file" in out.getvalue()
