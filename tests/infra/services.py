"""Checks that the services the test-suite needs are there, with a message saying how to start them.

Every ``require_*`` function returns quietly when the service is usable and otherwise raises
:class:`ServiceUnavailableError`. The error is a plain ``RuntimeError`` on purpose: a missing
service must fail the run, never skip tests.
"""

from __future__ import annotations

import shutil

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

REDIS_START_COMMAND = 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port {port} --save "" --appendonly no'
REDIS_INSTALL_COMMAND = "apt-get install redis-server"


class ServiceUnavailableError(RuntimeError):
    """A service the tests need is not reachable or not installed; the message says how to fix it."""


def require_redis(host: str = "127.0.0.1", port: int = 6379, timeout: float = 2.0) -> None:
    """Return if a Redis server answers PING on ``host:port``, else raise :class:`ServiceUnavailableError`."""
    client = redis.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),  # redis-py would otherwise retry a refused connection for ~5 s
    )
    try:
        if not client.ping():
            raise ServiceUnavailableError(f"Redis on {host}:{port} did not answer PING")
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        command = REDIS_START_COMMAND.format(port=port)
        raise ServiceUnavailableError(
            f"Redis is not reachable on {host}:{port} ({exc}): start it with `{command}`"
        ) from exc
    except redis.RedisError as exc:
        raise ServiceUnavailableError(f"Redis on {host}:{port} refused PING: {exc}") from exc
    finally:
        client.close()


def require_redis_server_binary() -> tuple[str, str]:
    """Return the paths of ``(redis-server, redis-cli)``; :class:`ServiceUnavailableError` if missing."""
    server = shutil.which("redis-server")
    cli = shutil.which("redis-cli")
    if server is None or cli is None:
        found = {"redis-server": server, "redis-cli": cli}
        missing = " and ".join(name for name, path in found.items() if path is None)
        raise ServiceUnavailableError(
            f"{missing} not found on PATH (needed for the test Redis Cluster): "
            f"install it with `{REDIS_INSTALL_COMMAND}`"
        )
    return server, cli
