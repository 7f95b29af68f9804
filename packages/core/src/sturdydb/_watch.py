"""``sturdydb doctor --watch``: a live terminal view of one cluster as this process sees it.

It opens one connection as ``doctor`` does (same string, same properties, so the same plugins:
with ``failover`` the cluster's topology monitor runs and failover happens; in autocommit unless
``autocommit`` is given), then, every ``interval`` seconds until Ctrl-C, runs one trivial query
through it and redraws: the connected host, the topology this process holds (each host's role
and availability, the topology's age), sturdydb's background threads (topology monitors, host
monitors and their probes), and the most recent events. The events are the structured log records that sturdydb's plugins write
(``sturdydb_event``: failover start and end, monitoring abort, topology change; see
docs/logging.md) plus the errors the watch query got, so what is shown is what an operator would
find in the logs. It uses only the public ``sturdydb`` API, like an application would.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

import sturdydb

__all__ = ["EventRecorder", "render", "watch"]

#: How many recent events the view keeps.
RECENT = 12


class EventRecorder(logging.Handler):
    """Keeps the recent structured sturdydb log records (those with ``sturdydb_event``)."""

    def __init__(self, size: int = RECENT) -> None:
        super().__init__(level=logging.DEBUG)
        self.events: collections.deque[tuple[float, str, str]] = collections.deque(maxlen=size)
        self._events_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "sturdydb_event", None)
        if event is None:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        self.note(str(event), message, record.created)

    def note(self, event: str, message: str, when: float | None = None) -> None:
        with self._events_lock:
            self.events.append((time.time() if when is None else when, event, message))

    def recent(self) -> list[tuple[float, str, str]]:
        with self._events_lock:
            return list(self.events)


def _target(driver: str) -> Callable[..., Any]:
    if driver == "psycopg":
        import psycopg

        return psycopg.Connection.connect
    import mysql.connector

    return mysql.connector.connect


def _threads() -> dict[str, int]:
    counts: dict[str, int] = {}
    for thread in threading.enumerate():
        parts = thread.name.split("-")
        if len(parts) >= 2 and parts[0] == "sturdydb" and parts[1] != "testing":
            # A monitor's helpers (probes, the failover monitor's probe launcher) are their own kind.
            helper = len(parts) > 2 and parts[2] in ("probe", "launcher")
            kind = f"{parts[1]}-{parts[2]}" if helper else parts[1]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def render(conn: sturdydb.Connection, recorder: EventRecorder, last_query: str, now: float | None = None) -> str:
    """One frame of the view, as text."""
    ctx = conn.context
    stamp = time.strftime("%H:%M:%S", time.localtime(now if now is not None else time.time()))
    topology = ctx.topology
    lines = [
        f"sturdydb doctor --watch   {stamp}   (Ctrl-C to stop)",
        f"cluster   {ctx.cluster_id}",
        f"connected {ctx.host.url}   plugins {','.join(ctx.pipeline.codes) or '(none)'}   last query: {last_query}",
        "",
    ]
    hosts = topology.hosts
    age = topology.age()
    shown_age = "never read" if age == float("inf") else f"read {age:.1f} s ago"
    lines.append(f"topology ({len(hosts)} hosts, {shown_age})")
    if not hosts:
        lines.append("  (no topology: a plain server, or no plugin reads it; connected host only)")
        lines.append(f"  {'?':<8} {'available':<12} {ctx.host.url}")
    for host in sorted(hosts, key=lambda h: (h.role is not sturdydb.HostRole.WRITER, h.url)):
        marker = "  <- connected" if host.url == ctx.host.url or host.host == ctx.host.host else ""
        lines.append(f"  {host.role.value:<8} {host.availability.value:<12} {host.url}{marker}")
    lines.append("")
    threads = _threads()
    lines.append("background threads: " + (", ".join(f"{k} {v}" for k, v in sorted(threads.items())) or "none"))
    lines.append("")
    lines.append("recent events")
    events = recorder.recent()
    if not events:
        lines.append("  (none yet)")
    for when, event, message in events:
        lines.append(f"  {time.strftime('%H:%M:%S', time.localtime(when))}  {event:<17} {message}")
    return "\n".join(lines) + "\n"


def watch(driver: str, conninfo: str, props: dict[str, Any], *, interval: float = 1.0,
          iterations: int | None = None, out: IO[str] | None = None, clear: bool | None = None) -> int:
    """Run the view until Ctrl-C (or ``iterations`` frames). Returns the exit code."""
    stream = out if out is not None else sys.stdout
    redraw = stream.isatty() if clear is None else clear
    recorder = EventRecorder()
    root = logging.getLogger("sturdydb")
    old_level = root.level
    root.addHandler(recorder)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)  # the structured lines are INFO and WARNING
    try:
        # The probe query must not leave a transaction open: a failover would then report an
        # unknown transaction outcome instead of the plain failover the application would see.
        props = {"autocommit": True, **props}
        try:
            conn = sturdydb.connect(_target(driver), conninfo, **props)
        except sturdydb.ConfigurationError as exc:
            stream.write(f"sturdydb doctor --watch: configuration: {exc}\n")
            return 1
        except Exception as exc:
            stream.write(f"sturdydb doctor --watch: cannot connect: {type(exc).__name__}: {exc}\n")
            return 2
        frames = 0
        try:
            while iterations is None or frames < iterations:
                last_query = _probe(conn, recorder)
                frame = render(conn, recorder, last_query)
                stream.write(("\x1b[H\x1b[2J" if redraw else "") + frame)
                stream.flush()
                frames += 1
                if iterations is None or frames < iterations:
                    time.sleep(interval)
        except KeyboardInterrupt:
            stream.write("\n")
        finally:
            conn.close()
        return 0
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)
        sturdydb.release_resources()


def _probe(conn: sturdydb.Connection, recorder: EventRecorder) -> str:
    """Run ``SELECT 1`` through the chain (so failover can happen); describe the outcome."""
    started = time.perf_counter()
    try:
        cur = conn.cursor()
        try:
            cur.execute("SELECT 1")
            cur.fetchall()
        finally:
            cur.close()
    except sturdydb.FailoverError as exc:
        recorder.note("query_failover", f"{type(exc).__name__} ({exc.sqlstate}): now on {conn.context.host.url}")
        return f"{type(exc).__name__}"
    except Exception as exc:
        recorder.note("query_error", f"{type(exc).__name__}")
        return f"error {type(exc).__name__}"
    return f"ok in {(time.perf_counter() - started) * 1000:.1f} ms"
