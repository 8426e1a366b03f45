"""The ``herald`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import typer
import uvicorn
import uvloop
from rich.console import Console

from bot import heap, logs
from bot.shell import ShellAdapter, stdin_lines
from bot.wiring import Components, assembled, publishing
from handlers.settings import Settings, load_settings
from models import db as dbmod
from models.errors import ConfigError
from tasks.runtime import worker_name
from tasks.worker import run_worker

app = typer.Typer(
    help="Herald: schedule social-media posts from chat, with approvals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
cluster_app = typer.Typer(help="A local 6-node Redis Cluster for development.", no_args_is_help=True)
cron_app = typer.Typer(help="Recurring series, as /cron in chat.", no_args_is_help=True)
queue_app = typer.Typer(help="The delivery queue, as /queue in chat.", no_args_is_help=True)
telegram_app = typer.Typer(help="Telegram's webhook registration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(cluster_app, name="cluster")
app.add_typer(cron_app, name="cron")
app.add_typer(queue_app, name="queue")
app.add_typer(telegram_app, name="telegram")
err = Console(stderr=True, highlight=False, soft_wrap=True)
DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _settings(log_level: str | None = None) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        err.print(f"herald: {exc}")
        raise typer.Exit(2) from None
    logs.configure_from(settings, level=log_level)
    return settings


def _run(coro: Awaitable[int | None]) -> None:
    try:
        # uvloop: the same asyncio API, with sockets and timers in C (a worker spends less CPU per publish)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            code: int | None = runner.run(coro)  # type: ignore[arg-type]
    except ConfigError as exc:
        err.print(f"herald: {exc}")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        code = 130
    raise typer.Exit(code or 0)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _serve(
    settings: Settings, host: str, port: int, *, workers: int = 1, everything: bool = False, banner: str = ""
) -> None:
    from bot import serving

    try:
        serving.check(settings)
        if banner:
            err.print(f"herald: {banner}")
        code = serving.run(settings, host, port, workers=workers, everything=everything)
    except ConfigError as exc:
        err.print(f"herald: {exc}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def shell(
    as_: str = typer.Option(None, "--as", help="who you are at start (default: your login name)"),
    wait: float = typer.Option(60.0, help="at end of input, wait this long for due posts to be published"),
) -> None:
    """Chat with Herald in this terminal; reads a script when stdin is not a terminal."""
    settings = _settings("warning")
    user = as_ or _login_name()

    async def main() -> int:
        async with assembled(settings, application_name="herald-shell") as comps:
            adapter = ShellAdapter(comps.herald, user=user, media=comps.media.store)
            interactive = sys.stdin.isatty()
            lines = stdin_lines(f"{user}> " if interactive else None)
            # In-process queue: publish here. With Redis, `herald worker` processes publish.
            async with publishing(comps, worker=False):
                return await adapter.run(lines, interactive=interactive, wait=wait)

    _run(main())


class _QuietServer(uvicorn.Server):
    """uvicorn beside the shell: the shell owns Ctrl-C, so the server takes no signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def shell_http_side(settings: Settings, comps: Components, host: str, port: int) -> AsyncIterator[None]:
    """Beside the shell, where HERALD_PUBLIC_URL says platforms and browsers reach Herald: the login pages and the
    signed media links, served on HOST:PORT while the shell runs."""
    if not settings.public_url:
        yield
        return
    from bot.http import create_app
    from bot.serving import login_pages

    app = create_app(settings, lifespan=False, media=comps.media, login=login_pages(settings, comps))
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    err.print(f"herald: logins and media links on http://{host}:{port} (reached as {settings.public_url})")
    try:
        yield
    finally:
        server.should_exit = True
        await task


