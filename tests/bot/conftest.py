"""Fixtures for the Slack adapter tests: one fake Slack per module, reset (users added) per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bot.harness import add_users
from tests.fakes.slack import FakeSlack


@pytest.fixture(scope="module")
def running_fake() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        add_users(fake)
        yield fake


@pytest.fixture
def fake(running_fake: FakeSlack) -> FakeSlack:
    running_fake.reset()
    return running_fake
