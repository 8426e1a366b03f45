"""Secrets at rest: a tortoise field that stores text encrypted with ``HERALD_SECRET_KEY``.

The key is any string of at least 16 characters; a Fernet key (AES-128-CBC + HMAC-SHA256) is
derived from it with HKDF-SHA256, so operators can use a password-manager secret as is. Rotating
the key: set ``HERALD_SECRET_KEY`` to the new key and ``HERALD_SECRET_KEY_OLD`` to the old one; values
encrypted with the old key are still read (MultiFernet) and re-encrypted on the next save.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from tortoise import fields

from models.errors import ConfigError

_cipher: MultiFernet | None = None
_secret: str | None = None
MIN_KEY_LENGTH = 16


def derive_fernet_key(secret: str) -> bytes:
    """Derive a urlsafe-base64 Fernet key from an operator secret."""
    if len(secret) < MIN_KEY_LENGTH:
        raise ConfigError(f"HERALD_SECRET_KEY must be at least {MIN_KEY_LENGTH} characters long.")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"herald-secrets-v1", info=b"fernet").derive(secret.encode())
    return base64.urlsafe_b64encode(raw)


def configure(secret: str, *old_secrets: str) -> None:
    """Install the process-wide cipher. Call once at start-up, before any model is read."""
    global _cipher, _secret
    if not secret:
        raise ConfigError("HERALD_SECRET_KEY is empty: set it to at least 16 characters.")
    keys = [Fernet(derive_fernet_key(s)) for s in (secret, *old_secrets) if s]
    _cipher = MultiFernet(keys)
    _secret = secret


def subkey(purpose: str) -> bytes:
    """A 32-byte key for one purpose (``"media-url"``: signed media links), derived from HERALD_SECRET_KEY with
    HKDF-SHA256, so no two purposes share a key and none is the secret itself."""
    if _secret is None:
        raise ConfigError("HERALD_SECRET_KEY is not configured, so Herald can't sign or check links.")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"herald-keys-v1", info=purpose.encode()).derive(
        _secret.encode()
    )


def _require_cipher() -> MultiFernet:
    if _cipher is None:
        raise ConfigError("HERALD_SECRET_KEY is not configured, so stored credentials can't be read.")
    return _cipher


def encrypt(plain: str) -> str:
    return _require_cipher().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _require_cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ConfigError(
            "Stored credentials can't be decrypted: HERALD_SECRET_KEY differs from the key they were "
            "saved with (set HERALD_SECRET_KEY_OLD to the previous key)."
        ) from exc


class EncryptedTextField(fields.TextField):  # type: ignore[misc]
    """A text column whose value is Fernet-encrypted in the database and plain in Python."""

    def to_db_value(self, value: Any, instance: Any) -> str | None:
        if value is None:
            return None
        return encrypt(str(value))

    def to_python_value(self, value: Any) -> str | None:
        if value is None or not isinstance(value, str):
            return value
        if value.startswith("gAAAA"):  # Fernet tokens always start with version byte 0x80
            return decrypt(value)
        return value
