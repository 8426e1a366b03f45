"""Media prepared for each platform (Pillow), MP4 durations, and the signed links Herald's HTTP side serves."""

from __future__ import annotations

import io
import os
import struct
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image

from bot.http import create_app
from handlers.drafting.media import inspect, mp4_duration
from handlers.settings import Settings
from handlers.text.platforms import PLATFORMS, MediaRules, PlatformInfo
from models.media import LocalMediaStore, StoredMedia
from tasks.platforms.base import Credentials, Publication
from tasks.platforms.errors import Rejected
from tasks.platforms.media import Media, MediaSigner, prepare

BLUESKY = PlatformInfo("bluesky", "Bluesky", 300, media=MediaRules(max_image_bytes=1_000_000, max_image_pixels=2000))
INSTAGRAM = PlatformInfo(
    "instagram",
    "Instagram",
    2200,
    media=MediaRules(max_items=10, convert_to="image/jpeg", aspect_ratio=(0.8, 1.91), max_image_bytes=8_000_000),
)
SHORT_VIDEOS = PlatformInfo("x", "X", 280, media=MediaRules(max_video_seconds=140))
KEY = b"k" * 32


def png(width: int, height: int, *, noise: bool = False) -> bytes:
    if noise:  # random pixels: PNG can't compress them (~3 bytes a pixel)
        image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_turned(width: int, height: int) -> bytes:
    """A JPEG stored sideways whose EXIF says "rotate 90° to show it" (orientation 6), with a camera model."""
    image = Image.new("RGB", (width, height), (10, 120, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0110] = "Herald Cam"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def mp4(seconds: float, *, version: int = 0) -> bytes:
    if version == 1:
        header = bytes([1, 0, 0, 0]) + struct.pack(">QQIQ", 0, 0, 600, int(seconds * 600))
    else:
        header = bytes([0, 0, 0, 0]) + struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000))
    big_mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + 64) + b"\0" * 64  # a box with a 64-bit size
    moov = box(b"moov", box(b"udta", b"") + box(b"mvhd", header + b"\0" * 80) + box(b"trak", b""))
    return box(b"ftyp", b"isom\0\0\0\0isommp42") + big_mdat + moov


def stored(data: bytes, content_type: str = "image/png", name: str = "photo.png") -> StoredMedia:
    return StoredMedia(data, content_type, name)


def test_a_3_mb_png_is_made_to_fit_blueskys_1_mb() -> None:
    big = png(1000, 1000, noise=True)
    assert len(big) > 2_900_000

    prepared = prepare("ref.png", stored(big), BLUESKY)

    assert len(prepared.data) <= 1_000_000 and prepared.content_type == "image/jpeg"
    assert prepared.filename == "photo.jpg"
    with Image.open(io.BytesIO(prepared.data)) as image:
        assert image.format == "JPEG" and max(image.size) <= 1000


def test_an_image_that_fits_goes_out_untouched_and_a_huge_one_is_scaled_to_the_longest_side() -> None:
    small = png(300, 200)
    assert prepare("ref.png", stored(small), BLUESKY).data == small
    with Image.open(io.BytesIO(prepare("ref.png", stored(png(4000, 1000)), BLUESKY).data)) as image:
        assert image.size == (2000, 500) and image.format == "PNG"  # still a PNG: within 1 MB after scaling


def test_instagram_gets_a_jpeg_upright_and_without_exif() -> None:
    prepared = prepare("ref.png", stored(png(1080, 1080)), INSTAGRAM)
    assert prepared.content_type == "image/jpeg" and prepared.data[:2] == b"\xff\xd8"

    turned = prepare("ref.jpg", stored(jpeg_turned(1350, 1080), "image/jpeg", "cam.jpg"), INSTAGRAM)
    with Image.open(io.BytesIO(turned.data)) as image:
        assert image.size == (1080, 1350)  # turned as the orientation tag said (4:5, within Instagram's range)
        assert not image.getexif()  # no orientation left to apply twice, no camera details


def test_an_aspect_ratio_outside_the_platforms_range_is_refused_with_the_numbers() -> None:
    with pytest.raises(Rejected) as refused:
        prepare("ref.png", stored(png(1500, 500)), INSTAGRAM)
    assert str(refused.value) == (
        "Instagram takes images with an aspect ratio from 4:5 to 1.91:1; this one is 3:1 (1500×500)."
    )
    # a JPEG stored 3:1 on its side is 1:3 once turned, as Instagram would show it: refused as 1:3
    with pytest.raises(Rejected, match=r"this one is 1:3 \(500×1500\)"):
        prepare("ref.jpg", stored(jpeg_turned(1500, 500), "image/jpeg"), INSTAGRAM)


