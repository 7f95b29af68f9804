"""The shared cluster topology monitor: one per cluster, whatever the number of connections.

A :class:`TopologyMonitor` keeps one connection to the cluster's *verified* writer and reads
the topology through it every ``topology_refresh_ms`` (every
``cluster_topology_high_refresh_rate_ms`` for 30 s after a new writer was found, or at once
when a connection asks). Each read is published to the process-wide
``sturdydb._topology.registry`` entry of the cluster, which every connection shares; the core
broadcasts ``sturdydb_host_list_changed`` from there to the chains that use the cluster.

When the writer is unknown (at start, after the writer connection failed, or when a
connection reports a failure of the writer: :meth:`TopologyMonitor.suspect`), the monitor is
in *panic mode*: one probe thread per known host connects and asks, every
``failover_probe_interval_ms``, "are you the writer?"; the first probe that proves it hands
its connection over and the others stop. Connections that fail over simply wait for a writer verified after their failure
started (:meth:`TopologyMonitor.wait_for_writer`), so failover needs no topology query of its
own and never trusts DNS.

A frozen writer (SIGSTOP, a partition) answers nothing: the monitor's own topology query on it
would hang until its socket timeout (``topology-monitoring-socket_timeout``, 5 s) before panic
mode starts. So when that query has not answered within :data:`DOUBT_AFTER_SECONDS`, when a
plugin reports the writer unavailable (``sturdydb_host_state_changed``), or when a
connection's call on it passes its ``socket_timeout`` (the core's ``sturdydb_host_suspected``,
sent before the cancel: between two polls, every ``topology_refresh_ms``, this is the first
sign of a freeze), the monitor *doubts* the writer (:meth:`TopologyMonitor.doubt`): the same
probes start at once on every other host, beside the writer, which the monitor queries at
once, while the verified writer is kept. A probe that proves another host is the writer
replaces the writer connection (aborting the stuck one); a writer that answers its next query
ends the round (a slow statement on a healthy writer costs one round of probes). Rounds start
at most every :data:`DOUBT_MIN_GAP_SECONDS`; the probe threads are started by the monitor's
launcher thread, never by the caller (the watchdog thread, a cancel thread, a broadcast).
Nothing is routed to a host before a probe verified it, as in panic mode.

The monitor's thread is a core :class:`~sturdydb._monitor_thread.BackgroundMonitor`: a named
daemon started on first use, never joined, restarted with backoff after an unexpected error
(the writer connection is dropped and the writer looked for again). A monitor stops by itself
when no connection of its cluster has been open for ``IDLE_STOP_SECONDS``. After ``fork()``
the child starts with no monitor (the parent's connections are left untouched, never closed
from the child, because closing would end the parent's sessions on the shared sockets).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from sturdydb import HostAvailability, HostInfo, HostRole, on_release, register_process_state
from sturdydb.plugin_api import BackgroundMonitor, bounded, remember_dialect, watchdog

if TYPE_CHECKING:
    from sturdydb import ConnectionContext
    from sturdydb.plugin_api import ClusterTopology, DatabaseDialect, DriverDialect
    from sturdydb_failover.settings import FailoverSettings

__all__ = ["DOUBT_AFTER_SECONDS", "DOUBT_MIN_GAP_SECONDS", "IDLE_STOP_SECONDS", "LOGIN_RETRY_SECONDS", "MonitorRegistry", "TopologyMonitor", "monitors"]

log = logging.getLogger("sturdydb.failover.monitor")

#: A monitor without any open connection of its cluster stops after this long.
IDLE_STOP_SECONDS = 2.0
#: How long the monitor polls at the high rate after it found a new writer (as the reference).
HIGH_RATE_WINDOW_SECONDS = 30.0
#: A host whose probe could not log in is probed again only after this long: a wrong password
#: or an expired token must not become a stream of failed logins (account lockout, log flood).
LOGIN_RETRY_SECONDS = 30.0
#: The monitor's topology query on its writer that has not answered after this long makes it
#: probe every other host beside it (a healthy writer answers in milliseconds).
DOUBT_AFTER_SECONDS = 0.5
#: A doubt round starts at most this long after the previous one started: a stream of slow
#: statements on a healthy writer (each past its socket_timeout) must not become a stream of
#: probe connections. A doubt inside the gap only asks the monitor to query the writer now (if
#: that query hangs, its own doubt comes after DOUBT_AFTER_SECONDS, past the gap).
DOUBT_MIN_GAP_SECONDS = max(DOUBT_AFTER_SECONDS, 0.5)


class TopologyMonitor:
    """Watches one cluster's topology for every connection of this process to it."""

    def __init__(
        self,
        cluster_id: str,
        topology: ClusterTopology,
        driver: DriverDialect,
        dialect: DatabaseDialect,
        pattern: str | None,
        default_port: int | None,
        settings: FailoverSettings,
        seeds: list[HostInfo],
    ) -> None:
        self.cluster_id = cluster_id
        self.topology = topology
        self.driver = driver
        self.dialect = dialect
        self.pattern = pattern
        self.default_port = default_port
        self.settings = settings
        self.seeds = seeds
        self.aux_timeout = float(settings.monitor_props.get("socket_timeout") or 5.0)
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._users: dict[int, weakref.ref[ConnectionContext]] = {}
        self._idle_since: float | None = None
        self._runner = BackgroundMonitor(
            f"sturdydb-topology-{cluster_id}", self._loop, on_error=self._after_error,
            on_exit=self._retire, description=f"the topology monitor of {cluster_id}",
        )
        #: Probes of doubt rounds to start: (host, epoch), or ``None`` to end the launcher.
        self._launches: queue.SimpleQueue[tuple[HostInfo, int] | None] = queue.SimpleQueue()
        self._launcher: threading.Thread | None = None
        self._stopping = False
        self.retired = False
        # The verified writer: its connection (owned by the monitor thread), host and id.
        self._writer_conn: Any = None
        self._writer_host: HostInfo | None = None
        self._writer_id: str | None = None
        self._verified_at = 0.0
        self._suspected = False
        self._refresh_requested = False
        self._high_until = 0.0
        # Panic mode: the probes of one round share an epoch; a new round or a win ends it.
        self._epoch = 0
        #: url -> the epoch of its running probe (a probe of an ended round may still be closing).
        self._probing: dict[str, int] = {}
        self._candidates: dict[str, HostInfo] = {}
        #: This round's hosts whose probe could not log in: url -> when it gave up.
        self._gave_up: dict[str, float] = {}
        #: The epoch of the running doubt round (probes beside a writer that does not answer).
        self._doubt_epoch = -1
        self._doubt_started_at = float("-inf")
        #: How many doubt rounds started, how many found a new writer, and how many ended
        #: because the writer answered (diagnostics/tests); why the last one started.
        self.doubts = 0
        self.doubt_wins = 0
        self.doubts_dismissed = 0
        self.last_doubt_reason = ""
        self.probe_connects = 0  # how many probe connections were opened (diagnostics/tests)

    def __repr__(self) -> str:
        writer = self._writer_host.url if self._writer_host else None
        return f"<TopologyMonitor {self.cluster_id} writer={writer} users={len(self._users)}>"

    # -- users -------------------------------------------------------------------
    def add_user(self, ctx: ConnectionContext) -> bool:
        """Register ``ctx`` as a user; ``False`` when this monitor already retired."""
        key = id(ctx)

        def gone(_: object, key: int = key) -> None:
            with self._cond:
                self._users.pop(key, None)
            self._wake.set()

        with self._cond:
            if self.retired:
                return False
            self._users[key] = weakref.ref(ctx, gone)
            self._idle_since = None
            started = self._runner.thread is not None
        if not started:
            self._start()
        return True

    def remove_user(self, ctx: ConnectionContext) -> None:
        with self._cond:
            self._users.pop(id(ctx), None)
        self._wake.set()

    def _live_user(self) -> ConnectionContext | None:
        with self._cond:
            refs = list(self._users.values())
        for ref in refs:
            ctx = ref()
            if ctx is not None and not ctx.closed:
                return ctx
        return None

    def has_users(self) -> bool:
        return self._live_user() is not None

    # -- what connections ask ----------------------------------------------------------
    @property
    def writer(self) -> HostInfo | None:
        """The verified writer, or ``None`` while the monitor looks for it."""
        return self._writer_host

    def wait_for_writer(self, timeout: float, since: float | None = None) -> HostInfo | None:
        """The writer, once one is verified (at or after ``since``); ``None`` after ``timeout``."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            if since is not None and self._writer_host is not None and self._verified_at < since:
                self._refresh_requested = True
                self._wake.set()
            while True:
                host = self._writer_host
                if host is not None and (since is None or self._verified_at >= since):
                    return host
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping:
                    return None
                self._cond.wait(remaining)

    def suspect(self, host: HostInfo) -> None:
        """A connection to ``host`` failed: if it is (or may be) the writer, verify anew.

        Aborting the monitor's own writer connection unblocks its thread if it is stuck in a
        query on that host; the thread then drops it and probes every host.
        """
        with self._cond:
            writer = self._writer_host
            known = self.topology.find(host.host) is not None
            if writer is not None and (host.url == writer.url or host.host == writer.host or not known):
                self._writer_host = None
                self._suspected = True
                conn = self._writer_conn
            else:
                conn = None
            self._refresh_requested = True
        if conn is not None:
            self.driver.abort_connection(conn)
        self._wake.set()

    def doubt(self, host: HostInfo | None = None, reason: str = "") -> None:
        """The writer (``host``, when it is the writer) may be unreachable: probe every other host now.

        Unlike :meth:`suspect` nothing is dropped: the verified writer stays (connections keep
        routing to it) until a probe proves that another host is the writer (:meth:`_claim`
        then replaces the writer connection and aborts the stuck one), or the writer answers
        the monitor's next topology query, asked for now, which ends the round. A ``host``
        this cluster's topology does not know (an endpoint name) may be the writer: doubted
        too. A round starts at most every :data:`DOUBT_MIN_GAP_SECONDS` and skips hosts whose
        probe could not log in lately (:data:`LOGIN_RETRY_SECONDS`). Never blocks: called from
        the watchdog thread, ``sturdydb-cancel`` threads and broadcasts; the probe threads are
        started by the launcher thread.
        """
        with self._cond:
            writer = self._writer_host
            if (writer is None or self._writer_conn is None or self._stopping
                    or self._doubt_epoch == self._epoch):
                return  # panic mode (every host is probed already), or a round runs
            if (host is not None and host.url != writer.url and host.host != writer.host
                    and self.topology.find(host.host) is not None):
                return  # another known host: not the writer's business
            self._refresh_requested = True  # an answering writer ends a round at once
            now = time.monotonic()
            if now - self._doubt_started_at < DOUBT_MIN_GAP_SECONDS:
                # A round ended (the writer answered) moments ago: only the query of the writer
                # (if it hangs, the watchdog doubts again after DOUBT_AFTER_SECONDS).
                self._wake.set()
                return
            epoch = self._epoch
            self._doubt_epoch = epoch
            self._doubt_started_at = now
            self.doubts += 1
            self.last_doubt_reason = reason
            self._candidates = {h.url: h for h in self._probe_targets()}
            new = self._claim_probes(epoch, now, skip=writer.url)
        log.info("topology monitor of %s doubts the writer %s (%s); probing %s beside it",
                 self.cluster_id, writer.url, reason or "no reason given", [h.url for h in new])
        for target in new:
            self._launches.put((target, epoch))
        self._wake.set()

    def request_refresh(self) -> None:
        with self._cond:
            self._refresh_requested = True
        self._wake.set()

    # -- lifecycle -----------------------------------------------------------------------
    def _start(self) -> None:
        with self._cond:
            if self._runner.thread is not None or self.retired:
                return
        self._runner.start()

    def _launch_probes(self) -> None:
        """The launcher thread: start the probes :meth:`doubt` asked for, until the monitor stops.

        ``Thread.start`` waits for the new thread to run, which on a loaded machine can take
        milliseconds per probe: too long for the watchdog thread, whose other deadlines wait.
        """
        while True:
            item = self._launches.get()
            if item is None or self._stopping:
                return
            host, epoch = item
            try:
                self._spawn_probe(host, epoch)  # a probe of an ended round returns at once
            except Exception as exc:  # no thread could start: the round goes on without it
                log.warning("topology monitor of %s could not start a probe of %s: %s",
                            self.cluster_id, host.url, exc)
                with self._cond:
                    if self._probing.get(host.url) == epoch:
                        del self._probing[host.url]

    def stop(self) -> None:
        """Stop the thread and its probes; never blocks (connections are aborted, not joined)."""
        with self._cond:
            self._stopping = True
            self.retired = True
            self._epoch += 1
            conn = self._writer_conn
            self._writer_host = None
            self._cond.notify_all()
        if conn is not None:
            self.driver.abort_connection(conn)
        self._wake.set()
        self._launches.put(None)
        self._runner.stop()  # never joins: the thread ends when its loop sees ``_stopping``

    # -- the monitor thread ------------------------------------------------------------
    def _loop(self) -> None:
        """The thread's body; returns when the monitor stops (unused, or ``stop``)."""
        if self._launcher is None:  # started here, not on the first connection's thread
            launcher = threading.Thread(target=self._launch_probes, daemon=True,
                                        name=f"sturdydb-topology-launcher-{self.cluster_id}")
            launcher.start()  # if it cannot start, the restarted loop tries again
            self._launcher = launcher
        while not self._stopping:
            self._wake.clear()
            if not self._check_users():
                return
            if self._writer_conn is None:
                self._panic()
                continue
            self._poll_writer()
            if self._writer_conn is None:
                continue
            now = time.monotonic()
            fast = now < self._high_until or self._refresh_requested
            self._wake.wait(self.settings.high_refresh if fast else self.settings.refresh)

    def _after_error(self, exc: BaseException) -> None:
        """The loop raised: drop the writer connection (any state) and look for the writer anew."""
        with self._cond:
            self._epoch += 1  # this round's probes stop
            conn, self._writer_conn = self._writer_conn, None
            self._writer_host = None
            self._cond.notify_all()
        if conn is not None:
            self.driver.close_quietly(conn)

    def _retire(self) -> None:
        """The thread ends: nothing of this monitor may be used again."""
        with self._cond:
            self.retired = True
            self._stopping = True
            self._epoch += 1
            conn, self._writer_conn = self._writer_conn, None
            self._writer_host = None
            self._cond.notify_all()
        self._launches.put(None)
        if conn is not None:
            self.driver.close_quietly(conn)
        monitors.discard(self)

    def _check_users(self) -> bool:
        """False when the monitor has been unused long enough to stop."""
        if self.has_users():
            self._idle_since = None
            return True
        now = time.monotonic()
        with self._cond:
            if self._idle_since is None:
                self._idle_since = now
            if now - self._idle_since < IDLE_STOP_SECONDS:
                wait = IDLE_STOP_SECONDS - (now - self._idle_since)
            elif self._live_user() is None:  # re-checked under the lock add_user takes
                self.retired = True
                log.debug("topology monitor of %s stops: no connection uses it", self.cluster_id)
                return False
            else:
                wait = IDLE_STOP_SECONDS
        self._wake.wait(wait)
        return not self._stopping

    def _poll_writer(self) -> None:
        conn = self._writer_conn
        try:
            if self._suspected:
                raise ConnectionError("a connection reported a failure of this writer")
            # A query that does not answer soon starts the doubt round beside it (not
            # exclusive: doubt takes the monitor's lock; a late call only requests a refresh).
            doubt = watchdog.register(DOUBT_AFTER_SECONDS, partial(
                self.doubt, None, f"its topology query did not answer within {DOUBT_AFTER_SECONDS:g} s"))
            try:
                hosts = bounded(self.driver, conn, self.aux_timeout, lambda: self._read_topology(conn, None))
            finally:
                watchdog.unregister(doubt)
            writer = next((h for h in hosts if h.role is HostRole.WRITER), None)
            if writer is None or writer.host_id != self._writer_id:
                raise ConnectionError(f"the topology now names {writer} as the writer")
        except Exception as exc:
            lost = self._writer_host
            with self._cond:
                # A doubt round's probe may have verified a new writer meanwhile (and aborted
                # this connection): that one stays.
                replaced = self._writer_conn is not conn
                if not replaced:
                    self._writer_conn = None
                    self._writer_host = None
                    self._suspected = False
            if not replaced:
                log.info("topology monitor of %s lost the writer %s (%s); probing every host",
                         self.cluster_id, lost, exc)
            self.driver.close_quietly(conn)
            return
        self._publish(hosts)
        with self._cond:
            if self._writer_conn is conn and not self._suspected:
                if self._doubt_epoch == self._epoch:
                    self._epoch += 1  # the writer answered: the doubt round's probes stop
                    self.doubts_dismissed += 1
                self._writer_host = writer
                self._verified_at = time.monotonic()
                self._refresh_requested = False
                self._cond.notify_all()

    def _read_topology(self, conn: Any, fallback: HostInfo | None) -> list[HostInfo]:
        """The topology through ``conn``.

        Without a topology-capable dialect (plain hosts) the host proven to be the writer
        (``fallback``, or the verified writer if ``conn`` still is one) is the writer and every
        other known host a reader, so the next failover still knows every host.
        """
        if self.dialect.has_topology and self.pattern:
            return self.dialect.topology(self.driver, conn, self.pattern, self.default_port)
        if fallback is not None:
            writer = fallback
        elif self._writer_host is not None and self.dialect.is_writer(self.driver, conn):
            writer = self._writer_host
        else:
            return []
        others = [h.with_role(HostRole.READER) for h in self._probe_targets() if h.url != writer.url]
        return [writer.with_role(HostRole.WRITER).with_availability(HostAvailability.AVAILABLE), *others]

    def _probe_targets(self) -> list[HostInfo]:
        """The hosts a probe round tries: the topology, plus every seed for plain hosts."""
        known = list(self.topology.hosts)
        if self.dialect.has_topology and self.pattern:
            return known or list(self.seeds)
        urls = {h.url for h in known}
        return known + [h for h in self.seeds if h.url not in urls]

    def _publish(self, hosts: list[HostInfo]) -> None:
        if not hosts:
            return
        for host in hosts:
            remember_dialect(host.url, self.dialect)
        if self.pattern:
            self.topology.instance_host_pattern = self.pattern
        self.topology.update(hosts)

    # -- panic mode ------------------------------------------------------------------------
    def _panic(self) -> None:
        with self._cond:
            self._epoch += 1
            epoch = self._epoch
            self._probing = {}
            self._gave_up = {}
            self._candidates = {h.url: h for h in self._probe_targets()}
        log.debug("topology monitor of %s probes %s", self.cluster_id, list(self._candidates))
        while not self._stopping:
            with self._cond:
                if self._writer_conn is not None or self._epoch != epoch:
                    return
                new = self._claim_probes(epoch, time.monotonic())
            for host in new:
                self._spawn_probe(host, epoch)
            self._wake.wait(self.settings.high_refresh)
            self._wake.clear()
            if not self.has_users():
                with self._cond:
                    self._epoch += 1
                return

    def _claim_probes(self, epoch: int, now: float, skip: str | None = None) -> list[HostInfo]:
        """The candidates (but ``skip``) that need a probe in round ``epoch``, marked as probed:
        none runs for this round yet and its login did not fail within LOGIN_RETRY_SECONDS.
        Called with ``self._cond`` held."""
        new = [h for url, h in self._candidates.items()
               if url != skip and self._probing.get(url) != epoch
               and now - self._gave_up.get(url, -LOGIN_RETRY_SECONDS) >= LOGIN_RETRY_SECONDS]
        self._probing.update((h.url, epoch) for h in new)
        return new

    def _spawn_probe(self, host: HostInfo, epoch: int) -> None:
        threading.Thread(target=self._probe, args=(host, epoch),
                         name=f"sturdydb-topology-probe-{host.host}", daemon=True).start()

    def _probe(self, host: HostInfo, epoch: int) -> None:
        """Connect to ``host`` and ask whether it is the writer until a probe wins."""
        interval = self.settings.probe_interval
        conn: Any = None
        next_topology_read = 0.0
        failures = 0
        try:
            while self._epoch == epoch and not self._stopping:
                if conn is None:
                    try:
                        conn = self._open(host)
                        failures = 0
                    except Exception as exc:
                        if self.driver.is_login_error(exc):
                            self._give_up(host, epoch, exc)
                            return
                        failures += 1
                        if not self.driver.is_network_error(exc):
                            # Unexpected errors back off (capped) instead of hammering.
                            time.sleep(min(10.0, interval * 2 ** min(failures, 6)))
                        else:
                            time.sleep(interval)
                        continue
                try:
                    is_writer = bounded(self.driver, conn, self.aux_timeout,
                                        partial(self.dialect.is_writer, self.driver, conn))
                    if is_writer:
                        hosts = bounded(self.driver, conn, self.aux_timeout,
                                        partial(self._read_topology, conn, host))
                        if self._claim(conn, host, hosts, epoch):
                            conn = None  # the monitor owns it now
                        return
                    now = time.monotonic()
                    if self.dialect.has_topology and self.pattern and now >= next_topology_read:
                        # A reader may already know hosts we do not (a new instance): probe them too.
                        next_topology_read = now + self.settings.reader_topology_refresh
                        hosts = bounded(self.driver, conn, self.aux_timeout,
                                        partial(self._read_topology, conn, None))
                        with self._cond:
                            for h in hosts:
                                self._candidates.setdefault(h.url, h)
                except Exception as exc:
                    log.debug("topology probe of %s failed: %s", host.url, exc)
                    self.driver.close_quietly(conn)
                    conn = None
                time.sleep(interval)
        finally:
            if conn is not None:
                self.driver.close_quietly(conn)
            with self._cond:
                if self._probing.get(host.url) == epoch:
                    del self._probing[host.url]

    def _give_up(self, host: HostInfo, epoch: int, exc: BaseException) -> None:
        """Stop probing ``host`` for :data:`LOGIN_RETRY_SECONDS`; warn once per round."""
        with self._cond:
            if self._epoch != epoch:
                return
            first = host.url not in self._gave_up
            self._gave_up[host.url] = time.monotonic()
        log.log(logging.WARNING if first else logging.DEBUG,
                "topology probe of %s cannot log in (%s); not retried for %g s (check the "
                "credentials or topology-monitoring- properties)", host.url, exc, LOGIN_RETRY_SECONDS)

    def _claim(self, conn: Any, probed: HostInfo, hosts: list[HostInfo], epoch: int) -> bool:
        """First proven writer wins: make ``conn`` the monitor's writer connection."""
        writer = next((h for h in hosts if h.role is HostRole.WRITER), None)
        if writer is None:
            return False
        with self._cond:
            if self._epoch != epoch or self._stopping:
                return False
            # In a doubt round the old writer connection is still held (its query hangs):
            # the proven writer replaces it. In panic mode there is none.
            stuck = self._writer_conn
            if stuck is not None and self._doubt_epoch != epoch:
                return False
            if stuck is not None:
                self.doubt_wins += 1
            self._writer_conn = conn
            self._writer_host = writer
            self._writer_id = writer.host_id
            self._suspected = False
            self._refresh_requested = False
            now = time.monotonic()
            self._verified_at = now
            self._high_until = now + HIGH_RATE_WINDOW_SECONDS
            self._epoch += 1  # the other probes stop
            self._cond.notify_all()
        if stuck is not None:
            self.driver.abort_connection(stuck)  # the monitor thread's query returns and drops it
        log.info("topology monitor of %s verified the writer %s (probed through %s)",
                 self.cluster_id, writer.url, probed.url)
        self._publish(hosts)
        self._wake.set()
        return True

    def _open(self, host: HostInfo) -> Any:
        ctx = self._live_user()
        if ctx is None:
            raise ConnectionError("no open connection of this cluster to borrow credentials from")
        props = ctx.props.copy(**self.settings.monitor_props)
        # ctx.open takes driver keywords from the connection's own properties: a prefixed
        # user/password/database (passthrough properties) must be passed on explicitly.
        registry = props.registry
        passthrough = {key: value for key, value in self.settings.monitor_props.items()
                       if value is not None and (spec := registry.get(key)) is not None and spec.passthrough}
        overrides = {"autocommit": True, **passthrough, **self.settings.monitor_kwargs}
        self.probe_connects += 1
        return ctx.open(host, purpose="auxiliary", props=props, overrides=overrides)


