"""structlog set-up: console or JSON lines, with secrets scrubbed from every event."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

SECRET_KEYS = re.compile(r"(token|secret|password|credentials|authorization|api_key)", re.IGNORECASE)
SECRET_VALUES = re.compile(r"(xox[abpr]-[\w-]+|xapp-[\w-]+|\d{6,}:[\w-]{30,}|Bearer\s+\S+)")


def scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log a token: blank values under secret-looking keys and token-shaped strings anywhere."""
    for key, value in list(event.items()):
        if SECRET_KEYS.search(key):
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = SECRET_VALUES.sub("[redacted]", value)
    return event


def configure(level: str = "info", fmt: str = "console", stream: TextIO | None = None) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    out = stream or sys.stderr
    logging.basicConfig(level=numeric, stream=out, format="%(message)s", force=True)
    for noisy in ("taskiq", "tortoise", "aiosqlite", "asyncio", "httpx", "aerich"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