@app.command()
def run(
    host: str = typer.Option("127.0.0.1", help="Slack over HTTP: where /slack/events (and /healthz) listen"),
    port: int = typer.Option(8000, help="Slack over HTTP: the port"),
) -> None:
    """Run Herald: the chat adapters that are configured, dispatcher and worker, all in one process.

    With SLACK_BOT_TOKEN: Slack (over HTTP on HOST:PORT, or Socket Mode when SLACK_APP_TOKEN is set); with
    TELEGRAM_BOT_TOKEN: Telegram (its webhook on HOST:PORT when TELEGRAM_WEBHOOK_SECRET is set, else polling);
    otherwise the local shell in this terminal, and with HERALD_PUBLIC_URL also the HTTP side on HOST:PORT (the
    login pages of /account connect, the signed media links platforms fetch).
    """
    settings = _settings("warning")  # the terminal is the chat: keep routine logs out of it
    if settings.slack_bot_token or settings.telegram_bot_token:
        logs.configure_from(settings)
        chats = []
        if settings.slack_bot_token and settings.slack_app_token:
            chats.append(f"Slack in Socket Mode (health on http://{host}:{port}/healthz)")
        elif settings.slack_bot_token:
            chats.append(f"Slack over HTTP on http://{host}:{port}/slack/events")
        if settings.telegram_bot_token and settings.telegram_webhook_secret:
            chats.append(f"Telegram by webhook on http://{host}:{port}/telegram/webhook")
        elif settings.telegram_bot_token:
            chats.append("Telegram by polling")
        _serve(settings, host, port, everything=True, banner="; ".join(chats))
    settings_user = _login_name()

    async def main() -> int:
        async with assembled(settings, application_name="herald") as comps:
            adapter = ShellAdapter(comps.herald, user=settings_user, media=comps.media.store)
            interactive = sys.stdin.isatty()
            lines = stdin_lines(f"{adapter.user}> " if interactive else None)
            async with publishing(comps, worker=True), shell_http_side(settings, comps, host, port):
                return await adapter.run(lines, interactive=interactive, wait=60.0)

    _run(main())


@app.command()
def worker(concurrency: int = typer.Option(None, help="publishes at a time (HERALD_WORKER_CONCURRENCY)")) -> None:
    """Publish deliveries from the queue until SIGTERM."""
    settings = _settings()
    if settings.queue_backend == "memory":
        err.print("herald: a separate worker needs a queue: set REDIS_HOST (or REDIS_USE_CLUSTER=true).")
        raise typer.Exit(2)

    async def main() -> int:
        name = worker_name()
        async with assembled(settings, application_name="herald-worker", consumer_name=name) as comps:
            heap.settle()
            stop = asyncio.Event()
            _stop_on_signals(stop)
            await run_worker(
                comps.broker,
                comps.runtime,
                concurrency=concurrency or settings.worker_concurrency,
                stop=stop,
                report_heartbeat=settings.report_heartbeat_seconds,
            )
        return 0

    _run(main())


@app.command()
def dispatcher() -> None:
    """Enqueue deliveries as they come due, until SIGTERM. Several may run at once."""
    settings = _settings()
    if settings.queue_backend == "memory":
        err.print("herald: a separate dispatcher needs a queue: set REDIS_HOST (or REDIS_USE_CLUSTER=true).")
        raise typer.Exit(2)

    async def main() -> int:
        async with assembled(settings, application_name="herald-dispatcher") as comps:
            heap.settle()
            stop = asyncio.Event()
            _stop_on_signals(stop)
            await comps.broker.startup()
            try:
                await comps.dispatcher.run(stop)
            finally:
                await comps.broker.shutdown()
        return 0

    _run(main())


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, min=1, help="processes sharing the port (Slack's click bursts spread over them)"),
) -> None:
    """Run the HTTP side alone: health, readiness, metrics, and Slack's /slack/events when configured.

    Posts are published by `herald worker` and `herald dispatcher` processes (or use `herald run`).
    """
    _serve(_settings(), host, port, workers=workers)


AS_OPTION = typer.Option(None, "--as", help="who runs it (default: your login name); ops or admin for most")
SERIES = typer.Argument(..., help="the series' post number (herald cron list shows them)")


def _command(text: str, as_: str | None) -> None:
    """Run one chat command as ``as_`` and print its replies as the shell shows them; exit 1 if it was refused."""
    settings = _settings("warning")
    user = as_ or _login_name()

    async def main() -> int:
        async with assembled(settings, application_name="herald-cli") as comps:
            replies = await ShellAdapter(comps.herald, user=user, media=comps.media.store).say(text)
        return 1 if any(reply.kind == "error" for reply in replies) else 0

    _run(main())


@cron_app.command("list")
def cron_list(as_: str = AS_OPTION) -> None:
    """The recurring series, with their schedules and next runs."""
    _command("/cron list", as_)


@cron_app.command("status")
def cron_status(as_: str = AS_OPTION) -> None:
    """How many series are active, paused or finished, and their next runs."""
    _command("/cron status", as_)


@cron_app.command("pause")
def cron_pause(series: int = SERIES, as_: str = AS_OPTION) -> None:
    """Pause a series: no runs until it is resumed."""
    _command(f"/cron pause {series}", as_)


@cron_app.command("resume")
def cron_resume(series: int = SERIES, as_: str = AS_OPTION) -> None:
    """Resume a paused series from its next occurrence."""
    _command(f"/cron resume {series}", as_)


