"""The media stores: a directory (the embedded default) and the database (PostgreSQL), content-addressed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from handlers.ports import MediaStore
from models.errors import NotFound
from models.media import DatabaseMediaStore, LocalMediaStore, MediaBlob, StoredMedia, key_of, media_store

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100
SHA = hashlib.sha256(PNG).hexdigest()


async def round_trip(store: MediaStore) -> None:
    ref = await store.put(PNG, "image/png", "chart.png")
    assert ref == f"{SHA}.png"
    assert await store.put(PNG, "image/png", "again.png") == ref  # the same bytes are stored once
    assert await store.exists(ref)
    assert await store.get(ref) == StoredMedia(PNG, "image/png", "chart.png")
    assert await store.get(f"/srv/herald/data/media/{ref}") == StoredMedia(PNG, "image/png", "chart.png")  # old refs

    video = await store.put(b"\x00\x00\x00\x18ftypmp42", "video/mp4", "clip.mp4")
    assert video.endswith(".mp4") and (await store.get(video)).content_type == "video/mp4"
    for missing in (f"{'0' * 64}.png", "../../etc/passwd", "chart.png", ""):
        assert not await store.exists(missing)
        with pytest.raises(NotFound):
            await store.get(missing)


async def test_the_directory_store_keeps_files_by_their_hash(sqlite_db: str, tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path / "media")
    await round_trip(store)
    assert (tmp_path / "media" / f"{SHA}.png").read_bytes() == PNG
    assert not list((tmp_path / "media").glob("*.part"))


async def test_the_database_store_keeps_files_where_every_worker_reaches_them(pg_db: str) -> None:
    await MediaBlob.all().delete()
    await round_trip(DatabaseMediaStore())
    (blob,) = await MediaBlob.filter(key=f"{SHA}.png")
    assert (blob.size, blob.filename, bytes(blob.data)) == (len(PNG), "chart.png", PNG)
    assert await MediaBlob.all().count() == 2


def test_postgres_picks_the_database_and_sqlite_the_directory(tmp_path: Path) -> None:
    assert isinstance(media_store("postgres://herald@db/herald"), DatabaseMediaStore)
    local = media_store("sqlite://data/herald.sqlite3", tmp_path)
    assert isinstance(local, LocalMediaStore) and local.directory == tmp_path
    assert key_of(f"{SHA.upper()}.PNG") == f"{SHA}.png"
    assert key_of(f"{SHA}.png/../x") is None
