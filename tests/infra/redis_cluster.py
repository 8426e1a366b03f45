"""A throw-away 6-node Redis Cluster (3 masters + 3 replicas) owned by the test process.

Every node is a ``redis-server`` child process (not daemonized, so we own its PID) on a free
loopback port, in its own directory under a temporary directory, logging to ``redis.log`` there.
Nothing is persisted (``--save "" --appendonly no``); ``nodes.conf`` is kept so a killed node can
be restarted and rejoin.

A cluster adopted from ``HERALD_TEST_CLUSTER_PORTS`` (see :func:`start_from_env_or_new`) is
shared with other tests: :meth:`RedisClusterProcess.stop` leaves it running, and the chaos helpers
(:meth:`~RedisClusterProcess.kill_node`, :meth:`~RedisClusterProcess.restart_node`) refuse to
touch it. Chaos tests must start their own cluster.

``python -m tests.infra.redis_cluster [--ports-file FILE]`` starts a cluster, prints
``HERALD_TEST_CLUSTER_PORTS=...`` and keeps it running until SIGINT/SIGTERM (for a Makefile).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .services import require_redis_server_binary

HOST = "127.0.0.1"
NODE_COUNT = 6
SLOT_COUNT = 16384
BUS_PORT_OFFSET = 10000
ENV_PORTS = "HERALD_TEST_CLUSTER_PORTS"
LOG_NAME = "redis.log"
_BAD_FLAGS = frozenset({"fail", "fail?", "handshake", "noaddr"})
_POLL = 0.1

__all__ = [
    "ENV_PORTS",
    "ClusterError",
    "ClusterNode",
    "RedisClusterProcess",
    "find_free_cluster_ports",
    "parse_cluster_nodes",
    "start_from_env_or_new",
]


class ClusterError(RuntimeError):
    """The test cluster could not be started, did not become healthy, or was misused."""


class _PortTakenError(ClusterError):
    """A node could not bind its port (somebody took it between our check and its start)."""


@dataclass(frozen=True)
class ClusterNode:
    """One line of ``CLUSTER NODES`` as seen by some node."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str | None
    link_state: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def is_myself(self) -> bool:
        return "myself" in self.flags

    @property
    def is_healthy(self) -> bool:
        """Connected and not flagged failing by the node that reported it."""
        return not (self.flags & _BAD_FLAGS) and self.link_state == "connected"

    @property
    def slot_count(self) -> int:
        return sum(end - start + 1 for start, end in self.slots)


def parse_cluster_nodes(text: str) -> list[ClusterNode]:
    """Parse the text of ``CLUSTER NODES`` (migrating/importing ``[...]`` slot entries are ignored)."""
    nodes = []
    for line in text.strip().splitlines():
        fields = line.split()
        address = fields[1].split(",", 1)[0].split("@", 1)[0]
        slots = []
        for item in fields[8:]:
            if item.startswith("["):
                continue
            start, _, end = item.partition("-")
            slots.append((int(start), int(end or start)))
        nodes.append(
            ClusterNode(
                node_id=fields[0],
                port=int(address.rsplit(":", 1)[1] or 0),
                flags=frozenset(fields[2].split(",")),
                master_id=None if fields[3] == "-" else fields[3],
                link_state=fields[7],
                slots=tuple(slots),
            )
        )
    return nodes


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as redis-server does
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def find_free_cluster_ports(count: int = NODE_COUNT) -> list[int]:
    """Return ``count`` distinct free loopback ports whose cluster-bus ports (``+10000``) are free too.

    Ports come from the kernel (bind to port 0). Nothing is reserved: a port can still be taken
    before redis-server binds it, which :meth:`RedisClusterProcess.start` handles by retrying.
    """
    held: list[socket.socket] = []
    chosen: list[int] = []
    try:
        for _ in range(count * 50):
            if len(chosen) == count:
                break
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)  # held open so the kernel does not hand out the same port twice
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
            bus = port + BUS_PORT_OFFSET
            taken = set(chosen) | {p + BUS_PORT_OFFSET for p in chosen}
            if bus <= 65535 and port not in taken and bus not in taken and _port_is_free(bus):
                chosen.append(port)
    finally:
        for sock in held:
            sock.close()
    if len(chosen) < count:
        raise ClusterError(f"could not find {count} free ports with free bus ports (got {chosen})")
    return chosen