@cron_app.command("skip")
def cron_skip(series: int = SERIES, as_: str = AS_OPTION) -> None:
    """Skip a series' next run."""
    _command(f"/cron skip {series}", as_)


@cron_app.command("restart")
def cron_restart(as_: str = AS_OPTION) -> None:
    """Re-read every recurring schedule, repair what is missing and say what was done."""
    _command("/cron restart", as_)


@queue_app.command("status")
def queue_status(as_: str = AS_OPTION) -> None:
    """What the delivery engine is doing now: queued, publishing, scheduled, outcomes, the stream."""
    _command("/queue status", as_)


@queue_app.command("metrics")
def queue_metrics(as_: str = AS_OPTION) -> None:
    """The last 24 hours per platform: outcomes, lateness, report lag, retries, common failures."""
    _command("/queue metrics", as_)


@telegram_app.command("set-webhook")
def telegram_set_webhook(
    url: str = typer.Argument(None, help="where Telegram sends updates (default HERALD_PUBLIC_URL/telegram/webhook)"),
) -> None:
    """Register Herald's webhook with Telegram, with TELEGRAM_WEBHOOK_SECRET and the update types Herald handles."""
    from bot.telegram import app as telegram

    settings = _settings()

    async def main() -> int:
        telegram.check_settings(settings)
        target = telegram.webhook_url(settings, url)
        await telegram.set_webhook(settings, target)
        err.print(f"Telegram sends updates to {target}.")
        return 0

    _run(main())


@telegram_app.command("delete-webhook")
def telegram_delete_webhook() -> None:
    """Remove the webhook: Telegram keeps updates for getUpdates (Herald polls without TELEGRAM_WEBHOOK_SECRET)."""
    from bot.telegram import app as telegram

    settings = _settings()

    async def main() -> int:
        telegram.check_settings(settings)
        await telegram.delete_webhook(settings)
        err.print("Telegram's webhook is removed.")
        return 0

    _run(main())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations the database doesn't have yet."""
    settings = _settings()

    async def main() -> int:
        applied = await dbmod.upgrade(settings.database_url)
        err.print(f"Applied {len(applied)} migration(s)." if applied else "The database is up to date.")
        return 0

    _run(main())


@db_app.command("migrate")
def db_migrate(
    name: str,
    postgres: str = typer.Option(..., help="a scratch PostgreSQL database URL (it gets upgraded)"),
) -> None:
    """Developers: write new migrations for both dialects after changing the models."""
    import tempfile

    def newest(dialect: str) -> Path | None:
        files = sorted(
            (dbmod.MIGRATIONS_ROOT / dialect / "models").glob("[0-9]*_*.py"), key=lambda p: int(p.name.split("_")[0])
        )
        return files[-1] if files else None

    with tempfile.TemporaryDirectory() as tmp:
        for url in (f"sqlite://{tmp}/scratch.sqlite3", postgres):
            # aerich keeps per-dialect state in class attributes: one process per dialect
            code = subprocess.call([sys.executable, "-m", "bot.cli", "db", "migrate-one", name, url])
            if code:
                raise typer.Exit(code)
    sqlite_file, postgres_file = newest("sqlite"), newest("postgres")
    if sqlite_file and postgres_file and sqlite_file.name != postgres_file.name:
        postgres_file.rename(postgres_file.with_name(sqlite_file.name))  # one history, same names


@db_app.command("migrate-one", hidden=True)
def db_migrate_one(name: str, url: str) -> None:
    _settings()

    async def main() -> int:
        created = await dbmod.make_migration(url, name)
        err.print(f"{dbmod.dialect_of(url)}: {created or 'no changes'}")
        return 0

    _run(main())


@cluster_app.command("setup")
def cluster_setup(directory: str = "data/redis-cluster", first_port: int = 7000) -> None:
    """Start a local 6-node Redis Cluster (3 masters, 3 replicas) and print the settings for .env."""
    raise typer.Exit(subprocess.call(["bash", str(DEPLOY / "redis-cluster.sh"), "start", directory, str(first_port)]))


@cluster_app.command("status")
def cluster_status(directory: str = "data/redis-cluster") -> None:
    """Show the local cluster's state."""
    raise typer.Exit(subprocess.call(["bash", str(DEPLOY / "redis-cluster.sh"), "status", directory]))


@cluster_app.command("stop")
def cluster_stop(directory: str = "data/redis-cluster") -> None:
    """Stop the local cluster."""
    raise typer.Exit(subprocess.call(["bash", str(DEPLOY / "redis-cluster.sh"), "stop", directory]))


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "admin"


def main() -> None:
    app()


if __name__ == "__main__":
    main()
