"""The one protocol every platform publisher implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Publication:
    """What to publish, where, and the key that makes a retry safe where the platform honours one."""

    post_id: int
    delivery_id: int
    handle: str
    text: str
    media: tuple[str, ...]
    credentials: dict[str, str]
    idempotency_key: str


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str


class Publisher(Protocol):
    """Publish one post to one account.

    Raises :mod:`tasks.platforms.errors` only: ``Transient`` (retry later), ``Permanent`` (don't),
    ``OutcomeUnknown`` (the request went out but no answer came back).
    """

    #: True when the platform deduplicates by ``Publication.idempotency_key`` (Mastodon's
    #: Idempotency-Key, Bluesky's rkey): an unknown outcome may then simply be retried.
    idempotent: bool

    async def publish(self, publication: Publication) -> Published: ...
