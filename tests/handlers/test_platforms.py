"""The platform catalogue: how each platform counts a post, and the sentences that say it won't fit."""

from __future__ import annotations

import pytest

from handlers.text import textcount
from handlers.text.platforms import check_text, missing_media, platform, too_long
from models.errors import InvalidInput

FAMILY = "👨\u200d👩\u200d👧\u200d👦"
FLAG = "🇩🇪"
THUMB = "👍🏽"


@pytest.mark.parametrize(
    ("text", "clusters"),
    [
        ("hello", ["h", "e", "l", "l", "o"]),
        ("cafe\u0301!", ["c", "a", "f", "e\u0301", "!"]),
        (f"{FAMILY}{FLAG}{FLAG}{THUMB}", [FAMILY, FLAG, FLAG, THUMB]),
        ("❤️ 1️⃣", ["❤️", " ", "1️⃣"]),
        ("a\r\nb\n\u0301", ["a", "\r\n", "b", "\n", "\u0301"]),
        ("🇩🇪🇫", [FLAG, "🇫"]),
    ],
)
def test_graphemes_keep_what_a_reader_sees_as_one_character_together(text: str, clusters: list[str]) -> None:
    assert textcount.clusters(text) == clusters
    assert textcount.graphemes(text) == len(clusters)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("Big launch today!", 17),
        ("see https://example.com/" + "a" * 80 + ".", 4 + 23 + 1),  # the sentence's full stop is not the URL's
        ("docs: www.example.com/x_(y))", 6 + 23 + 1),  # a balanced parenthesis is part of the URL
        ("https:// alone", 14),
        ("日本語", 6),  # CJK counts 2
        ("“quoted” — Ωμέγα", 16),  # Latin punctuation and Greek count 1
        (f"{FAMILY} {THUMB} {FLAG} ❤️ ❤", 2 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2),  # every emoji counts 2
        ("cafe\u0301", 4),  # normalised to NFC first
    ],
)
def test_x_counts_urls_as_23_and_weighs_emoji_and_cjk(text: str, length: int) -> None:
    assert platform("x").length(text) == length


def test_mastodon_counts_urls_as_23_remote_mentions_by_their_user_and_graphemes() -> None:
    mastodon = platform("mastodon")

    assert mastodon.length("ping @alice@mastodon.social") == len("ping @alice")
    assert mastodon.length("https://example.com/" + "a" * 100) == 23
    assert mastodon.length("www.example.com") == 15  # without a scheme it is text
    assert mastodon.length(f"{FAMILY}!") == 2
    assert mastodon.length("mail me: bob@example.com") == 24  # an address is no mention


def test_bluesky_counts_graphemes_and_the_others_code_points() -> None:
    assert platform("bluesky").length(FAMILY * 300) == 300
    assert platform("linkedin").length(FAMILY) == 7
    assert platform("dryrun").length("x" * 100_000) == 100_000


def test_the_sentences_the_card_and_the_draft_checks_share() -> None:
    x, instagram = platform("x"), platform("instagram")
    tweet = "Read https://example.com/" + "a" * 300  # 328 code points, 28 as X counts them

    assert too_long(x, tweet) is None
    check_text(x, tweet, [])
    assert too_long(x, "x" * 312) == "X allows 280 characters, this is 312."
    assert too_long(x, "字" * 141) == "X allows 280 characters, this is 282."
    assert too_long(platform("dryrun"), "x" * 100_000) is None
    assert missing_media(instagram, []) == "Instagram needs at least one image or video."
    assert missing_media(instagram, ["/m/a.png"]) is None
    with pytest.raises(InvalidInput, match=r"^X allows 280 characters, this is 312\.$"):
        check_text(x, "x" * 312, [])
    with pytest.raises(InvalidInput, match=r"Instagram needs") as raised:
        check_text(instagram, "hi", [])
    assert raised.value.field == "media"
