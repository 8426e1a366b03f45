"""Secrets at rest: SocialAccount.credentials is Fernet-encrypted with a key derived from the secret key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tortoise import connections

from models import crypto
from models.accounts import SocialAccount
from models.errors import ConfigError
from tests.conftest import TEST_SECRET

CREDENTIALS = json.dumps({"access_token": "tok-PLAINTEXT-5f3a9c", "base_url": "https://fosstodon.org"})
NEW_SECRET = "a-brand-new-secret-key-42"
OTHER_SECRET = "somebody-elses-secret-key"


@pytest.fixture
def restore_key() -> Iterator[None]:
    """Tests that change the process-wide key get the session key back afterwards."""
    try:
        yield
    finally:
        crypto.configure(TEST_SECRET)


async def raw_credentials(account_id: int) -> str | None:
    rows = await connections.get("default").execute_query_dict(
        "SELECT credentials FROM social_accounts WHERE id = " + str(int(account_id))
    )
    assert len(rows) == 1
    value = rows[0]["credentials"]
    return None if value is None else str(value)


async def test_credentials_are_stored_encrypted_and_round_trip(any_db: str) -> None:
    account = await SocialAccount.create(platform="mastodon", handle="herald@fosstodon", credentials=CREDENTIALS)
    raw = await raw_credentials(account.id)
    assert raw is not None
    assert raw.startswith("gAAAA")
    assert "tok-PLAINTEXT-5f3a9c" not in raw and "fosstodon" not in raw
    assert crypto.decrypt(raw) == CREDENTIALS

    fresh = await SocialAccount.get(id=account.id)
    assert fresh.credentials == CREDENTIALS
    assert json.loads(fresh.credentials)["access_token"] == "tok-PLAINTEXT-5f3a9c"
    listed = await SocialAccount.filter(platform="mastodon").values_list("credentials", flat=True)
    assert listed == [CREDENTIALS]


async def test_each_save_uses_a_fresh_token(sqlite_db: str) -> None:
    account = await SocialAccount.create(platform="x", handle="one", credentials="same")
    first = await raw_credentials(account.id)
    account.credentials = "same"
    await account.save()
    second = await raw_credentials(account.id)
    assert first != second  # Fernet uses a random IV: equal plaintexts are not recognisable
    assert (await SocialAccount.get(id=account.id)).credentials == "same"


async def test_null_credentials_stay_null(sqlite_db: str) -> None:
    account = await SocialAccount.create(platform="dryrun", handle="demo")
    assert await raw_credentials(account.id) is None
    assert (await SocialAccount.get(id=account.id)).credentials is None


async def test_wrong_key_gives_a_helpful_config_error(sqlite_db: str, restore_key: None) -> None:
    account = await SocialAccount.create(platform="x", handle="acme", credentials=CREDENTIALS)
    crypto.configure(OTHER_SECRET)
    with pytest.raises(ConfigError) as info:
        await SocialAccount.get(id=account.id)
    message = str(info.value)
    assert message == (
        "Stored credentials can't be decrypted: HERALD_SECRET_KEY differs from the key they were saved with "
        "(set HERALD_SECRET_KEY_OLD to the previous key)."
    )
    assert "\n" not in message
    assert TEST_SECRET not in message and OTHER_SECRET not in message
    crypto.configure(TEST_SECRET)
    assert (await SocialAccount.get(id=account.id)).credentials == CREDENTIALS


async def test_rotation_reads_old_values_and_re_encrypts_on_save(sqlite_db: str, restore_key: None) -> None:
    account = await SocialAccount.create(platform="x", handle="acme", credentials=CREDENTIALS)
    old_raw = await raw_credentials(account.id)

    crypto.configure(NEW_SECRET, TEST_SECRET)
    rotated = await SocialAccount.get(id=account.id)
    assert rotated.credentials == CREDENTIALS
    await rotated.save()
    new_raw = await raw_credentials(account.id)
    assert new_raw != old_raw

    crypto.configure(NEW_SECRET)  # the old key is gone: the re-saved value is readable with the new one alone
    assert (await SocialAccount.get(id=account.id)).credentials == CREDENTIALS
    crypto.configure(TEST_SECRET)  # and no longer with the old one
    with pytest.raises(ConfigError):
        await SocialAccount.get(id=account.id)


def test_empty_old_keys_are_ignored(restore_key: None) -> None:
    crypto.configure(NEW_SECRET, "", "")
    assert crypto.decrypt(crypto.encrypt("x")) == "x"


@pytest.mark.parametrize("secret", ["", "x", "fifteen-chars!!"])
def test_short_keys_are_refused(secret: str, restore_key: None) -> None:
    assert len(secret) < crypto.MIN_KEY_LENGTH == 16
    with pytest.raises(ConfigError, match=r"^HERALD_SECRET_KEY must be at least 16 characters long\.$"):
        crypto.derive_fernet_key(secret)
    if secret:
        with pytest.raises(ConfigError, match="at least 16 characters"):
            crypto.configure(secret)
        with pytest.raises(ConfigError, match="at least 16 characters"):
            crypto.configure(TEST_SECRET, secret)


def test_empty_key_is_a_config_error(restore_key: None) -> None:
    with pytest.raises(ConfigError, match="HERALD_SECRET_KEY"):
        crypto.configure("")


def test_sixteen_characters_is_enough_and_derivation_is_stable(restore_key: None) -> None:
    key = crypto.derive_fernet_key("exactly-16-chars")
    assert len(key) == 44 and key == crypto.derive_fernet_key("exactly-16-chars")
    assert key != crypto.derive_fernet_key("exactly-16-charz")
    crypto.configure("exactly-16-chars")
    token = crypto.encrypt("hello")
    assert token.startswith("gAAAA") and crypto.decrypt(token) == "hello"


def test_unconfigured_cipher_is_a_config_error(restore_key: None) -> None:
    crypto._cipher = None
    with pytest.raises(ConfigError, match=r"^HERALD_SECRET_KEY is not configured"):
        crypto.encrypt("x")
