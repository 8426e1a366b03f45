"""Logging: Herald's structlog events and every library's log records in one format, with secrets scrubbed.

structlog's events (Herald's own) and the standard library's records (slack_bolt, slack_sdk, uvicorn,
taskiq …, which go to the root logger's one handler, rendered by structlog's ``ProcessorFormatter``) pass
the same processors: a timestamp, the level, exceptions formatted, then :func:`scrub`, then one renderer
(console or JSON lines). So a secret can't reach the output by either road, nor through a traceback.

:func:`scrub` replaces with ``[redacted]``:

* the value under a secret-looking key of a structlog event (``token=…``, ``signing_secret=…``);
* token-shaped text anywhere: Slack's ``xoxb-``/``xoxp-``/… and ``xapp-`` tokens, a Telegram bot token,
  ``Bearer …``;
* the value of a secret-named field in text: a form body's ``token=…`` (Slack's verification token, which
  bolt logs with a refused request's body), JSON's or a dict's ``"token": "…"``, and the same JSON
  percent-encoded in a form's ``payload`` field;
* the secrets configured (:attr:`~handlers.settings.Settings.secret_values`), wherever they appear.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TextIO

import structlog

if TYPE_CHECKING:
    from handlers.settings import Settings

REDACTED: Final = "[redacted]"
SECRET_KEYS = re.compile(r"(token|secret|password|credentials|authorization|api_key)", re.IGNORECASE)
_QUOTE = r"""(?:["']|%22|%27)?"""
SECRET_TEXT = re.compile(
    # token shapes: Slack's (xoxb-, xoxp-, xoxa-, xoxr-, xoxe-, xoxs-, xapp-), an HTTP bearer
    r"xox[abeoprs]-[\w-]+|xapp-[\w-]+|Bearer\s+[^\s'\",}]+"
    # a secret-named field's value: token=…, "token": "…", 'bot_token': '…', %22token%22%3A%22…
    rf"|(?:(?<![\w-])|(?<=%22)|(?<=%27))([\w-]*(?:token|secret|password|api_key|ticket)[\w-]*{_QUOTE}"
    rf"\s*(?:=|:|%3A|%3D)(?:\s|\+|%20)*{_QUOTE})[^\s&\"',}}%]+",
    re.IGNORECASE,
)
#: What :data:`SECRET_TEXT` can match contains one of these (lowercased): text without any is left alone
#: cheaply (a debug line of slack-sdk's carries a whole message, kilobytes of it).
SECRET_HINTS = ("xox", "xapp-", "bearer", "token", "secret", "password", "api_key", "ticket")
TELEGRAM_TOKEN = re.compile(r"\b\d{6,}:[\w-]{30,}")
#: Configured secrets shorter than this aren't searched for (each occurrence of a one-letter "secret" would go).
MIN_SECRET = 8
#: Loggers whose routine lines say nothing an operator needs: warnings and errors only.
QUIET = ("taskiq", "tortoise", "aiosqlite", "asyncio", "httpx", "aerich")

_secrets: list[str] = []  # the longest first: one secret may contain another


def hide(*values: str | None) -> None:
    """Scrub these values (secrets read at start-up) from every log line from now on."""
    known = set(_secrets) | {v for v in values if v and len(v) >= MIN_SECRET}
    _secrets[:] = sorted(known, key=len, reverse=True)


def scrub_text(text: str) -> str:
    """``text`` with the configured secrets, token-shaped text and secret-named fields' values redacted."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    lowered = text.lower()
    if any(hint in lowered for hint in SECRET_HINTS):
        text = SECRET_TEXT.sub(_redact, text)
    if ":" in text:
        text = TELEGRAM_TOKEN.sub(REDACTED, text)
    return text


def _redact(match: re.Match[str]) -> str:
    key = match.group(1)  # a secret-named field: keep its name
    return f"{key}{REDACTED}" if key else REDACTED


def scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor, in both chains (:func:`configure`): never log a secret."""
    for key, value in list(event.items()):
        if key.startswith("_"):  # ProcessorFormatter's own (the record), removed before rendering
            continue
        if SECRET_KEYS.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub_text(value)
        elif not isinstance(value, int | float | bool | None):  # a dict, a list, an object: as it will render
            shown = repr(value)
            scrubbed = scrub_text(shown)
            if scrubbed != shown:
                event[key] = scrubbed
    return event


def configure(
    level: str = "info", fmt: str = "console", stream: TextIO | None = None, *, secrets: Iterable[str | None] = ()
) -> None:
    """structlog's events and the standard library's records both to ``stream`` (stderr), rendered alike."""
    numeric = getattr(logging, level.upper(), logging.INFO)
    out = stream or sys.stderr
    hide(*secrets)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    stamped: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    finished: list[Any] = [structlog.processors.format_exc_info, scrub]  # tracebacks are scrubbed too
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*stamped, structlog.stdlib.add_logger_name, *finished],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[*stamped, *finished, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def configure_from(settings: Settings, *, level: str | None = None) -> None:
    """:func:`configure` at the settings' level (or ``level``) and format, their secrets scrubbed."""
    configure(level or settings.log_level, settings.log_format, secrets=settings.secret_values)
