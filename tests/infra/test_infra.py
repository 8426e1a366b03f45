"""Tests of the test infrastructure itself: a real 6-node Redis Cluster (with a failover) and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator

import asyncpg
import pytest
import redis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster

from . import redis_cluster
from .postgres import create_database, drop_database, require_postgres, terminate_backends
from .redis_cluster import (
    ENV_PORTS,
    ClusterError,
    RedisClusterProcess,
    find_free_cluster_ports,
    start_from_env_or_new,
)
from .services import ServiceUnavailableError, require_redis, require_redis_server_binary

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterProcess]:
    """A cluster owned by this module: the failover test kills and restarts one of its masters."""
    with RedisClusterProcess(node_timeout_ms=2000) as started:
        yield started


async def cluster_client(cluster: RedisClusterProcess) -> RedisCluster:
    client = RedisCluster(
        startup_nodes=[AsyncClusterNode(host, port) for host, port in cluster.startup_nodes],
        decode_responses=True,
    )
    await client.initialize()
    return client


def _parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _read_on_replica(port: int, key: str, expect: str, timeout: float = 5.0) -> str | None:
    """GET ``key`` on the replica at ``port`` (READONLY), polling until it equals ``expect`` or time is up."""
    with redis.Redis(port=port, single_connection_client=True, decode_responses=True) as replica:
        replica.execute_command("READONLY")
        deadline = time.monotonic() + timeout
        value: str | None = replica.get(key)
        while value != expect and time.monotonic() < deadline:
            time.sleep(0.05)
            value = replica.get(key)
    return value


# --------------------------------------------------------------------------- service checks


def test_required_services_are_there() -> None:
    require_redis()
    require_postgres()
    server, cli = require_redis_server_binary()
    assert os.path.basename(server) == "redis-server"
    assert os.path.basename(cli) == "redis-cli"


def test_missing_services_fail_with_how_to_start_them() -> None:
    closed_port = find_free_cluster_ports(1)[0]
    with pytest.raises(ServiceUnavailableError, match=rf"127\.0\.0\.1:{closed_port}.*redis-server --daemonize yes"):
        require_redis(port=closed_port)
    with pytest.raises(ServiceUnavailableError, match=r"PostgreSQL is not reachable on .*pg_ctlcluster"):
        require_postgres(f"postgresql://postgres@127.0.0.1:{closed_port}")
    assert not issubclass(ServiceUnavailableError, pytest.skip.Exception)


# --------------------------------------------------------------------------- Redis Cluster


def test_cluster_topology_and_env(cluster: RedisClusterProcess) -> None:
    ports = cluster.ports
    assert len(set(ports)) == 6
    nodes = cluster.nodes()
    masters = [n for n in nodes if n.is_master]
    assert len(masters) == 3
    assert sum(m.slot_count for m in masters) == 16384
    for master in masters:
        assert [n.port for n in nodes if n.master_id == master.node_id], f"{master.port} has no replica"
    for port in ports:  # every node is our own child process
        assert _parent_pid(cluster.pid_of(port)) == os.getpid()
    env = cluster.env()
    assert env["REDIS_USE_CLUSTER"] == "true"
    assert (env["REDIS_HOST"], env["REDIS_PORT"]) == ("127.0.0.1", str(ports[0]))
    assert [int(env[f"REDIS_CLUSTER_PORT_{i}"]) for i in range(1, 7)] == ports
    assert cluster.url == f"redis://127.0.0.1:{ports[0]}"


async def test_reads_and_writes_across_all_masters(cluster: RedisClusterProcess) -> None:
    client = await cluster_client(cluster)
    try:
        keys = [f"infra:key:{i}" for i in range(120)]
        assert {cluster.master_port_for_key(k) for k in keys} == set(cluster.master_ports())
        for key in keys:
            await client.set(key, key.upper())
        assert [await client.get(k) for k in keys] == [k.upper() for k in keys]
        # An initialised client gives exact counts under concurrency (see the taskiq-redis notes).
        # Batches of 50: the async cluster client raises MaxConnectionsError (not waits) past 100
        # concurrent commands to one node.
        for _ in range(10):
            await asyncio.gather(*(client.incr("infra:counter") for _ in range(50)))
        assert await client.get("infra:counter") == "500"
    finally:
        await client.aclose()


async def test_master_failover_and_rejoin(cluster: RedisClusterProcess) -> None:
    key = "infra:failover"
    old_master = cluster.master_port_for_key(key)
    old_id = next(n.node_id for n in cluster.nodes() if n.port == old_master)
    its_replicas = {n.port for n in cluster.nodes() if n.master_id == old_id}
    client = await cluster_client(cluster)
    try:
        await client.set(key, "before")
        with redis.Redis(port=old_master) as direct:  # make sure the replica has it before the kill
            assert direct.execute_command("WAIT", 1, 2000) >= 1

        cluster.kill_node(old_master)
        killed_at = time.monotonic()
        new_master = await asyncio.to_thread(cluster.wait_for_failover, old_master, 30.0)
        failover_s = time.monotonic() - killed_at
        assert new_master in its_replicas
        assert cluster.master_port_for_key(key) == new_master
        assert failover_s < 20, f"failover took {failover_s:.1f} s with a 2 s node timeout"

        # The client that knew the old topology recovers by itself and writes to the moved slots.
        assert await client.get(key) == "before"
        await client.set(key, "after")
        assert await client.get(key) == "after"
        print(f"\nfailover of {old_master} -> {new_master} took {failover_s:.1f} s")
    finally:
        await client.aclose()

    cluster.restart_node(old_master)
    rejoined = next(n for n in cluster.nodes() if n.port == old_master)
    new_id = next(n.node_id for n in cluster.nodes() if n.port == new_master)
    assert not rejoined.is_master and rejoined.master_id == new_id
    assert _parent_pid(cluster.pid_of(old_master)) == os.getpid()
    assert _read_on_replica(old_master, key, expect="after") == "after"


def test_adopted_cluster_is_shared_not_owned(cluster: RedisClusterProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PORTS, ",".join(map(str, cluster.ports)))
    adopted = start_from_env_or_new()
    assert not adopted.owned and adopted.ports == cluster.ports
    assert adopted.master_ports() == cluster.master_ports()
    with pytest.raises(ClusterError, match="shared"):
        adopted.kill_node(cluster.ports[0])
    adopted.stop()
    with redis.Redis(port=cluster.ports[0]) as node:  # still running
        assert node.ping()

    monkeypatch.setenv(ENV_PORTS, "1,2,3")
    with pytest.raises(ClusterError, match="6 ports"):
        start_from_env_or_new()


def test_start_retries_a_taken_port_and_stop_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    real_finder = redis_cluster.find_free_cluster_ports
    calls: list[list[int]] = []
    with socket.socket() as squatter:  # another process grabbed the first port after we picked it
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        def finder(count: int = 6) -> list[int]:
            ports = real_finder(count) if calls else [taken, *real_finder(count - 1)]
            calls.append(ports)
            return ports

        monkeypatch.setattr(redis_cluster, "find_free_cluster_ports", finder)
        cluster = RedisClusterProcess()
        cluster.start()
    try:
        assert len(calls) == 2 and taken not in cluster.ports
        pids = [cluster.pid_of(p) for p in cluster.ports]
        directory = cluster.directory
        assert directory is not None and directory.is_dir()
    finally:
        cluster.stop()
    assert not directory.exists()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"redis-server {pid} survived stop()"
    cluster.stop()  # idempotent


# --------------------------------------------------------------------------- PostgreSQL


MAINTENANCE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _sessions_on(name: str, expect: list[str] | None = None, within: float = 5.0) -> list[str]:
    """Application names of the sessions on database ``name``, polled until equal to ``expect`` if given.

    Backends exit asynchronously after ``pg_terminate_backend``, hence the polling.
    """
    conn = await asyncpg.connect(MAINTENANCE_URL)
    try:
        deadline = time.monotonic() + within
        while True:
            rows = await conn.fetch("SELECT application_name FROM pg_stat_activity WHERE datname = $1 ORDER BY 1", name)
            names = [row[0] for row in rows]
            if expect is None or names == expect or time.monotonic() > deadline:
                return names
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


def _database_exists(name: str) -> bool:
    async def check() -> bool:
        conn = await asyncpg.connect(MAINTENANCE_URL)
        try:
            return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
        finally:
            await conn.close()

    return asyncio.run(check())


def test_create_terminate_and_drop_database() -> None:
    url = create_database(prefix="herald_infra")
    name = url.rsplit("/", 1)[1]
    assert url.startswith("postgres://postgres@127.0.0.1:5432/herald_infra_")
    assert _database_exists(name)

    async def scenario() -> None:
        app = await asyncpg.connect(url, server_settings={"application_name": "herald-app"})
        other = await asyncpg.connect(url, server_settings={"application_name": "other"})
        await app.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        assert await _sessions_on(name) == ["herald-app", "other"]

        assert await asyncio.to_thread(terminate_backends, url, "herald-app") == 1
        assert await _sessions_on(name, expect=["other"]) == ["other"]
        assert await other.fetchval("SELECT count(*) FROM t") == 1  # spared by the filter

        assert terminate_backends(url) == 1  # the sync wrapper also works inside a running loop
        assert await _sessions_on(name, expect=[]) == []
        app.terminate()
        other.terminate()
        await asyncpg.connect(url)  # left open on purpose: drop_database must still succeed

    try:
        asyncio.run(scenario())
    finally:
        drop_database(url)
    assert not _database_exists(name)
    drop_database(url)  # idempotent
