"""The engine-independent cluster: instances, endpoints, faults, failover and healing.

Owns the Aurora-shaped naming (instance, cluster and cluster-ro host names pinned to loopback
addresses with :func:`sturdydb.map_host`), the per-instance fault proxies, the DNS-delayed
cluster and reader endpoints, the fault log, and the failover/rejoin/heal choreography. The
engine subclasses (:mod:`sturdydb_testing.postgres`, :mod:`sturdydb_testing.mariadb`) only
know how to build, start, promote and rewire their servers and how to publish the emulated
Aurora topology.
"""

from __future__ import annotations

import abc
import concurrent.futures
import contextlib
import enum
import logging
import random
import secrets
import signal
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal

import sturdydb
from sturdydb_testing.events import EventLog, FaultEvent
from sturdydb_testing.lag import LagReporter
from sturdydb_testing.loopback import AddressClaim, claim_address, free_port
from sturdydb_testing.processes import ScratchDir, ServerProcess, install_cleanup_handlers
from sturdydb_testing.proxy import Rewriter, TcpProxy, proxy_loop

__all__ = ["Cluster", "ClusterKind", "Endpoint", "Instance", "InstanceState", "OldWriterFate"]

log = logging.getLogger("sturdydb_testing")

OldWriterFate = Literal["kill", "freeze", "demote"]
#: Which RDS surface the cluster emulates: an Aurora cluster, an RDS Multi-AZ DB cluster
#: (``rds_tools`` functions / ``mysql.rds_topology``), or none (plain replication).
ClusterKind = Literal["aurora", "multi-az", "plain"]
_KINDS = ("aurora", "multi-az", "plain")


class InstanceState(enum.Enum):
    RUNNING = "running"
    FROZEN = "frozen"
    KILLED = "killed"
    STOPPED = "stopped"


class Instance:
    """One database instance: a real server plus the fault proxy clients connect through."""

    def __init__(self, cluster: Cluster, index: int, claim: AddressClaim, host: str) -> None:
        self.cluster = cluster
        self.index = index
        self.name = f"instance-{index}"
        self.host = host
        self.claim = claim
        self.address = claim.address
        self.port = claim.port
        self.direct_address = claim.address
        self.direct_port = free_port(claim.address)
        self.state = InstanceState.STOPPED
        self.process: ServerProcess | None = None
        self.proxy: TcpProxy | None = None
        # Set when this node's data diverged from the writer's (a displaced old writer): it
        # can only come back as a replica through a rebuild.
        self.needs_rebuild = False
        # The primary this replica was last pointed at (None for the writer).
        self.following: Instance | None = None
        self.datadir: Path = Path()
        self.rebuilds = 0
        # RDS's DbiResourceId: stable for the instance's life (Multi-AZ topology ids use it).
        self.resource_id = "db-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(26))

    def __repr__(self) -> str:
        role = "writer" if self.is_writer else "reader"
        return f"<Instance {self.name} {role} {self.state.value} {self.address}:{self.port}>"

    @property
    def is_writer(self) -> bool:
        return self.cluster.writer is self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.state is InstanceState.RUNNING and self.process is not None and self.process.alive()


