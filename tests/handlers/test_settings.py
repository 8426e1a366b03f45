"""Settings from the environment: the embedded default, the queue backends, and one-line errors."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.notifiers import OutboxNotifier
from handlers.context import Services
from handlers.ports import NullScheduler, SystemClock
from handlers.settings import Settings, load_settings
from models.errors import ConfigError
from tasks.dispatcher import Dispatcher
from tasks.platforms import dry_run
from tasks.runtime import Runtime
from tasks.streams import ResilientStreamClusterBroker
from tasks.worker import run_worker

ALIASES = sorted({str(f.alias) for f in Settings.model_fields.values() if f.alias})
SECRET = "correct-horse-battery-staple-9"
ROOT = Path(__file__).resolve().parents[2]
CliRun = tuple[subprocess.CompletedProcess[str], Path]
HERALD_PREFIXES = ("REDIS_", "DATABASE_URL", "HERALD_", "SLACK_", "TELEGRAM_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Herald variable from the outside and no ``.env`` file: each test sets what it needs."""
    for name in ALIASES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def config_error(monkeypatch: pytest.MonkeyPatch, **values: str) -> str:
    set_env(monkeypatch, **values)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, message
    # the pydantic dump is not chained onto the one-line error
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return message


def test_the_environment_is_clean() -> None:
    assert {"DATABASE_URL", "REDIS_HOST", "REDIS_USE_CLUSTER", "TZ", "HERALD_SECRET_KEY"} <= set(ALIASES)


def test_defaults_give_the_embedded_setup() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite://data/herald.sqlite3"
    assert settings.queue_backend == "memory"
    assert settings.embedded is True
    assert settings.cluster_nodes == []
    assert (settings.tz, settings.zone) == ("UTC", ZoneInfo("UTC"))
    assert settings.publish_mode == "dryrun"
    assert settings.herald_secret_key is None
    assert settings.redis_port == 6379


def test_what_is_built_without_settings_takes_the_settings_defaults() -> None:
    """Each tuning default is written once, in Settings: the dispatcher, the worker, the stream broker and the
    chat's services built without Settings (as tests build them) wait exactly as long (the stuck-claim limit
    was 120 s in the dispatcher and 125.5 s in the chat's /queue status)."""
    settings = load_settings()
    dispatcher = Dispatcher(_never_enqueue)
    services = Services(notifier=OutboxNotifier(), scheduler=NullScheduler(), clock=SystemClock())
    assert dispatcher._stuck_after == services.stuck_after == timedelta(seconds=settings.stuck_after_seconds)
    assert dispatcher._requeue_after == timedelta(seconds=settings.requeue_after_seconds)
    assert dispatcher._lead == timedelta(seconds=settings.dispatch_lead_seconds)
    assert dispatcher._grace == timedelta(seconds=settings.missed_grace_seconds)
    assert dispatcher._max_sleep == settings.dispatch_interval
    assert services.default_timezone == settings.tz
    assert Runtime(publishers=dry_run(), notifier=OutboxNotifier()).concurrency == settings.worker_concurrency
    heartbeat = inspect.signature(run_worker).parameters["report_heartbeat"].default
    assert heartbeat == settings.report_heartbeat_seconds
    reclaim = inspect.signature(ResilientStreamClusterBroker).parameters["reclaim_idle_ms"].default
    assert reclaim == settings.reclaim_idle_seconds * 1000


async def _never_enqueue(chunk: list[tuple[int, datetime]]) -> None:
    raise AssertionError("nothing is due")


def test_the_secrets_the_logs_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        SLACK_BOT_TOKEN="xoxb-1-2-abc",
        SLACK_SIGNING_SECRET="signing-secret-value",
        HERALD_SECRET_KEY=SECRET,
        REDIS_HOST="redis",
        REDIS_PASSWORD="redis-password",
        DATABASE_URL="postgres://herald:db-password@db:5432/herald",
    )
    assert set(load_settings().secret_values) == {
        "xoxb-1-2-abc",
        "signing-secret-value",
        SECRET,
        "redis-password",
        "db-password",
    }


def test_redis_host_selects_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, REDIS_HOST="redis.internal", REDIS_PORT="6380")
    settings = load_settings()
    assert settings.queue_backend == "redis"
    assert (settings.redis_host, settings.redis_port) == ("redis.internal", 6380)
    assert settings.embedded is False


def test_postgres_is_not_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, DATABASE_URL="postgres://herald@db/herald", TZ="Europe/Berlin")
    settings = load_settings()
    assert (settings.queue_backend, settings.embedded) == ("memory", False)
    assert settings.zone == ZoneInfo("Europe/Berlin")


def test_cluster_with_six_nodes_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_USE_CLUSTER", "true")
    for i in range(6, 0, -1):  # set in reverse: the order comes from the index, not the environment
        monkeypatch.setenv(f"REDIS_CLUSTER_HOST_{i}", f"node{i}.redis")
        monkeypatch.setenv(f"REDIS_CLUSTER_PORT_{i}", str(7000 + i))
    settings = load_settings()
    assert settings.queue_backend == "cluster"
    assert settings.cluster_nodes == [(f"node{i}.redis", 7000 + i) for i in range(1, 7)]
    assert settings.embedded is False