def _client(port: int, timeout: float = 2.0) -> redis.Redis:
    """A client that fails at once on a dead node (redis-py would retry a refused connection for ~5 s)."""
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def _command(port: int, *args: str) -> str:
    """Run one command on the node at ``port`` and return its raw text reply (no redis-py parsing)."""
    with _client(port) as client:
        reply = client.execute_command(*args)
    return reply if isinstance(reply, str) else str(reply)


def _cluster_info(port: int) -> dict[str, str]:
    text = _command(port, "CLUSTER", "INFO")
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _cluster_nodes(port: int) -> list[ClusterNode]:
    return parse_cluster_nodes(_command(port, "CLUSTER", "NODES"))


def _replication(port: int) -> dict[str, object]:
    with _client(port) as client:
        info: dict[str, object] = client.info("replication")
    return info


def _wait_until(
    check: Callable[[], list[str]], timeout: float, what: str, details: Callable[[], str] = lambda: ""
) -> None:
    """Poll ``check`` (returns a list of problems) until it returns none; ``ClusterError`` on timeout."""
    deadline = time.monotonic() + timeout
    problems = ["not checked yet"]
    while time.monotonic() < deadline:
        problems = check()
        if not problems:
            return
        time.sleep(_POLL)
    raise ClusterError(f"{what} within {timeout:g} s: " + "; ".join(problems) + details())


def _node_problems(port: int, expected_nodes: int) -> list[str]:
    """Why the node at ``port`` does not see a healthy cluster of ``expected_nodes`` nodes ([] if it does)."""
    try:
        info = _cluster_info(port)
        nodes = _cluster_nodes(port)
        replication = _replication(port)
    except redis.RedisError as exc:
        return [f"{port}: not answering ({exc})"]
    return [
        *_info_problems(port, info, expected_nodes),
        *_gossip_problems(port, nodes),
        *_replication_problems(port, nodes, replication),
    ]


def _info_problems(port: int, info: dict[str, str], expected_nodes: int) -> list[str]:
    """``CLUSTER INFO``: state ok, every slot assigned, every node known."""
    problems = []
    if info.get("cluster_state") != "ok":
        problems.append(f"{port}: cluster_state:{info.get('cluster_state')}")
    if info.get("cluster_slots_assigned") != str(SLOT_COUNT):
        problems.append(f"{port}: cluster_slots_assigned:{info.get('cluster_slots_assigned')}")
    if info.get("cluster_known_nodes") != str(expected_nodes):
        problems.append(f"{port}: knows {info.get('cluster_known_nodes')} nodes, expected {expected_nodes}")
    return problems


def _gossip_problems(port: int, nodes: list[ClusterNode]) -> list[str]:
    """``CLUSTER NODES``: nobody flagged failing or disconnected, every slot-serving master has a replica."""
    problems = [f"{port}: sees {n.port} as {','.join(sorted(n.flags))}" for n in nodes if not n.is_healthy]
    for master in (n for n in nodes if n.is_master and n.slots):
        if not any(n.master_id == master.node_id and n.is_healthy for n in nodes):
            problems.append(f"{port}: master {master.port} has no connected replica")
    return problems


