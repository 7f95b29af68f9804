"""Response-time probers for the ``fastest_response`` host selector.

One :class:`ResponseProber` per host, shared by every connection of the process: a named daemon
thread (``sturdydb-response-<host>``, run by :class:`~sturdydb._monitor_thread.BackgroundMonitor`)
started lazily the first time ``fastest_response`` is asked about the host. Every
``response_measurement_interval_ms`` it sends five ``SELECT 1`` probes on its own autocommit
connection and stores their median (one probe that waited for a busy CPU must not make a fast
host look slow for a whole interval); a failed probe or connect stores "unreachable" (infinite)
and the connection is reopened next round. The probe connection is opened through the asking
connection's own plugin chain (``purpose="auxiliary"``: auth plugins run, failover lets it
pass), with ``frt-`` properties applied on top (as the reference wrapper's
``frt-`` prefix); its connect timeout defaults to 10 s. A prober nobody asked about for ten
intervals (at least a minute) stops and closes its connection; :func:`sturdydb.release_resources`
stops all of them.

The chosen host is cached per candidate set for one interval, as in the reference, so a
selection costs a dict lookup. Until every candidate has been measured once (or had two
intervals to answer), and when nothing answered, the caller falls back to ``random``; a host
that did not answer its probes does not count.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

from sturdydb._hosts import HostInfo
from sturdydb._monitor_thread import BackgroundMonitor

__all__ = ["FRT_PREFIX", "ResponseProber", "after_fork", "fastest", "probers", "reset"]

log = logging.getLogger("sturdydb.fastest_response")

FRT_PREFIX = "frt-"
_PROBES_PER_ROUND = 5
_DEFAULT_CONNECT_TIMEOUT = 10.0
_DEFAULT_INTERVAL_MS = 30000

_lock = threading.Lock()
_probers: dict[str, ResponseProber] = {}
#: Sorted candidate urls -> (chosen host, monotonic time until which the choice holds).
_choices: dict[tuple[str, ...], tuple[HostInfo, float]] = {}


class ResponseProber:
    """Measures one host's response time for every connection of the process."""

    def __init__(self, host: HostInfo, interval: float) -> None:
        self.host = host
        self.interval = interval
        #: Median seconds per probe in the last round; ``inf`` when the host did not answer.
        self.response_time: float | None = None
        self.measured_at = 0.0
        self.rounds = 0
        self.created = self.last_asked = time.monotonic()
        self._context: weakref.ReferenceType[Any] | None = None
        self._conn: Any = None
        self._driver: Any = None
        self.runner = BackgroundMonitor(
            f"sturdydb-response-{host.url}", self._loop, on_error=lambda exc: self._drop(),
            on_exit=self._drop, description=f"the response-time prober of {host.url}",
        )

    def __repr__(self) -> str:
        return f"<ResponseProber {self.host.url} {self.response_time!r} running={self.runner.running}>"

    @property
    def retired(self) -> bool:
        """Stopped (released, idle): a new prober replaces it."""
        return self.runner.stopping

    def ask(self, context: Any) -> None:
        """Someone wants this host's time: remember a connection to probe through, run."""
        self.last_asked = time.monotonic()
        if context is not None:
            self._context = weakref.ref(context)
            self.runner.start()

    def _idle(self) -> bool:
        return time.monotonic() - self.last_asked > max(60.0, 10 * self.interval)

    def _loop(self) -> None:
        while not self.runner.stopping:
            if self._idle():
                self.runner.stop()
                return
            self._measure()
            if self.runner.wait(self.interval):
                return

    def _measure(self) -> None:
        try:
            conn = self._conn if self._conn is not None else self._connect()
            if conn is None:
                return  # the connection that asked is gone; the next one to ask restarts us
            times = []
            for _ in range(_PROBES_PER_ROUND):
                began = time.perf_counter()
                self._driver.probe(conn)
                times.append(time.perf_counter() - began)
            self.response_time = statistics.median(times)
        except Exception as exc:
            log.debug("response-time probe of %s failed: %s", self.host.url, exc)
            self.response_time = float("inf")
            self._drop()
        self.measured_at = time.monotonic()
        self.rounds += 1

    def _connect(self) -> Any:
        context = self._context() if self._context is not None else None
        if context is None:
            return None
        conn = context.open_auxiliary(self.host, context.props.with_prefix(FRT_PREFIX), _DEFAULT_CONNECT_TIMEOUT)
        self._driver = context.driver
        if self.runner.stopping:
            self._driver.close_quietly(conn)
            return None
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._driver is not None:
            self._driver.close_quietly(conn)


def _interval(props: Any) -> float:
    value = props.get("response_measurement_interval_ms") if props is not None else None
    return float(_DEFAULT_INTERVAL_MS if value is None else value) / 1000.0


def _prober(host: HostInfo, interval: float) -> ResponseProber:
    with _lock:
        prober = _probers.get(host.url)
        if prober is None or prober.retired:
            prober = _probers[host.url] = ResponseProber(host, interval)
        return prober


def fastest(hosts: Sequence[HostInfo], props: Any, context: Any) -> HostInfo | None:
    """The measured fastest of ``hosts`` (cached for one interval), ``None`` if none measured."""
    interval = _interval(props)
    key = tuple(sorted(h.url for h in hosts))
    now = time.monotonic()
    cached = _choices.get(key)
    measured: list[tuple[float, str, HostInfo]] = []
    waiting = False  # a candidate's first measurement is still under way
    for host in hosts:
        prober = _prober(host, interval)
        prober.ask(context)
        if prober.response_time is None:
            # A host measured later might be the fastest: until every candidate has an answer
            # (or had two intervals to give one: a host that hangs in connect), pick at random.
            waiting = waiting or now - prober.created < 2 * interval
        elif prober.response_time != float("inf"):
            measured.append((prober.response_time, host.url, host))
    if cached is not None and cached[1] > now:
        return cached[0]
    if waiting or not measured:
        return None
    chosen = min(measured)[2]
    _choices[key] = (chosen, now + interval)
    return chosen


def probers() -> list[ResponseProber]:
    """Every prober of this process (for diagnostics and tests)."""
    with _lock:
        return list(_probers.values())


def reset() -> None:
    """Stop every prober and forget every measurement (``reset_process_state``, fork)."""
    global _lock
    for prober in list(_probers.values()):
        prober.runner.stop()
    _lock = threading.Lock()
    _probers.clear()
    _choices.clear()


def after_fork() -> None:
    """In a forked child: forget the parent's probers and their connections, never close them."""
    global _lock
    _lock = threading.Lock()
    for prober in list(_probers.values()):
        prober._conn = None  # the parent's socket: dropping it here must not close it there
    _probers.clear()
    _choices.clear()