class MonitorRegistry:
    """The process-wide map of cluster id to its running :class:`TopologyMonitor`."""

    def __init__(self) -> None:
        self._monitors: dict[str, TopologyMonitor] = {}
        self._lock = threading.Lock()
        self._release_registered = False
        self._orphans: list[TopologyMonitor] = []

    def get(self, cluster_id: str) -> TopologyMonitor | None:
        found = self._monitors.get(cluster_id)
        if found is not None and found.retired:
            return None
        return found

    def attach(self, ctx: ConnectionContext, factory: Callable[[], TopologyMonitor]) -> TopologyMonitor:
        """The cluster's monitor with ``ctx`` registered as a user (created when needed)."""
        cluster_id = ctx.cluster_id
        while True:
            with self._lock:
                monitor = self._monitors.get(cluster_id)
                if monitor is None or monitor.retired:
                    monitor = factory()
                    self._monitors[cluster_id] = monitor
                if not self._release_registered:
                    on_release(self.release_all)
                    self._release_registered = True
            if monitor.add_user(ctx):
                return monitor

    def discard(self, monitor: TopologyMonitor) -> None:
        with self._lock:
            if self._monitors.get(monitor.cluster_id) is monitor:
                del self._monitors[monitor.cluster_id]

    def all(self) -> list[TopologyMonitor]:
        with self._lock:
            return list(self._monitors.values())

    def release_all(self) -> None:
        """Stop every monitor (``sturdydb.release_resources``); never blocks."""
        with self._lock:
            found = list(self._monitors.values())
            self._monitors.clear()
        for monitor in found:
            monitor.stop()

    def _after_fork(self) -> None:
        # The parent's threads do not exist here and its connections must not be closed from
        # the child (that would end the parent's sessions): keep the objects, forget them.
        self._orphans.extend(self._monitors.values())
        self._monitors = {}
        self._lock = threading.Lock()


monitors = MonitorRegistry()
# One piece of sturdydb's process state: reset by sturdydb.reset_process_state() and, through
# the core's single fork handler, in every forked child.
register_process_state("sturdydb_failover.monitor", monitors.release_all, after_fork=monitors._after_fork)