class Endpoint:
    """A DNS-delayed endpoint (cluster or reader): a proxy on its own loopback address.

    ``targets`` is what "DNS" currently says; :meth:`follow` changes it after the cluster's
    DNS delay. Connections already made stay with the instance they reached, as with DNS.
    """

    def __init__(self, kind: Literal["cluster", "reader", "custom"], host: str, claim: AddressClaim) -> None:
        self.kind = kind
        self.host = host
        self.claim = claim
        self.address = claim.address
        self.port = claim.port
        self.targets: list[Instance] = []
        self._next = 0
        self._generation = 0
        self._applied = 0
        self.proxy = TcpProxy(f"{kind}-endpoint", self.address, self.port, self._choose)

    def __repr__(self) -> str:
        return f"<Endpoint {self.kind} {self.host} -> {[i.name for i in self.targets]}>"

    def _choose(self) -> tuple[str, int] | None:
        targets = self.targets
        if not targets:
            return None
        self._next = (self._next + 1) % len(targets)
        chosen = targets[self._next]
        return chosen.address, chosen.port

    @property
    def has_pending_change(self) -> bool:
        """Whether a scheduled :meth:`follow` has not happened yet."""
        return self._applied != self._generation

    def cancel_pending(self) -> None:
        """Forget scheduled changes (their timers fire but do nothing)."""
        self._generation += 1
        self._applied = self._generation

    def follow(self, targets: list[Instance], delay: float, events: EventLog) -> None:
        """Point at ``targets`` after ``delay`` seconds (at once when ``delay`` <= 0)."""
        self._generation += 1
        generation = self._generation
        if delay <= 0:
            self.targets = list(targets)
            self._applied = generation
            return

        def flip() -> None:
            if generation != self._generation:
                return  # superseded by a later change or cancelled by heal()
            self.targets = list(targets)
            self._applied = generation
            events.record(
                "endpoint_follow", "", f"{self.kind} endpoint -> {', '.join(i.name for i in targets)}"
            )

        proxy_loop().call_later(delay, flip)


def _cluster_hash() -> str:
    # Aurora's cluster identifiers are 12 lowercase letters and digits.
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(12))