def _replication_problems(port: int, nodes: list[ClusterNode], replication: dict[str, object]) -> list[str]:
    """``INFO replication``: a serving master streams to an online replica; a replica's link is up."""
    myself = next((n for n in nodes if n.is_myself), None)
    if replication.get("role") == "master" and myself is not None and myself.slots:
        if not any(k.startswith("slave") and _is_online(v) for k, v in replication.items()):
            return [f"{port}: master without an online replica (INFO replication)"]
    elif replication.get("role") == "slave" and replication.get("master_link_status") != "up":
        return [f"{port}: replica link {replication.get('master_link_status')}"]
    return []


def _is_online(replica: object) -> bool:
    """True for an ``INFO replication`` ``slaveN`` entry (parsed by redis-py into a dict) that is online."""
    return isinstance(replica, dict) and replica.get("state") == "online"


class RedisClusterProcess:
    """A 6-node Redis Cluster on loopback: started by us (owned) or adopted from running ports.

    Contract: after :meth:`start` returns, every node reports ``cluster_state:ok``, all 16384 slots
    are assigned, and each master has a connected replica. :meth:`stop` is idempotent.
    """

    def __init__(
        self,
        node_timeout_ms: int = 2000,
        startup_timeout: float = 30.0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Prepare (not start) a cluster; ``base_dir`` is where the temp dir goes (default: system temp)."""
        self.node_timeout_ms = node_timeout_ms
        self.startup_timeout = startup_timeout
        self._base_dir = base_dir
        self._ports: list[int] = []
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._commands: dict[int, list[str]] = {}
        self._slots_at_kill: dict[int, tuple[tuple[int, int], ...]] = {}
        self._root: Path | None = None
        self._owned = True
        self._finalizer: weakref.finalize[..., RedisClusterProcess] | None = None

    # ----------------------------------------------------------------- construction

    @classmethod
    def adopt(cls, ports: Sequence[int], timeout: float = 10.0) -> RedisClusterProcess:
        """Wrap an already running, healthy 6-node cluster; we will never stop or kill its nodes."""
        if len(ports) != NODE_COUNT:
            raise ClusterError(f"a test cluster has {NODE_COUNT} nodes, got ports {list(ports)}")
        cluster = cls()
        cluster._owned = False
        cluster._ports = list(ports)
        cluster._wait_healthy(timeout, what=f"adopted cluster {list(ports)} is not healthy")
        return cluster

    def start(self) -> None:
        """Start 6 nodes on free ports, create the cluster and wait until it is healthy.

        Retries with new ports (up to 3 times) if a port is taken between choosing and binding it.
        Raises :class:`ClusterError` (with the node log tails) if the cluster does not become healthy.
        """
        if self._ports:
            raise ClusterError("cluster already started")
        server, cli = require_redis_server_binary()
        for attempt in range(3):
            try:
                self._launch_all(server)
                break
            except _PortTakenError:
                self.stop()
                if attempt == 2:
                    raise
            except BaseException:
                self.stop()
                raise
        try:
            self._create(cli)
            self._wait_healthy(self.startup_timeout, what="cluster did not become healthy")
        except BaseException:
            self.stop()
            raise

    def _launch_all(self, server: str) -> None:
        """Pick free ports, make a temp dir and start the 6 (not yet clustered) nodes."""
        self._root = Path(tempfile.mkdtemp(prefix="herald-redis-cluster-", dir=self._base_dir))
        self._finalizer = weakref.finalize(self, _cleanup, self._procs, self._root)
        self._ports = find_free_cluster_ports()
        for port in self._ports:
            self._launch(port, self._node_command(server, port))
        for port in self._ports:
            self._wait_answering(port, timeout=10.0)

    def _node_command(self, server: str, port: int) -> list[str]:
        assert self._root is not None
        node_dir = self._root / str(port)
        node_dir.mkdir()
        return [
            server,
            "--port", str(port),
            "--bind", HOST,
            "--daemonize", "no",
            "--dir", str(node_dir),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # A replica may always take over, however long its master has been gone.
            "--cluster-replica-validity-factor", "0",
            "--save", "",
            "--appendonly", "no",
            # Replicas sync right away instead of after the default 5 s diskless-sync delay.
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip

    def _launch(self, port: int, command: list[str]) -> None:
        """Start the node process for ``port``, output appended to ``<node dir>/redis.log``."""
        self._commands[port] = command
        with open(self._log_path(port), "ab") as log:
            self._procs[port] = subprocess.Popen(
                command, cwd=self._log_path(port).parent, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def _wait_answering(self, port: int, timeout: float) -> None:
        """Wait until the node answers PING; ``_PortTakenError`` if it died because its port was taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self._procs[port]
            if proc.poll() is not None:
                tail = self.log_tail(port)
                if "Address already in use" in tail:
                    raise _PortTakenError(f"port {port} or {port + BUS_PORT_OFFSET} was taken")
                raise ClusterError(f"redis-server on {port} exited with {proc.returncode}:\n{tail}")
            try:
                with _client(port, timeout=0.5) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            time.sleep(_POLL)
        raise ClusterError(f"redis-server on {port} did not answer PING within {timeout} s:\n{self.log_tail(port)}")

    def _create(self, cli: str) -> None:
        addresses = [f"{HOST}:{port}" for port in self._ports]
        command = [cli, "--cluster", "create", *addresses, "--cluster-replicas", "1", "--cluster-yes"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ClusterError(f"`{' '.join(command)}` did not finish in 60 s") from exc
        if done.returncode != 0:
            raise ClusterError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    # ----------------------------------------------------------------- health

    def _wait_healthy(self, timeout: float, what: str, ports: Iterable[int] | None = None) -> None:
        """Wait until every node in ``ports`` (default: all) sees a healthy cluster of all 6 nodes."""
        checked = list(self._ports if ports is None else ports)

        def problems() -> list[str]:
            return [p for port in checked for p in _node_problems(port, len(self._ports))]

        _wait_until(problems, timeout, what, details=self._log_tails)

    def _log_tails(self) -> str:
        if not self._owned:
            return ""
        return "".join(f"\n--- {self._log_path(p)} ---\n{self.log_tail(p, 15)}" for p in self._ports)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Wait until all 6 nodes are up and the cluster is healthy (the :meth:`start` contract)."""
        self._wait_healthy(timeout, what="cluster did not become healthy")

    # ----------------------------------------------------------------- properties

    @property
    def owned(self) -> bool:
        """True if this object started the nodes (and so may stop, kill and restart them)."""
        return self._owned

    @property
    def ports(self) -> list[int]:
        return list(self._ports)

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [(HOST, port) for port in self._ports]

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT`` of the first node (any node works as a cluster entry point)."""
        self._require_started()
        return f"redis://{HOST}:{self._ports[0]}"

    @property
    def directory(self) -> Path | None:
        """The temporary directory holding one sub-directory per node (None if adopted or stopped)."""
        return self._root

    def env(self) -> dict[str, str]:
        """Herald's environment variables pointing at this cluster."""
        self._require_started()
        env = {"REDIS_USE_CLUSTER": "true", "REDIS_HOST": HOST, "REDIS_PORT": str(self._ports[0])}
        for index, port in enumerate(self._ports, start=1):
            env[f"REDIS_CLUSTER_HOST_{index}"] = HOST
            env[f"REDIS_CLUSTER_PORT_{index}"] = str(port)
        return env

    def _require_started(self) -> None:
        if not self._ports:
            raise ClusterError("cluster not started")

    def _require_owned(self, action: str) -> None:
        self._require_started()
        if not self._owned:
            raise ClusterError(
                f"cannot {action}: this cluster was adopted from {ENV_PORTS} and is shared with other tests; "
                "chaos tests must start their own RedisClusterProcess"
            )

    def _log_path(self, port: int) -> Path:
        assert self._root is not None
        return self._root / str(port) / LOG_NAME

    def log_tail(self, port: int, lines: int = 30) -> str:
        """The last ``lines`` lines of that node's log ('' if there is none)."""
        if self._root is None or not self._log_path(port).exists():
            return ""
        return "\n".join(self._log_path(port).read_text(errors="replace").splitlines()[-lines:])

    # ----------------------------------------------------------------- topology

    def _live_ports(self) -> list[int]:
        if not self._owned:
            return list(self._ports)
        return [port for port, proc in self._procs.items() if proc.poll() is None]

    def _nodes_from_any(self) -> list[ClusterNode]:
        errors = []
        for port in self._live_ports():
            try:
                return _cluster_nodes(port)
            except redis.RedisError as exc:
                errors.append(f"{port}: {exc}")
        raise ClusterError("no node answered CLUSTER NODES: " + "; ".join(errors))

    def nodes(self) -> list[ClusterNode]:
        """``CLUSTER NODES`` as seen by the first live node."""
        return self._nodes_from_any()

    def master_ports(self) -> list[int]:
        """Ports of the masters that serve slots, as seen by the first live node."""
        return sorted(n.port for n in self._nodes_from_any() if n.is_master and n.slots and n.is_healthy)

    def key_slot(self, key: str) -> int:
        """``CLUSTER KEYSLOT key`` (honours ``{hash tags}``)."""
        for port in self._live_ports():
            try:
                return int(_command(port, "CLUSTER", "KEYSLOT", key))
            except redis.RedisError:
                continue
        raise ClusterError("no node answered CLUSTER KEYSLOT")

    def master_port_for_key(self, key: str) -> int:
        """Port of the master currently serving ``key``'s slot (per the first live node's view)."""
        slot = self.key_slot(key)
        for node in self._nodes_from_any():
            if node.is_master and any(start <= slot <= end for start, end in node.slots):
                return node.port
        raise ClusterError(f"no master serves slot {slot} (key {key!r})")

    def pid_of(self, port: int) -> int:
        """PID of the node on ``port`` (our child's PID; for an adopted cluster, from INFO server)."""
        self._require_started()
        if self._owned:
            return self._procs[port].pid
        with _client(port) as client:
            return int(client.info("server")["process_id"])

    # ----------------------------------------------------------------- chaos

    def kill_node(self, port: int) -> None:
        """SIGKILL the node on ``port`` (our own child) and reap it; remembers the slots it served."""
        self._require_owned("kill a node")
        proc = self._procs[port]
        if proc.poll() is not None:
            raise ClusterError(f"node {port} is not running")
        mine = next((n for n in self._nodes_from_any() if n.port == port), None)
        self._slots_at_kill[port] = mine.slots if mine is not None and mine.is_master else ()
        proc.kill()
        proc.wait(timeout=10)

    def restart_node(self, port: int, wait: bool = True, timeout: float = 30.0) -> None:
        """Start the killed node on ``port`` again with its old ``nodes.conf`` so it rejoins the cluster.

        A former master that lost its slots comes back as a replica. With ``wait`` (the default),
        returns only once the whole cluster is healthy again (see :meth:`start`).
        """
        self._require_owned("restart a node")
        if self._procs[port].poll() is None:
            raise ClusterError(f"node {port} is still running")
        self._launch(port, self._commands[port])
        self._wait_answering(port, timeout=10.0)
        if wait:
            self._wait_healthy(timeout, what=f"cluster not healthy after restarting {port}")

    def wait_for_failover(self, old_master_port: int, timeout: float = 30.0) -> int:
        """Wait until a replica has taken over the slots of the dead master and return its port.

        Done when every surviving node agrees that one healthy master other than ``old_master_port``
        serves the slots the old master had when :meth:`kill_node` killed it, no slot is served by
        the old master any more, and every survivor reports ``cluster_state:ok``.
        """
        self._require_started()
        survivors = [p for p in self._live_ports() if p != old_master_port]
        slots = self._slots_at_kill.get(old_master_port, ())
        if not slots:
            raise ClusterError(f"{old_master_port} was not a master killed with kill_node(): no slots to wait for")
        probe = slots[0][0]
        new_master: dict[str, int] = {}

        def problems() -> list[str]:
            found: list[str] = []
            owners = set()
            for port in survivors:
                try:
                    state = _cluster_info(port).get("cluster_state")
                    nodes = _cluster_nodes(port)
                except redis.RedisError as exc:
                    found.append(f"{port}: not answering ({exc})")
                    continue
                if state != "ok":
                    found.append(f"{port}: cluster_state:{state}")
                owner = next((n for n in nodes if any(a <= probe <= b for a, b in n.slots)), None)
                if owner is None or owner.port == old_master_port or not owner.is_healthy:
                    found.append(f"{port}: slot {probe} still on {owner.port if owner else 'nobody'}")
                elif set(owner.slots) != set(slots):
                    found.append(f"{port}: {owner.port} serves {owner.slots}, expected {slots}")
                else:
                    owners.add(owner.port)
            if len(owners) > 1:
                found.append(f"survivors disagree on the new master: {sorted(owners)}")
            if not found:
                new_master["port"] = owners.pop()
            return found

        _wait_until(problems, timeout, f"no failover of {old_master_port}", details=self._log_tails)
        return new_master["port"]

    # ----------------------------------------------------------------- shutdown

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate all nodes (SIGKILL after ``timeout`` s) and delete the temp dir; no-op if adopted."""
        if not self._owned:
            self._ports = []
            return
        _cleanup(self._procs, self._root, timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
        self._procs.clear()
        self._commands.clear()
        self._slots_at_kill.clear()
        self._ports = []
        self._root = None

    def __enter__(self) -> Self:
        if not self._ports:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _cleanup(procs: dict[int, subprocess.Popen[bytes]], root: Path | None, timeout: float = 5.0) -> None:
    """Terminate then kill the given child processes and remove ``root`` (also run at interpreter exit)."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


def _ports_from_env() -> list[int] | None:
    raw = os.environ.get(ENV_PORTS, "").strip()
    if not raw:
        return None
    try:
        ports = [int(item) for item in raw.split(",") if item.strip()]
    except ValueError as exc:
        raise ClusterError(f"{ENV_PORTS}={raw!r} is not a comma-separated list of ports") from exc
    if len(ports) != NODE_COUNT:
        raise ClusterError(f"{ENV_PORTS}={raw!r} must list {NODE_COUNT} ports")
    return ports


def start_from_env_or_new(node_timeout_ms: int = 2000) -> RedisClusterProcess:
    """Return a healthy cluster: the one in ``HERALD_TEST_CLUSTER_PORTS`` (adopted) or a new, started one.

    An adopted cluster is not stopped by :meth:`RedisClusterProcess.stop` and cannot be used for chaos.
    """
    ports = _ports_from_env()
    if ports is not None:
        return RedisClusterProcess.adopt(ports)
    cluster = RedisClusterProcess(node_timeout_ms=node_timeout_ms)
    cluster.start()
    return cluster


def main(argv: Sequence[str] | None = None) -> int:
    """Start a cluster, print ``HERALD_TEST_CLUSTER_PORTS=...``, and run until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description="Run a throw-away 6-node Redis Cluster for the tests.")
    parser.add_argument("--ports-file", help="also write the comma-separated ports to this file")
    parser.add_argument("--node-timeout-ms", type=int, default=2000)
    args = parser.parse_args(argv)
    stop_requested: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_requested.append(signum))
    with RedisClusterProcess(node_timeout_ms=args.node_timeout_ms) as cluster:
        ports = ",".join(map(str, cluster.ports))
        if args.ports_file:
            Path(args.ports_file).write_text(ports + "\n")
        print(f"{ENV_PORTS}={ports}", flush=True)
        try:
            while not stop_requested:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            if args.ports_file:
                Path(args.ports_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