def test_cluster_skips_half_configured_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(
        monkeypatch,
        REDIS_USE_CLUSTER="1",
        REDIS_CLUSTER_HOST_1="a",
        REDIS_CLUSTER_PORT_1="7001",
        REDIS_CLUSTER_HOST_2="b",
        REDIS_CLUSTER_PORT_3="7003",
    )
    settings = load_settings()
    assert (settings.queue_backend, settings.cluster_nodes) == ("cluster", [("a", 7001)])


def test_cluster_through_a_single_seed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, REDIS_USE_CLUSTER="true", REDIS_HOST="seed")
    settings = load_settings()
    assert (settings.queue_backend, settings.cluster_nodes) == ("cluster", [])


def test_dotenv_in_the_working_directory_is_read(monkeypatch: pytest.MonkeyPatch, clean_env: Path) -> None:
    (clean_env / ".env").write_text("REDIS_HOST=from-dotenv\nTZ=Asia/Tokyo\n")
    settings = load_settings()
    assert (settings.redis_host, settings.tz) == ("from-dotenv", "Asia/Tokyo")
    monkeypatch.setenv("REDIS_HOST", "from-env")
    assert load_settings().redis_host == "from-env"  # the environment wins over .env


@pytest.mark.parametrize(
    ("env", "variable", "mentions"),
    [
        ({"TZ": "Mars/Olympus"}, "TZ", ["Mars/Olympus", "IANA time zone"]),
        ({"REDIS_PORT": "abc"}, "REDIS_PORT", ["integer", "'abc'"]),
        ({"REDIS_PORT": "70000"}, "REDIS_PORT", ["65535", "70000"]),
        ({"REDIS_PORT": "0"}, "REDIS_PORT", ["1"]),
        ({"REDIS_CLUSTER_PORT_4": "x"}, "REDIS_CLUSTER_PORT_4", ["integer"]),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL", ["mysql", "sqlite", "postgres"]),
        ({"HERALD_PUBLISH_MODE": "yolo"}, "HERALD_PUBLISH_MODE", ["dryrun", "live"]),
        ({"HERALD_WORKER_CONCURRENCY": "0"}, "HERALD_WORKER_CONCURRENCY", ["1"]),
        ({"ENABLE_CRON_JOBS": "perhaps"}, "ENABLE_CRON_JOBS", ["bool"]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str, mentions: list[str]
) -> None:
    message = config_error(monkeypatch, **env)
    assert message.startswith(f"{variable}: "), message
    assert message.endswith(".")
    for word in mentions:
        assert word in message, (word, message)


@pytest.mark.parametrize("value", ["short", "fifteen-chars!!"])
def test_short_secret_key_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    message = config_error(monkeypatch, HERALD_SECRET_KEY=value)
    assert message.startswith("HERALD_SECRET_KEY: "), message
    assert "16" in message
    assert value not in message


def test_first_error_wins_and_other_values_stay_private(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(
        monkeypatch, TZ="Mars/Olympus", HERALD_SECRET_KEY=SECRET, REDIS_PASSWORD=SECRET, SLACK_BOT_TOKEN=SECRET
    )
    assert message.startswith("TZ: ")
    assert SECRET not in message


def test_cluster_without_nodes_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, REDIS_USE_CLUSTER="true")
    assert message.startswith("REDIS_USE_CLUSTER: it is true but neither")
    assert "REDIS_CLUSTER_HOST_1" in message and "REDIS_HOST" in message


def test_cluster_without_nodes_starts_with_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, REDIS_USE_CLUSTER="true")
    assert message.startswith("REDIS_USE_CLUSTER: "), message


def test_cluster_error_does_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(
        monkeypatch,
        REDIS_USE_CLUSTER="true",
        HERALD_SECRET_KEY=SECRET,
        REDIS_PASSWORD="pw-" + SECRET,
        SLACK_BOT_TOKEN="xoxb-" + SECRET,
    )
    assert SECRET not in message, message


def test_bad_database_url_does_not_echo_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, DATABASE_URL="mysql://herald:" + SECRET + "@db/herald")
    assert message.startswith("DATABASE_URL: ")
    assert SECRET not in message, message


def test_short_old_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(monkeypatch, HERALD_SECRET_KEY=SECRET, HERALD_SECRET_KEY_OLD="short")
    assert message.startswith("HERALD_SECRET_KEY_OLD: ")


# --- the command line stops with one line, no traceback ---------------------------------------------------


@pytest.fixture(scope="module")
def bad_tz_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    cwd = tmp_path_factory.mktemp("cli-cwd")
    # rich sizes its console from COLUMNS/LINES: drop them so the run is the same everywhere
    env = {k: v for k, v in os.environ.items() if not k.startswith(HERALD_PREFIXES) and k not in {"COLUMNS", "LINES"}}
    env.update(PYTHONPATH=str(ROOT), TZ="Mars/Olympus")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    return proc, cwd


def test_cli_bad_tz_exits_2_naming_tz(bad_tz_run: CliRun) -> None:
    proc, cwd = bad_tz_run
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.startswith("herald: TZ: ")
    assert "Mars/Olympus" in proc.stderr
    assert proc.stdout == ""
    assert list(cwd.iterdir()) == []  # stopped before creating ./data


def test_cli_bad_tz_error_is_exactly_one_line(bad_tz_run: CliRun) -> None:
    proc, _ = bad_tz_run
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("herald: TZ: ")