class Cluster(abc.ABC):
    """A primary and ``replicas`` replicas of one engine, Aurora-shaped. See the package README."""

    engine: ClassVar[str]
    standard_port: ClassVar[int]
    server_users: ClassVar[tuple[str, ...]]
    shutdown_signal: ClassVar[int] = signal.SIGTERM

    def __init__(
        self,
        replicas: int = 2,
        *,
        aurora: bool = True,
        kind: ClusterKind | None = None,
        dns_delay: float = 5.0,
        promote_delay: float = 1.0,
        name: str | None = None,
        region: str = "us-east-1",
        report_dead_instances: bool = True,
        user: str = "app",
        password: str = "sturdy-app-password",
        dbname: str = "sturdydb",
        instance_prefix: str = "instance",
    ) -> None:
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, not {replicas}")
        if kind is not None and kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {kind!r}")
        self.replica_count = replicas
        #: The emulated surface; ``aurora=False`` is the older spelling of ``kind="plain"``.
        self.kind: ClusterKind = kind or ("aurora" if aurora else "plain")
        #: Whether a topology surface is emulated (published on every change), of either kind.
        self.aurora = self.kind != "plain"
        self.dns_delay = dns_delay
        self.promote_delay = promote_delay
        self.name = name or f"sturdydb-{self.engine}"
        self.region = region
        self.report_dead_instances = report_dead_instances
        self.user = user
        self.password = password
        self.dbname = dbname
        # Instance ids must differ between clusters that share one topology (a global database).
        self.instance_prefix = instance_prefix
        self.cluster_hash = _cluster_hash()
        domain = f"{self.cluster_hash}.{region}.rds.amazonaws.com"
        self.cluster_host = f"{self.name}.cluster-{domain}"
        self.reader_host = f"{self.name}.cluster-ro-{domain}"
        self.instance_host_pattern = f"?.{domain}"
        self.instances: list[Instance] = []
        self._writer: Instance | None = None
        self._events = EventLog()
        self._lock = threading.RLock()
        self._scratch: ScratchDir | None = None
        self._claims: list[AddressClaim] = []
        self._pinned: list[str] = []
        self.cluster_endpoint: Endpoint
        self.reader_endpoint: Endpoint
        self.custom_endpoints: dict[str, Endpoint] = {}
        self.lag = LagReporter(self)
        self.started = False

    # ------------------------------------------------------------------ engine hooks
    @abc.abstractmethod
    def _prepare(self) -> None:
        """Find binaries and anything else needed before the first server (fail loudly)."""

    @abc.abstractmethod
    def _create_primary(self, instance: Instance) -> None:
        """Build a fresh primary in ``instance.datadir``, start it, create users and emulation."""

    @abc.abstractmethod
    def _create_replica(self, instance: Instance, primary: Instance) -> None:
        """Build ``instance`` as a fresh replica of ``primary`` and start it."""

    @abc.abstractmethod
    def _restart(self, instance: Instance) -> None:
        """Start the server again on its existing data (crash recovery after a kill)."""

    @abc.abstractmethod
    def _promote(self, instance: Instance) -> None:
        """Make replica ``instance`` a writable primary (returns once it accepts writes)."""

    @abc.abstractmethod
    def _follow(self, instance: Instance, primary: Instance) -> None:
        """Rewire running replica ``instance`` to replicate from ``primary``."""

    @abc.abstractmethod
    def _publish_topology(self, writer: Instance) -> None:
        """Write the emulated Aurora topology table on ``writer`` (it replicates)."""

    @abc.abstractmethod
    def _wait_replicated(self, writer: Instance, readers: list[Instance], timeout: float) -> None:
        """Return once every reader has replayed everything ``writer`` has written so far."""

    @abc.abstractmethod
    def _pause_apply(self, instance: Instance) -> None:
        """Stop applying the writer's changes on the replica ``instance`` (still receiving them)."""

    @abc.abstractmethod
    def _resume_apply(self, instance: Instance) -> None:
        """Apply again on ``instance``: it catches up."""

    @abc.abstractmethod
    def _write_heartbeat(self, writer: Instance, at: float) -> None:
        """Store ``at`` (epoch seconds) in ``sturdydb_aurora.heartbeat`` on the writer."""

    @abc.abstractmethod
    def _read_heartbeat(self, instance: Instance) -> float | None:
        """The heartbeat ``instance`` has applied (epoch seconds), ``None`` before the first."""

    @abc.abstractmethod
    def _report_lag(self, writer: Instance, lags: dict[str, float]) -> None:
        """Publish instance name -> lag (ms) in the emulated topology's lag column."""

    @abc.abstractmethod
    def _database_key(self) -> str:
        """The driver's keyword for the database name (``dbname`` or ``database``)."""

    def _instance_host(self, index: int, domain: str) -> str:
        """The Aurora-shaped host name of instance ``index`` (a Blue/Green green side adds its suffix)."""
        return f"{self.instance_prefix}-{index}.{domain}"

    def _rewriter_factory(self, instance: Instance) -> Callable[[], Rewriter] | None:
        """A per-connection query rewriter for ``instance``'s proxy (MariaDB's Aurora surface)."""
        return None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.instances}>"

    @property
    def scratch_path(self) -> Path:
        assert self._scratch is not None, "the cluster is not started"
        return self._scratch.path

    def start(self) -> Cluster:
        """Start every server, proxy and endpoint; return once replicas have caught up."""
        if self.started:
            return self
        self._prepare()
        install_cleanup_handlers()
        began = time.monotonic()
        try:
            self._scratch = ScratchDir(self.name)
            domain = self.instance_host_pattern[2:]
            for index in range(1, self.replica_count + 2):
                claim = claim_address(self.standard_port)
                self._claims.append(claim)
                instance = Instance(self, index, claim, self._instance_host(index, domain))
                instance.name = f"{self.instance_prefix}-{index}"
                instance.datadir = self.scratch_path / instance.name / "data"
                instance.datadir.parent.mkdir()
                self.instances.append(instance)
            primary = self.instances[0]
            self._create_primary(primary)
            self._writer = primary
            if self.replica_count:
                with concurrent.futures.ThreadPoolExecutor(
                    self.replica_count, thread_name_prefix="sturdydb-replica"
                ) as pool:
                    for future in [pool.submit(self._create_replica, r, primary) for r in self.instances[1:]]:
                        future.result()
                for replica in self.instances[1:]:
                    replica.following = primary
            for instance in self.instances:
                instance.proxy = TcpProxy(
                    instance.name,
                    instance.address,
                    instance.port,
                    self._instance_target(instance),
                    self._rewriter_factory(instance),
                )
                instance.proxy.start()
            cluster_claim = claim_address(self.standard_port)
            reader_claim = claim_address(self.standard_port)
            self._claims += [cluster_claim, reader_claim]
            self.cluster_endpoint = Endpoint("cluster", self.cluster_host, cluster_claim)
            self.reader_endpoint = Endpoint("reader", self.reader_host, reader_claim)
            self._point_endpoints(delay=0)
            self.cluster_endpoint.proxy.start()
            self.reader_endpoint.proxy.start()
            self._pin_names()
            if self.aurora:
                self._publish_topology(primary)
            self.started = True
            self.wait_for_replication(timeout=30)
        except BaseException:
            self.stop()
            raise
        self._events.record(
            "start", "", f"{len(self.instances)} instances ready in {time.monotonic() - began:.2f} s"
        )
        log.info("%s started in %.2f s", self.name, time.monotonic() - began)
        return self

    def stop(self) -> None:
        """Stop servers and proxies, unpin names, free addresses, remove every file."""
        self.lag.stop()
        with self._lock:
            self.lag.paused.clear()
            for host in self._pinned:
                sturdydb.unmap_host(host)
            self._pinned.clear()
            proxies: list[TcpProxy] = [i.proxy for i in self.instances if i.proxy is not None]
            endpoints: list[Endpoint | None] = [getattr(self, "cluster_endpoint", None),
                                                getattr(self, "reader_endpoint", None),
                                                *self.custom_endpoints.values()]
            for endpoint in endpoints:
                if endpoint is not None:
                    endpoint.cancel_pending()
                    proxies.append(endpoint.proxy)
            for proxy in proxies:
                with contextlib.suppress(Exception):
                    proxy.close()
            self.custom_endpoints.clear()
            for instance in self.instances:
                if instance.process is not None:
                    instance.process.kill()
                instance.state = InstanceState.STOPPED
            if self._scratch is not None:
                self._scratch.remove()
                self._scratch = None
            for claim in self._claims:
                claim.release()
            self._claims.clear()
            self.started = False

    def _pin_names(self) -> None:
        pins = [(i.host, i.address, i.port) for i in self.instances]
        pins += [
            (self.cluster_host, self.cluster_endpoint.address, self.cluster_endpoint.port),
            (self.reader_host, self.reader_endpoint.address, self.reader_endpoint.port),
        ]
        for host, address, port in pins:
            sturdydb.map_host(host, address, port)
            self._pinned.append(host)

    def _instance_target(self, instance: Instance) -> Callable[[], tuple[str, int] | None]:
        def target() -> tuple[str, int] | None:
            return instance.direct_address, instance.direct_port

        return target

    # ------------------------------------------------------------------ views
    @property
    def writer(self) -> Instance | None:
        """The instance the cluster considers its writer (``None`` only before start)."""
        return self._writer

    @property
    def readers(self) -> list[Instance]:
        return [i for i in self.instances if i is not self._writer]

    @property
    def events(self) -> list[FaultEvent]:
        return self._events.snapshot()

    @property
    def event_log(self) -> EventLog:
        return self._events

    def instance(self, which: Instance | str | int) -> Instance:
        """Look an instance up by object, name (``"instance-2"``), host name or 1-based index."""
        if isinstance(which, Instance):
            if which.cluster is not self:
                raise ValueError(f"{which.name} belongs to another cluster")
            return which
        for candidate in self.instances:
            if which in (candidate.name, candidate.host, candidate.index, str(candidate.index)):
                return candidate
        raise KeyError(f"no instance {which!r} in {self.name}; instances: {[i.name for i in self.instances]}")

    def _resolve_host(self, host: Instance | str | None) -> tuple[str, str, int]:
        """(host name, loopback address, port) for an instance, endpoint name or ``None`` (cluster)."""
        if host is None or host in ("cluster", self.cluster_host):
            return self.cluster_host, self.cluster_endpoint.address, self.cluster_endpoint.port
        if host in ("reader", self.reader_host):
            return self.reader_host, self.reader_endpoint.address, self.reader_endpoint.port
        instance = self.instance(host)
        return instance.host, instance.address, instance.port

    def connect_kwargs(self, host: Instance | str | None = None) -> dict[str, Any]:
        """Driver keyword arguments for the app user; ``host`` keeps its Aurora-shaped name.

        ``host`` is an instance (object, name or index), ``"cluster"``/``"reader"`` or ``None``
        (the cluster endpoint). The name is pinned with :func:`sturdydb.map_host`, so sturdydb
        connects to the loopback address; see :meth:`address_kwargs` for raw drivers.
        """
        name, _, port = self._resolve_host(host)
        return {
            "host": name,
            "port": port,
            "user": self.user,
            "password": self.password,
            self._database_key(): self.dbname,
        }

    def address_kwargs(self, host: Instance | str | None = None) -> dict[str, Any]:
        """Like :meth:`connect_kwargs` but with the loopback address as host (for raw drivers)."""
        _, address, port = self._resolve_host(host)
        return {
            "host": address,
            "port": port,
            "user": self.user,
            "password": self.password,
            self._database_key(): self.dbname,
        }

    def conninfo(self, host: Instance | str | None = None, **extra: object) -> str:
        """``key=value`` connection string form of :meth:`connect_kwargs` plus ``extra``."""
        params: dict[str, object] = {**self.connect_kwargs(host), **extra}
        return " ".join(f"{key}={_quote(value)}" for key, value in params.items())

    @contextlib.contextmanager
    def resolved_in_process(self) -> Iterator[None]:
        """Answer this cluster's Aurora-shaped names in ``socket.getaddrinfo``, in this process.

        For code that resolves host names itself instead of through sturdydb's
        :func:`sturdydb.map_host` (the reference wrapper, whose drivers call
        ``socket.getaddrinfo``, also from asyncio's ``loop.getaddrinfo``). The cluster endpoint's
        name follows the endpoint, so its answer changes after the DNS delay as in Aurora.
        Benchmarks only: the patch is process-wide and undone on exit.
        """
        real = socket.getaddrinfo
        suffix = self.instance_host_pattern[1:]

        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host == self.cluster_host:
                host = self.cluster_endpoint.address
            elif host == self.reader_host:
                host = self.reader_endpoint.address
            elif isinstance(host, str) and host.endswith(suffix):
                host = self.instance(host.split(".", 1)[0]).address
            return real(host, *args, **kwargs)

        socket.getaddrinfo = lookup
        try:
            yield
        finally:
            socket.getaddrinfo = real

    # ------------------------------------------------------------------ faults
    def _proxy(self, instance: Instance) -> TcpProxy:
        assert instance.proxy is not None, "the cluster is not started"
        return instance.proxy

    def kill(self, which: Instance | str | int) -> Instance:
        """SIGKILL the server; its address then refuses connections (a crashed host)."""
        instance = self.instance(which)
        with self._lock:
            if instance.process is not None and instance.process.alive():
                instance.process.kill()
            instance.state = InstanceState.KILLED
            self._events.record("kill", instance.name)
            self._proxy(instance).set_server_down(True)
            if instance is not self._writer:
                self._topology_changed()
        return instance

    def _topology_changed(self) -> None:
        """Republish the emulated topology when the writer can take it (best effort)."""
        writer = self._writer
        if self.aurora and writer is not None and writer.running:
            try:
                self._publish_topology(writer)
            except Exception as exc:  # a fault test may have broken the writer on purpose
                log.warning("could not publish the topology on %s: %s", writer.name, exc)

    def freeze(self, which: Instance | str | int) -> Instance:
        """SIGSTOP the server and its children: connections open but nothing is ever answered."""
        instance = self.instance(which)
        with self._lock:
            if instance.process is None or not instance.process.alive():
                raise RuntimeError(f"cannot freeze {instance.name}: it is {instance.state.value}")
            instance.process.freeze()
            instance.state = InstanceState.FROZEN
            self._events.record("freeze", instance.name)
        return instance

    def thaw(self, which: Instance | str | int) -> Instance:
        """SIGCONT a frozen server."""
        instance = self.instance(which)
        with self._lock:
            if instance.process is not None and instance.state is InstanceState.FROZEN:
                instance.process.thaw()
                instance.state = InstanceState.RUNNING
                self._events.record("thaw", instance.name)
        return instance

    def blackhole(self, which: Instance | str | int) -> Instance:
        """Nothing passes to or from the instance; new connections hang (a network partition)."""
        instance = self.instance(which)
        self._proxy(instance).set_blackhole(True)
        self._events.record("blackhole", instance.name)
        return instance

    def reset_connections(self, which: Instance | str | int) -> int:
        """Abort every current client connection of the instance with a TCP RST."""
        instance = self.instance(which)
        count = self._proxy(instance).reset_connections()
        self._events.record("reset", instance.name, f"{count} connections")
        return count

    def add_latency(self, which: Instance | str | int, seconds: float) -> Instance:
        """Delay every client-to-server chunk by ``seconds`` (each round trip grows by it)."""
        instance = self.instance(which)
        self._proxy(instance).set_latency(seconds)
        self._events.record("latency", instance.name, f"{seconds} s")
        return instance

    def refuse_connections(self, which: Instance | str | int) -> Instance:
        """New connections are refused at once; existing ones keep working."""
        instance = self.instance(which)
        self._proxy(instance).set_refusing(True)
        self._events.record("refuse", instance.name)
        return instance

    def restore(self, which: Instance | str | int) -> Instance:
        """Clear the instance's network faults (blackhole, latency, refusal)."""
        instance = self.instance(which)
        self._proxy(instance).clear_faults()
        self._events.record("restore", instance.name)
        return instance

    def inject_replica_lag(self, which: Instance | str | int) -> Instance:
        """Make a replica fall behind for real: its apply pauses (see :mod:`sturdydb_testing.lag`).

        The replica keeps serving reads of ever older data; the emulated topology reports its
        measured lag (growing) until :meth:`clear_replica_lag`.
        """
        instance = self.instance(which)
        with self._lock:
            if instance is self._writer or not instance.running:
                raise ValueError(f"{instance.name} is not a running replica: only replicas can lag")
            if instance.name not in self.lag.paused:
                self.lag.pause(instance)
                self._events.record("lag", instance.name, "apply paused")
        return instance

    def clear_replica_lag(self, which: Instance | str | int | None = None) -> None:
        """Resume applying on ``which`` (every lagging replica when ``None``); it catches up."""
        with self._lock:
            names = list(self.lag.paused) if which is None else [self.instance(which).name]
            for name in names:
                instance = self.instance(name)
                if instance.running:
                    self.lag.resume(instance)
                else:
                    self.lag.paused.pop(name, None)
                self._events.record("lag_cleared", name)

    def replica_lag_ms(self, which: Instance | str | int) -> float:
        """How far the replica is behind the writer now, measured by the heartbeat (ms)."""
        return self.lag.measured_ms(self.instance(which))

    def add_custom_endpoint(self, identifier: str, members: list[Instance | str | int]) -> Endpoint:
        """A custom endpoint ``<identifier>.cluster-custom-<hash>...`` routing to ``members``.

        Only the network side: connections to its name reach one of the members (round robin).
        Its membership as AWS reports it is the moto emulation's (see
        :mod:`sturdydb_testing.aws`, ``create_db_cluster_endpoint``).
        """
        with self._lock:
            if identifier in self.custom_endpoints:
                raise ValueError(f"custom endpoint {identifier!r} exists already")
            host = f"{identifier}.cluster-custom-{self.instance_host_pattern[2:]}"
            claim = claim_address(self.standard_port)
            self._claims.append(claim)
            endpoint = Endpoint("custom", host, claim)
            endpoint.follow([self.instance(m) for m in members], 0, self._events)
            endpoint.proxy.start()
            self.custom_endpoints[identifier] = endpoint
            sturdydb.map_host(host, endpoint.address, endpoint.port)
            self._pinned.append(host)
            self._events.record("custom_endpoint", "", f"{identifier} -> {[str(m) for m in members]}")
            return endpoint

    # ------------------------------------------------------------------ failover
    def failover(
        self,
        target: Instance | str | int | None = None,
        promote_delay: float | None = None,
        old_writer: OldWriterFate = "kill",
    ) -> Instance:
        """Fail the writer over to ``target`` (default: a random running reader); return it.

        The old writer is killed, frozen or demoted (cleanly stopped, then rejoined as a
        replica); ``promote_delay`` seconds later (default: the cluster's) the target is
        promoted, the other replicas follow it, the emulated topology reports it, and the
        endpoints follow after the DNS delay.
        """
        if old_writer not in ("kill", "freeze", "demote"):
            raise ValueError(f"old_writer must be 'kill', 'freeze' or 'demote', not {old_writer!r}")
        # A paused replica could neither be promoted promptly nor follow the new writer.
        self.clear_replica_lag()
        with self._lock:
            old = self._writer
            assert old is not None, "the cluster is not started"
            if target is None:
                candidates = [i for i in self.readers if i.running]
                if not candidates:
                    raise RuntimeError(f"no running reader to fail over to: {self.instances}")
                new = random.choice(candidates)
            else:
                new = self.instance(target)
                if new is old:
                    raise ValueError(f"{new.name} is already the writer")
                if not new.running:
                    raise RuntimeError(f"cannot promote {new.name}: it is {new.state.value}")
            delay = self.promote_delay if promote_delay is None else promote_delay
            self._events.record(
                "failover_start", old.name, f"{old.name} -> {new.name}, old writer: {old_writer}"
            )
            if old_writer == "kill":
                self.kill(old)
            elif old_writer == "freeze":
                self.freeze(old)
            else:
                self._stop_cleanly(old)
            old.needs_rebuild = True
            if delay > 0:
                time.sleep(delay)
            self._promote(new)
            self._writer = new
            new.following = None
            self._events.record("promote", new.name)
            if self.aurora:
                self._publish_topology(new)
            for reader in self.readers:
                if reader.running and reader is not old:
                    self._follow(reader, new)
                    reader.following = new
            self._point_endpoints(delay=self.dns_delay)
            if old_writer == "demote":
                self.rejoin(old)
            self._events.record("failover_done", new.name)
            return new

    def failover_in_background(
        self,
        target: Instance | str | int | None = None,
        promote_delay: float | None = None,
        old_writer: OldWriterFate = "kill",
    ) -> concurrent.futures.Future[Instance]:
        """:meth:`failover` on a helper thread, so a test can keep working during it."""
        future: concurrent.futures.Future[Instance] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(self.failover(target, promote_delay, old_writer))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

        threading.Thread(target=run, name="sturdydb-testing-failover", daemon=True).start()
        return future

    def _stop_cleanly(self, instance: Instance) -> None:
        if instance.process is not None:
            instance.process.terminate(self.shutdown_signal)
        instance.state = InstanceState.STOPPED
        self._events.record("stop", instance.name)
        self._proxy(instance).set_server_down(True)

    def rejoin(self, which: Instance | str | int) -> Instance:
        """Bring a displaced or dead instance back as a replica of the current writer."""
        instance = self.instance(which)
        with self._lock:
            writer = self._writer
            assert writer is not None
            if instance is writer:
                raise ValueError(f"{instance.name} is the writer; it cannot rejoin as a replica")
            if instance.process is not None and instance.process.alive():
                instance.process.kill()
            self._proxy(instance).set_server_down(True)
            if instance.needs_rebuild or (instance.rebuilds == 0 and instance.process is None):
                instance.rebuilds += 1
                self._create_replica(instance, writer)
                instance.needs_rebuild = False
            else:
                self._restart(instance)
                self._follow(instance, writer)
            instance.following = writer
            instance.state = InstanceState.RUNNING
            self._proxy(instance).set_server_down(False)
            self._events.record("rejoin", instance.name)
            if self.aurora:
                self._publish_topology(writer)
            self._point_endpoints(delay=self.dns_delay)
            return instance

    def heal(self, timeout: float = 60.0) -> None:
        """Back to healthy: every instance up and replicating, no faults, endpoints current.

        The writer may stay the one a failover chose. Cheap when nothing is wrong.
        """
        with self._lock:
            changed = bool(self.lag.paused)
            for instance in self.instances:
                proxy = self._proxy(instance)
                if proxy.blackholed or proxy.latency or proxy.refusing:
                    proxy.clear_faults()
                    changed = True
            writer = self._writer
            assert writer is not None
            if writer.state is InstanceState.FROZEN:
                self.thaw(writer)
                changed = True
            if not writer.running:
                # The writer died without a failover: it recovers in place, as Aurora restarts it.
                if writer.process is not None:
                    writer.process.kill()
                self._restart(writer)
                writer.state = InstanceState.RUNNING
                self._proxy(writer).set_server_down(False)
                self._events.record("restart", writer.name)
                changed = True
            for reader in self.readers:
                if reader.state is InstanceState.FROZEN and not reader.needs_rebuild:
                    self.thaw(reader)
                    changed = True
                if reader.needs_rebuild or not reader.running:
                    self.rejoin(reader)
                    changed = True
                elif reader.following is not writer:
                    # It was frozen during a failover and still points at the old writer.
                    self._follow(reader, writer)
                    reader.following = writer
                    changed = True
            self.clear_replica_lag()  # after thawing: a frozen replica resumes only once it runs
            if self.cluster_endpoint.has_pending_change or self.reader_endpoint.has_pending_change:
                changed = True
            if changed or self._endpoints_stale():
                if self.aurora:
                    self._publish_topology(writer)
                self._point_endpoints(delay=0)
                try:
                    self.wait_for_replication(timeout / 2)
                except TimeoutError:
                    # A replica that cannot follow the new timeline is rebuilt from the writer.
                    for reader in self.readers:
                        reader.needs_rebuild = True
                        self.rejoin(reader)
                    self.wait_for_replication(timeout / 2)
                self._events.record("heal", "")

    def _endpoints_stale(self) -> bool:
        assert self._writer is not None
        want_readers = [i for i in self.readers if i.running] or [self._writer]
        return self.cluster_endpoint.targets != [self._writer] or self.reader_endpoint.targets != want_readers

    def _point_endpoints(self, delay: float) -> None:
        assert self._writer is not None
        readers = [i for i in self.readers if i.state is not InstanceState.KILLED and not i.needs_rebuild]
        self.cluster_endpoint.follow([self._writer], delay, self._events)
        # Aurora's reader endpoint falls back to the writer when there is no reader.
        self.reader_endpoint.follow(readers or [self._writer], delay, self._events)

    def wait_for_replication(self, timeout: float = 10.0) -> None:
        """Return once every running replica has replayed everything the writer has written."""
        writer = self._writer
        assert writer is not None
        readers = [i for i in self.readers if i.running and not i.needs_rebuild
                   and i.name not in self.lag.paused]  # a lagging replica lags on purpose
        self._wait_replicated(writer, readers, timeout)

    def iter_running(self) -> Iterator[Instance]:
        return (i for i in self.instances if i.running)

    def status(self) -> dict[str, Any]:
        """A plain-data description (for the CLI and diagnostics)."""
        return {
            "engine": self.engine,
            "name": self.name,
            "aurora": self.aurora,
            "kind": self.kind,
            "cluster_endpoint": {
                "host": self.cluster_host,
                "address": self.cluster_endpoint.address,
                "port": self.cluster_endpoint.port,
                "targets": [i.name for i in self.cluster_endpoint.targets],
            },
            "reader_endpoint": {
                "host": self.reader_host,
                "address": self.reader_endpoint.address,
                "port": self.reader_endpoint.port,
                "targets": [i.name for i in self.reader_endpoint.targets],
            },
            "instance_host_pattern": self.instance_host_pattern,
            "user": self.user,
            "password": self.password,
            "database": self.dbname,
            "instances": [
                {
                    "name": i.name,
                    "host": i.host,
                    "address": i.address,
                    "port": i.port,
                    "direct_port": i.direct_port,
                    "role": "writer" if i.is_writer else "reader",
                    "state": i.state.value,
                    "pid": i.pid,
                }
                for i in self.instances
            ],
        }


def _quote(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in " '\\"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
