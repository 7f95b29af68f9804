"""Host monitors and the process-wide service that owns them.

One :class:`HostMonitor` per monitored host (and probe settings), shared by every connection of
the process to that host. It owns one named daemon thread, the *prober*, and at most one
monitoring connection. The prober scans the host's call slots, starts the probe schedule when
a call has been in flight past its grace time, and sends the probes (``SELECT 1``) on the
monitoring connection, opening it when needed through the application connection's own
connect chain (``purpose="auxiliary"``, so auth plugins run and failover lets it pass).

Each probe is judged at its deadline by a timer on sturdydb's process-wide watchdog thread,
not by the prober: a prober stuck in a connect to a frozen host (libpq cannot time a connect
out in under 2 s) cannot delay the verdict. When the judge finds the host unhealthy it aborts
every call in flight to it through the driver dialect's ``abort_connection`` (a socket
shutdown, safe from any thread); the blocked calls return at once with the driver's own
network error, which failover, outside this plugin, recognises.

Lifecycle: the thread is a core :class:`~sturdydb._monitor_thread.BackgroundMonitor` (lazy
start, restart with backoff after an unexpected error, stop without join, fork reset). A
monitor starts on the first call to its host; stops after ``monitor_disposal_time_ms``
without calls (its slots are detached and the next call starts a fresh monitor); everything is
dropped in a forked child (the parent's monitoring connections are left untouched there), and
nothing ever joins a thread, so interpreter exit is never delayed.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sturdydb import register_process_state
from sturdydb.plugin_api import BackgroundMonitor, Deadline, watchdog
from sturdydb_efm.schedule import ProbeSchedule, Verdict

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, HostInfo
    from sturdydb.plugin_api import DriverDialect
    from sturdydb_efm.settings import DetectionRule
    from sturdydb_efm.slots import CallSlot

__all__ = ["HostMonitor", "MonitorKey", "MonitorService", "service"]

log = logging.getLogger("sturdydb.efm")

_now = time.monotonic

#: Shortest pause between two scans of a host's slots (a grace time of 0 would spin).
_MIN_SCAN = 0.01
#: Longest pause: bounds how stale ``last_activity`` and the pruning of dead slots can get.
_MAX_SCAN = 30.0
#: Pause before the prober's loop restarts after an unexpected error (doubling while it
#: keeps failing, up to ``_MAX_RESTART_PAUSE``).
_RESTART_PAUSE = 0.2
_MAX_RESTART_PAUSE = 10.0

MonitorKey = tuple[str, str, tuple[float, int], tuple[tuple[str, str], ...]]

#: Opens a monitoring connection: (context, host, rule, monitoring props) -> driver connection.
Opener = Callable[["ConnectionContext", "HostInfo", "DetectionRule", "dict[str, Any]"], Any]
#: Sends one probe on a monitoring connection and waits for its answer.
Prober = Callable[["DriverDialect", Any], None]


def default_probe(driver: DriverDialect, conn: Any) -> None:
    """``SELECT 1`` on the (autocommit) monitoring connection, in exactly one round trip.

    The driver dialect knows how (mysql-connector's ``cursor()`` would ping first, a second
    round trip that makes a probe of a slow host take twice its latency).
    """
    driver.probe(conn)


class HostMonitor:
    """Monitors one host for every connection of the process that uses it."""

    def __init__(
        self,
        key: MonitorKey,
        host: HostInfo,
        rule: DetectionRule,
        driver: DriverDialect,
        opener: Opener,
        prober: Prober = default_probe,
        on_unhealthy: Callable[[HostMonitor, str], None] | None = None,
        on_idle: Callable[[HostMonitor], bool] | None = None,
    ) -> None:
        self.key = key
        self.host = host
        self.rule = rule
        self.driver = driver
        self._opener = opener
        self._prober = prober
        self._on_unhealthy = on_unhealthy
        self._on_idle = on_idle
        self._cond = threading.Condition(threading.Lock())
        self.slots: list[CallSlot] = []
        self.schedule = ProbeSchedule(rule)
        self.stopping = False
        self._runner = BackgroundMonitor(
            f"sturdydb-efm-{host.url}", self._loop, on_error=self._after_error,
            on_exit=self._on_thread_exit, backoff=_RESTART_PAUSE, max_backoff=_MAX_RESTART_PAUSE,
            description=f"the monitor of {host.url}",
        )
        #: The monitoring connection. Only the prober opens, uses and closes it; other threads
        #: may only abort it, and only while an attempt is in flight (see ``_attempt``).
        self.conn: Any = None
        self._attempt: tuple[int, int] | None = None
        self._timer: Deadline | None = None
        #: While the prober is blocked in a connect, a watchdog timer scans for it.
        self._connecting = False
        self._scan_timer: Deadline | None = None
        self.last_activity = _now()
        self.created = self.last_activity
        # Counters for diagnostics, tests and the benchmark.
        self.probes = 0
        self.failed_probes = 0
        self.connects = 0
        self.detections = 0
        self.aborted_calls = 0

    def __repr__(self) -> str:
        return f"<HostMonitor {self.host.url} slots={len(self.slots)} running={self.schedule.running}>"

    # -- slots (called with the service lock held, never on a call's hot path) ----------
    def add(self, slot: CallSlot) -> None:
        with self._cond:
            if slot not in self.slots:
                self.slots.append(slot)
            slot.monitor = self
            self.last_activity = _now()
            self._cond.notify_all()  # the new slot may need a shorter scan period

    def remove(self, slot: CallSlot) -> None:
        with self._cond:
            try:
                self.slots.remove(slot)
            except ValueError:
                pass
            if slot.monitor is self:
                slot.monitor = None

    # -- thread -------------------------------------------------------------------------
    @property
    def thread(self) -> threading.Thread | None:
        """The prober thread (``None`` before the first start)."""
        return self._runner.thread

    @property
    def restarts(self) -> int:
        """How many times the prober's loop restarted after an unexpected error."""
        return self._runner.restarts

    def start(self) -> None:
        """Start the prober thread (again, when it died)."""
        with self._cond:
            if self.stopping:
                return
            self._runner.start()

    def stop(self) -> None:
        """Stop probing and let the thread exit; never waits for it."""
        with self._cond:
            self.stopping = True
            self.schedule.stop()
            for timer in (self._timer, self._scan_timer):
                if timer is not None:
                    watchdog.unregister(timer)
            self._timer = self._scan_timer = None
            if self._attempt is not None and self.conn is not None:
                self.driver.abort_connection(self.conn)  # unblock a probe stuck on a silent host
            for slot in self.slots:
                if slot.monitor is self:
                    slot.monitor = None
            self.slots.clear()
            self._cond.notify_all()
        self._runner.stop()  # never joins: the thread ends when its loop sees ``stopping``

    def _after_error(self, exc: BaseException) -> None:
        # A monitor that died silently would disable detection for its host: the runner
        # restarts the loop; the monitoring connection may be in any state, so it goes.
        self._drop_connection()

    def _on_thread_exit(self) -> None:
        if self.stopping:
            self._drop_connection()

    # -- the prober's loop ----------------------------------------------------------------
    def _scan(self, now: float) -> tuple[bool, float | None, float]:
        """(a call is overdue, when the next one becomes overdue, the shortest grace).

        Called with the lock held. Forgets slots whose connection was garbage collected and
        updates ``last_activity``.
        """
        overdue = False
        earliest: float | None = None
        shortest = _MAX_SCAN
        last = self.last_activity
        dead: list[CallSlot] = []
        for slot in self.slots:
            started = slot.started
            grace = slot.grace
            if grace < shortest:
                shortest = grace
            if started > 0:
                last = now
                due = started + grace
                if due <= now:
                    overdue = True
                elif earliest is None or due < earliest:
                    earliest = due
            else:
                if -started > last:
                    last = -started
                if slot.context_ref() is None:
                    dead.append(slot)
        for slot in dead:
            self.slots.remove(slot)
            slot.monitor = None
        self.last_activity = last
        return overdue, earliest, shortest

    def _loop(self) -> None:
        schedule = self.schedule
        self._warm_up()
        while True:
            with self._cond:
                if self.stopping:
                    return
                now = _now()
                overdue, earliest, shortest = self._scan(now)
                if not schedule.running and overdue:
                    generation = schedule.begin(now)
                    self._arm(1, generation, now)
                k = schedule.next_attempt(now) if schedule.running else 0
                if k:
                    generation = schedule.generation
                    deadline = schedule.deadline(k)
                    self._attempt = (k, generation)
                else:
                    if schedule.running:
                        wake = schedule.slot_time(max(schedule.attempted_slot, schedule.judged_slot) + 1)
                    else:
                        wake = now + min(max(shortest, _MIN_SCAN), _MAX_SCAN)
                        if earliest is not None and earliest < wake:
                            wake = earliest
                        idle_until = self.last_activity + self.rule.disposal
                        if earliest is None and now >= idle_until and self._on_idle is not None:
                            # Release the lock first: disposal takes the service lock.
                            wake = -1.0
                        elif earliest is None and idle_until < wake:
                            wake = idle_until
                    if wake >= 0:
                        self._cond.wait(max(0.0, wake - now))
                        continue
            if not k:
                # Idle for the disposal time: ask the service to dispose of this monitor
                # (it refuses when a call raced in) and exit when it did.
                assert self._on_idle is not None
                if self._on_idle(self):
                    return
                with self._cond:
                    self.last_activity = _now()
                continue
            answered = self._probe(deadline)
            with self._cond:
                self._attempt = None
                if answered:
                    schedule.answered(k, generation, _now())
                    broken = None
                else:
                    broken, self.conn = self.conn, None
            if broken is not None:
                self.driver.close_quietly(broken)

    def _probe(self, deadline: float) -> bool:
        """Send one probe; whether the host answered (an error from the server counts).

        Without a monitoring connection the probe is the connect itself: a completed connect
        (startup and authentication) is an answer from the server. A monitoring connection
        found broken (the server dropped it while idle) is replaced within the same probe, so a
        stale connection alone never fails a probe.
        """
        self.probes += 1
        retried = False
        while True:
            conn = self.conn
            fresh = conn is None
            try:
                if conn is None:
                    return self._connect() is not None
                self._prober(self.driver, conn)
                return True
            except Exception as exc:
                if not self.driver.is_network_error(exc):
                    # The server answered, only not with rows (too many connections, an
                    # expired password...): it is alive, which is all a probe asks. Anything
                    # else is a bug or a configuration problem, never a reason to abort the
                    # application's calls.
                    if isinstance(exc, self.driver.module.Error):
                        log.debug("probe of %s answered with an error: %s", self.host.url, exc)
                    else:
                        log.exception("probing %s failed unexpectedly; counting it as answered", self.host.url)
                    return True
                with self._cond:
                    if self.conn is conn:
                        self.conn = None
                if conn is not None:
                    self.driver.close_quietly(conn)
                if fresh or retried or _now() >= deadline:
                    return False
                retried = True

    def _warm_up(self) -> None:
        """Open the monitoring connection before any call needs probing.

        Connection setup takes several round trips; done ahead, a probe of a slow host is a
        single round trip and fits its timeout. A failure here is not judged: only scheduled
        probes count.
        """
        if self.conn is not None:
            return
        try:
            conn = self._connect()
        except Exception as exc:
            log.debug("could not open the monitoring connection to %s yet: %s", self.host.url, exc)
            return
        if conn is None:
            return
        with self._cond:
            schedule = self.schedule
            if schedule.running:  # a schedule began meanwhile: the connect answers its probe
                now = _now()
                k = schedule.due_slot(now)
                schedule.attempted_slot = max(schedule.attempted_slot, k)
                schedule.answered(k, schedule.generation, now)

    def _connect(self) -> Any:
        context = self._context()
        if context is None:
            return None
        self.connects += 1
        with self._cond:
            self._connecting = True
            self._arm_scan(_now())
        try:
            conn = self._opener(context, self.host, self.rule, self._monitoring_props())
        finally:
            with self._cond:
                self._connecting = False
        with self._cond:
            if self.stopping:
                stale = conn
                conn = None
            else:
                self.conn = conn
                stale = None
        if stale is not None:
            self.driver.close_quietly(stale)
        return conn

    def _arm_scan(self, now: float) -> None:
        """Scan for overdue calls from the watchdog while the prober is stuck in a connect.

        libpq cannot give up a connect in under 2 s, and a call must not wait for that before
        its host's probing begins. Lock held.
        """
        overdue, earliest, shortest = self._scan(now)
        if overdue and not self.schedule.running:
            self._arm(1, self.schedule.begin(now), now)
        wake = now + min(max(shortest, _MIN_SCAN), _MAX_SCAN)
        if earliest is not None and earliest < wake:
            wake = earliest
        if self._scan_timer is not None:
            watchdog.unregister(self._scan_timer)
        self._scan_timer = watchdog.register(max(0.0, wake - now), self._scan_while_connecting)

    def _scan_while_connecting(self) -> None:
        with self._cond:
            self._scan_timer = None
            if self.stopping or not self._connecting:
                return
            self._arm_scan(_now())
            self._cond.notify_all()

    def _context(self) -> ConnectionContext | None:
        with self._cond:
            for slot in self.slots:
                context = slot.context_ref()
                if context is not None:
                    return context
        return None

    def _monitoring_props(self) -> dict[str, Any]:
        with self._cond:
            for slot in self.slots:
                return slot.monitoring_props
        return {}

    def _drop_connection(self) -> None:
        with self._cond:
            conn, self.conn = self.conn, None
        if conn is not None:
            self.driver.close_quietly(conn)

    # -- judging (on the watchdog thread) ------------------------------------------------
    def _arm(self, k: int, generation: int, now: float) -> None:
        """Judge probe ``k`` at its deadline (lock held)."""
        delay = max(0.0, self.schedule.deadline(k) - now)
        self._timer = watchdog.register(delay, lambda: self._judge(k, generation))

    def _judge(self, k: int, generation: int) -> None:
        reason = ""
        aborted = 0
        with self._cond:
            if self.stopping:
                return
            now = _now()
            overdue, _, _ = self._scan(now)
            schedule = self.schedule
            verdict = schedule.judge(k, generation, overdue)
            if verdict is Verdict.STALE:
                return
            self._timer = None
            if schedule.answered_slot < k:
                self.failed_probes += 1
            if verdict is not Verdict.CONTINUE and self._attempt is not None and self.conn is not None:
                # A probe still waiting when probing ends is stuck on a silent host: free the
                # prober. While probing goes on it keeps waiting instead: a slow host's late
                # answer keeps the monitoring connection, whose re-opening (several round
                # trips) would not fit in a probe timeout on that host.
                self.driver.abort_connection(self.conn)
            if verdict is Verdict.CONTINUE:
                self._arm(k + 1, generation, now)
            elif verdict is Verdict.UNHEALTHY:
                self.detections += 1
                aborted = 0
                for slot in self.slots:
                    if slot.started > 0:
                        # Under the lock: the call is in flight, so its connection is open.
                        slot.driver.abort_connection(slot.conn)
                        aborted += 1
                self.aborted_calls += aborted
                reason = (
                    f"no answer to {self.rule.count} consecutive probes "
                    f"({self.rule.interval * 1000:g} ms apart, {self.rule.probe_timeout * 1000:g} ms "
                    f"to answer); aborted {aborted} call(s) in flight"
                )
            self._cond.notify_all()
        if reason:
            log.warning("host %s is not answering: %s", self.host.url, reason,
                        extra={"sturdydb_event": "monitoring_abort", "sturdydb_host": self.host.url,
                               "sturdydb_aborted_calls": aborted})
            if self._on_unhealthy is not None:
                try:
                    self._on_unhealthy(self, reason)
                except Exception:
                    log.exception("reporting host %s unhealthy failed", self.host.url)

    # -- diagnostics ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "host": self.host.url,
                "slots": len(self.slots),
                "in_flight": sum(1 for s in self.slots if s.started > 0),
                "probing": self.schedule.running,
                "thread_alive": self.thread is not None and self.thread.is_alive(),
                "connected": self.conn is not None,
                "probes": self.probes,
                "failed_probes": self.failed_probes,
                "connects": self.connects,
                "detections": self.detections,
                "aborted_calls": self.aborted_calls,
                "restarts": self.restarts,
            }