@pytest.mark.parametrize("version", [0, 1])
def test_an_mp4s_duration_comes_from_its_mvhd_box(version: int) -> None:
    assert mp4_duration(mp4(150.5, version=version)) == pytest.approx(150.5, abs=0.01)


def test_a_video_too_long_is_refused_and_one_short_enough_goes_as_it_is() -> None:
    assert mp4_duration(b"\x00\x00\x00\x08free") is None
    assert mp4_duration(b"not an mp4 at all") is None
    assert inspect("v.mp4", stored(mp4(150.5), "video/mp4")).seconds == pytest.approx(150.5, abs=0.01)
    with pytest.raises(Rejected, match=r"^X takes videos up to 140 seconds; this one is 150 seconds\.$"):
        prepare("v.mp4", stored(mp4(150.5), "video/mp4", "clip.mp4"), SHORT_VIDEOS)
    short = mp4(30)
    assert prepare("v.mp4", stored(short, "video/mp4", "clip.mp4"), SHORT_VIDEOS).data == short


@pytest.fixture
def clock() -> list[float]:
    return [1_800_000_000.0]


async def test_signed_links_serve_the_file_prepared_for_their_platform(
    tmp_path: Path, clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(PLATFORMS, "instagram", INSTAGRAM)
    store = LocalMediaStore(tmp_path)
    ref = await store.put(png(1080, 1080), "image/png", "square.png")
    media = Media(store, MediaSigner("https://herald.example/", key=KEY, clock=lambda: clock[0]))
    source = media.for_platform(INSTAGRAM)
    link = source.public_url(ref, timedelta(hours=1))
    assert link.startswith(f"https://herald.example/media/{ref}?p=instagram&exp=1800003600&sig=")
    path = link.removeprefix("https://herald.example")

    app = create_app(Settings(_env_file=None), media=media)  # type: ignore[call-arg]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://herald") as http:
        served = await http.get(path)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.content == (await source.read(ref)).data and served.content[:2] == b"\xff\xd8"
        head = await http.head(path)
        assert head.status_code == 200 and head.headers["content-length"] == str(len(served.content))

        tampered = path[:-1] + ("0" if path[-1] != "0" else "1")
        assert (await http.get(tampered)).status_code == 403
        other_platform = path.replace("p=instagram", "p=bluesky")  # the signature covers the platform
        assert (await http.get(other_platform)).status_code == 403
        assert (await http.get(f"/media/{ref}")).status_code == 403

        missing = source.public_url("0" * 64 + ".png").removeprefix("https://herald.example")
        assert (await http.get(missing)).status_code == 404

        clock[0] += 3601  # past its expiry
        assert (await http.get(path)).status_code == 403


def test_without_a_public_url_a_by_url_platform_is_told_why() -> None:
    media = Media(LocalMediaStore(Path("unused")), MediaSigner(None, key=KEY))
    with pytest.raises(Rejected, match=r"HERALD_PUBLIC_URL"):
        media.for_platform(INSTAGRAM).public_url("0" * 64 + ".png")


async def test_a_publication_reads_its_media_prepared_for_its_platform_once(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    ref = await store.put(png(1000, 1000, noise=True), "image/png", "noise.png")
    media = Media(store, MediaSigner(None, key=KEY))
    publication = Publication(
        post_id=1,
        delivery_id=1,
        handle="sky",
        text="Noise",
        media=(ref,),
        credentials=Credentials(),
        idempotency_key="k",
        media_source=media.for_platform(BLUESKY),
    )

    (first,) = await publication.media_files()
    (again,) = await publication.media_files()

    assert first.ref == ref and first.content_type == "image/jpeg" and len(first.data) <= 1_000_000
    assert again is first  # prepared once per (ref, platform)
    assert (await media.read(ref)).content_type == "image/png"  # as stored, for whoever wants the original
    gone = replace(publication, media=("0" * 64 + ".png",))
    with pytest.raises(Rejected, match=r"no longer has the file"):
        await gone.media_files()
