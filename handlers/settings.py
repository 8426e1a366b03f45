"""Configuration, read once from the environment and ``.env`` with pydantic-settings.

Variable names are those operators of the original app already know (``DATABASE_URL``,
``REDIS_USE_CLUSTER``, ``REDIS_CLUSTER_HOST_1`` …). With nothing configured Herald runs on the
embedded default: SQLite under ``./data/``, the in-process queue, the local shell and dry-run
publishing.
"""

from __future__ import annotations

from functools import cached_property
from typing import Final, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.db import dialect_of
from models.errors import ConfigError

CLUSTER_NODES = 6


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field("sqlite://data/herald.sqlite3", alias="DATABASE_URL")

    redis_host: str | None = Field(None, alias="REDIS_HOST")
    redis_port: int = Field(6379, alias="REDIS_PORT", ge=1, le=65535)
    redis_password: str | None = Field(None, alias="REDIS_PASSWORD")
    redis_use_cluster: bool = Field(False, alias="REDIS_USE_CLUSTER")
    redis_cluster_host_1: str | None = Field(None, alias="REDIS_CLUSTER_HOST_1")
    redis_cluster_port_1: int | None = Field(None, alias="REDIS_CLUSTER_PORT_1", ge=1, le=65535)
    redis_cluster_host_2: str | None = Field(None, alias="REDIS_CLUSTER_HOST_2")
    redis_cluster_port_2: int | None = Field(None, alias="REDIS_CLUSTER_PORT_2", ge=1, le=65535)
    redis_cluster_host_3: str | None = Field(None, alias="REDIS_CLUSTER_HOST_3")
    redis_cluster_port_3: int | None = Field(None, alias="REDIS_CLUSTER_PORT_3", ge=1, le=65535)
    redis_cluster_host_4: str | None = Field(None, alias="REDIS_CLUSTER_HOST_4")
    redis_cluster_port_4: int | None = Field(None, alias="REDIS_CLUSTER_PORT_4", ge=1, le=65535)
    redis_cluster_host_5: str | None = Field(None, alias="REDIS_CLUSTER_HOST_5")
    redis_cluster_port_5: int | None = Field(None, alias="REDIS_CLUSTER_PORT_5", ge=1, le=65535)
    redis_cluster_host_6: str | None = Field(None, alias="REDIS_CLUSTER_HOST_6")
    redis_cluster_port_6: int | None = Field(None, alias="REDIS_CLUSTER_PORT_6", ge=1, le=65535)
    queue_name: str = Field("{herald}:publish", alias="HERALD_QUEUE")

    enable_cron_jobs: bool = Field(True, alias="ENABLE_CRON_JOBS")
    enable_system_monitoring: bool = Field(True, alias="ENABLE_SYSTEM_MONITORING")
    enable_auto_scaling: bool = Field(False, alias="ENABLE_AUTO_SCALING")
    cron_api_key: str | None = Field(None, alias="CRON_API_KEY")
    tz: str = Field("UTC", alias="TZ")

    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    telegram_bot_token: str | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_webhook_secret: str | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET")
    # the Bot API, for chatting and for posting to channels alike (tasks/platforms/telegram reads the same variable):
    # requests go to {url}/bot{token}/{method}, files come from {url}/file/bot{token}/{path}
    telegram_api_url: str = Field("https://api.telegram.org", alias="TELEGRAM_API_URL")
    public_url: str | None = Field(None, alias="HERALD_PUBLIC_URL")  # where platforms and browsers reach Herald
    herald_secret_key: str | None = Field(None, alias="HERALD_SECRET_KEY", min_length=16)
    herald_secret_key_old: str | None = Field(None, alias="HERALD_SECRET_KEY_OLD", min_length=16)

    publish_mode: Literal["dryrun", "live"] = Field("dryrun", alias="HERALD_PUBLISH_MODE")
    dispatch_interval: float = Field(0.5, alias="HERALD_DISPATCH_INTERVAL", gt=0, le=60)
    worker_concurrency: int = Field(50, alias="HERALD_WORKER_CONCURRENCY", ge=1, le=10_000)
    task_timeout_seconds: float = Field(60, alias="HERALD_TASK_TIMEOUT", gt=0, le=3600)
    reclaim_idle_seconds: float = Field(120, alias="HERALD_RECLAIM_IDLE", gt=0, le=86_400)
    requeue_after_seconds: float = Field(30, alias="HERALD_REQUEUE_AFTER", gt=0, le=86_400)
    dispatch_lead_seconds: float = Field(0.5, alias="HERALD_DISPATCH_LEAD", ge=0, le=60)
    missed_grace_seconds: float = Field(15 * 60, alias="HERALD_MISSED_GRACE", gt=0, le=7 * 86_400)
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", alias="HERALD_LOG_LEVEL")
    log_format: Literal["console", "json"] = Field("console", alias="HERALD_LOG_FORMAT")

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            dialect_of(value)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("DATABASE_URL ")) from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        return public_url(value)

    @model_validator(mode="after")
    def _cluster_needs_nodes(self) -> Settings:
        if self.redis_use_cluster and not self.cluster_nodes and not self.redis_host:
            raise ValueError(
                "REDIS_USE_CLUSTER: it is true but neither REDIS_CLUSTER_HOST_1/PORT_1… nor REDIS_HOST is set"
            )
        return self

    @property
    def cluster_nodes(self) -> list[tuple[str, int]]:
        nodes = []
        for i in range(1, CLUSTER_NODES + 1):
            host = getattr(self, f"redis_cluster_host_{i}")
            port = getattr(self, f"redis_cluster_port_{i}")
            if host and port:
                nodes.append((str(host), int(port)))
        return nodes

    @property
    def queue_backend(self) -> Literal["memory", "redis", "cluster"]:
        if self.redis_use_cluster:
            return "cluster"
        return "redis" if self.redis_host else "memory"

    @property
    def stuck_after_seconds(self) -> float:
        """How long a claim may stay ``publishing`` before the reconciler takes it for dead: twice the
        task timeout, plus the dispatch lead (a worker claims that early) and 5 s of slack."""
        return self.task_timeout_seconds * 2 + self.dispatch_lead_seconds + 5

    @property
    def report_heartbeat_seconds(self) -> float:
        """How often a worker touches the outcomes it is still telling: well within ``requeue_after_seconds``,
        after which the straggler pass would take them for abandoned."""
        return self.requeue_after_seconds / 3

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The secrets configured (tokens, signing secrets, keys, passwords, the database's password): the logs
        never show them (``bot.logs``)."""
        values = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.telegram_bot_token,
            self.telegram_webhook_secret,
            self.herald_secret_key,
            self.herald_secret_key_old,
            self.redis_password,
            self.cron_api_key,
            urlsplit(self.database_url).password,
        )
        return tuple(v for v in values if v)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def embedded(self) -> bool:
        return dialect_of(self.database_url) == "sqlite" and self.queue_backend == "memory"


def public_url(value: str | None) -> str | None:
    """``HERALD_PUBLIC_URL`` checked: an absolute http(s) URL without a trailing slash, or None when empty."""
    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it must be an absolute http(s) URL such as https://herald.example.com")
    return value.strip().rstrip("/")


#: The settings with nothing configured (no environment, no ``.env``): the defaults of what can also be built
#: without :class:`Settings` (the dispatcher, the worker runtime, the chat's services, in tests) come from
#: here, so each tuning default is written once, on its field above.
DEFAULTS: Final = Settings.model_construct()

SECRET_NAMES = ("KEY", "TOKEN", "SECRET", "PASSWORD", "DATABASE_URL")


def load_settings() -> Settings:
    """Read the settings; a bad value raises ConfigError naming the variable and the problem.

    The message never repeats a secret: values of secret-like variables (and DATABASE_URL, which
    may hold a password) are not echoed.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            name = str(first["loc"][0])
        else:  # a rule across variables: its message starts with the variable it is about
            name, _, message = message.partition(": ")
        raw = first.get("input")
        echo = isinstance(raw, str | int | float) and not any(s in name for s in SECRET_NAMES)
        shown = f" (got {raw!r})" if echo and first["loc"] else ""
        raise ConfigError(f"{name}: {message}{shown}.") from None