class MonitorService:
    """Every host monitor of the process, by host and probe settings.

    An explicit object (the module-level :data:`service`) so tests can inspect and reset it.
    """

    def __init__(self, opener: Opener | None = None, prober: Prober = default_probe) -> None:
        self._lock = threading.Lock()
        self._monitors: dict[MonitorKey, HostMonitor] = {}
        #: Opens monitoring connections; the plugin module installs the real one.
        self.opener = opener
        self._prober = prober
        #: Monitors inherited through fork(): kept referenced, never touched, so the parent's
        #: monitoring connections are not finalised (and closed on the server) by the child.
        self._inherited: list[HostMonitor] = []
        self.on_unhealthy: Callable[[HostMonitor, str], None] | None = None

    @staticmethod
    def key_for(slot: CallSlot) -> MonitorKey:
        props = tuple(sorted((k, repr(v)) for k, v in slot.monitoring_props.items()))
        # By the driver of the monitoring connections: sync and async connections to a host
        # share one monitor (an async connection's monitoring connections are sync ones).
        return (slot.host.url, slot.driver.auxiliary_driver, slot.rule.key(), props)

    def attach(self, slot: CallSlot) -> HostMonitor:
        """Attach ``slot`` to its host's monitor, starting the monitor when needed."""
        key = self.key_for(slot)
        with self._lock:
            monitor = self._monitors.get(key)
            if monitor is None:
                assert self.opener is not None, "MonitorService needs an opener"
                monitor = HostMonitor(
                    key, slot.host, slot.rule, slot.driver, self.opener, self._prober,
                    on_unhealthy=self._report_unhealthy, on_idle=self._dispose,
                )
                self._monitors[key] = monitor
                log.debug("monitoring %s", slot.host.url)
            monitor.add(slot)
            monitor.start()  # no-op when running; restarts a thread that died
        return monitor

    def detach(self, slot: CallSlot) -> None:
        with self._lock:
            monitor = slot.monitor
            if monitor is not None:
                monitor.remove(slot)

    def _dispose(self, monitor: HostMonitor) -> bool:
        """Stop ``monitor`` after its idle time unless a call started meanwhile."""
        with self._lock:
            if self._monitors.get(monitor.key) is not monitor:
                return True
            with monitor._cond:
                slots = list(monitor.slots)
                for slot in slots:
                    slot.monitor = None
                # A call writes ``started`` before it reads ``monitor``: one that began before
                # the detach shows here; one that begins after it sees None and re-attaches.
                if any(slot.started > 0 for slot in slots):
                    for slot in slots:
                        slot.monitor = monitor
                    return False
            del self._monitors[monitor.key]
        monitor.stop()
        log.debug("monitor of %s disposed after %.0f s without calls", monitor.host.url, monitor.rule.disposal)
        return True

    def _report_unhealthy(self, monitor: HostMonitor, reason: str) -> None:
        if self.on_unhealthy is not None:
            self.on_unhealthy(monitor, reason)

    def monitors(self) -> list[HostMonitor]:
        with self._lock:
            return list(self._monitors.values())

    def stats(self) -> dict[str, Any]:
        """Monitors, live prober threads, open monitoring connections and attached slots."""
        monitors = self.monitors()
        return {
            "monitors": len(monitors),
            "threads": sum(1 for m in monitors if m.thread is not None and m.thread.is_alive()),
            "monitoring_connections": sum(1 for m in monitors if m.conn is not None),
            "slots": sum(len(m.slots) for m in monitors),
            "hosts": sorted({m.host.url for m in monitors}),
        }

    def release(self) -> None:
        """Stop every monitor (threads exit on their own; nothing is joined)."""
        with self._lock:
            monitors = list(self._monitors.values())
            self._monitors.clear()
        for monitor in monitors:
            monitor.stop()

    def _after_fork(self) -> None:
        # Only the forking thread exists in the child: the parent's locks may be held forever
        # and its prober threads are gone. Start from scratch; calls re-attach on first use.
        inherited = list(self._monitors.values())
        self._lock = threading.Lock()
        self._monitors = {}
        for monitor in inherited:
            for slot in monitor.slots:
                slot.monitor = None
        self._inherited.extend(inherited)


service = MonitorService()

_services: weakref.WeakSet[MonitorService] = weakref.WeakSet()
_services.add(service)


def _after_fork_in_child() -> None:
    for svc in list(_services):
        svc._after_fork()


def _reset() -> None:
    for svc in list(_services):
        svc.release()


# One piece of sturdydb's process state: reset by sturdydb.reset_process_state() and, through
# the core's single fork handler, in every forked child.
register_process_state("sturdydb_efm.monitor", _reset, after_fork=_after_fork_in_child)


def track(svc: MonitorService) -> MonitorService:
    """Register another service (tests) for the fork reset."""
    _services.add(svc)
    return svc
