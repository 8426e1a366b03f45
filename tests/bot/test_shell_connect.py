"""The shell asks a form's fields (/account connect of a platform connected with secrets) and never prints a
secret: from a script each field is the next line; at a terminal a secret field is read with getpass."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest

from bot import shell as shell_module
from bot.shell import ShellAdapter, terminal_asker
from models.accounts import SocialAccount
from tests.auxil.connecting import connecting
from tests.fakes.connectable import APP_PASSWORD


async def script(*lines: str) -> AsyncIterator[str]:
    for line in lines:
        yield line + "\n"


async def test_a_script_answers_the_form_line_by_line(sqlite_db: str) -> None:
    async with connecting() as world:
        out = io.StringIO()
        shell = ShellAdapter(world.chat.herald, user="alice", out=out)
        lines = script("/account connect testkey", "acme.test", APP_PASSWORD, "/account list")
        assert await shell.run(lines, interactive=False, wait=2) == 0
    printed = out.getvalue()
    assert "Handle (e.g. acme.testkey.social): \nApp password: \n" in printed
    assert "Connected @acme.test on Testkey as acme.test" in printed
    assert "acme.test — @acme.test on Testkey: ok" in printed
    assert APP_PASSWORD not in printed
    assert (await SocialAccount.get(handle="acme.test")).platform == "testkey"


async def test_an_empty_answer_sends_nothing(sqlite_db: str) -> None:
    async with connecting() as world:
        out = io.StringIO()
        shell = ShellAdapter(world.chat.herald, user="alice", out=out)
        assert await shell.run(script("/account connect testkey", "acme.test"), interactive=False, wait=2) == 0
    assert "App password is empty: nothing was sent." in out.getvalue()
    assert await SocialAccount.all().count() == 0


async def test_at_a_terminal_a_secret_is_read_without_echo(sqlite_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str]] = []

    def typed(how: str, answer: str):  # type: ignore[no-untyped-def]
        def read(prompt: str) -> str:
            asked.append((how, prompt))
            return answer

        return read

    monkeypatch.setattr("builtins.input", typed("input", "acme.test"))
    monkeypatch.setattr(shell_module.getpass, "getpass", typed("getpass", APP_PASSWORD))
    async with connecting() as world:
        out = io.StringIO()
        shell = ShellAdapter(world.chat.herald, user="alice", out=out, ask=terminal_asker())
        await shell.say("/account connect testkey")
    assert asked == [("input", "Handle (e.g. acme.testkey.social): "), ("getpass", "App password: ")]
    assert APP_PASSWORD not in out.getvalue()
    assert "Connected @acme.test on Testkey" in out.getvalue()
