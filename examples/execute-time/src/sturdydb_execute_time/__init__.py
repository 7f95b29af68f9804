"""An example third-party sturdydb plugin: per-statement timing.

It is a separate distribution that sturdydb's core knows nothing about; installing it makes
the code ``example_execute_time`` available through the ``sturdydb.plugins`` entry point. It shows
everything a plugin needs: a code and a weight, a property it owns, a profile it contributes,
and an execute wrapper that sees every statement. (sturdydb ships real ``connect_time`` and
``execute_time`` plugins in ``sturdydb-timing``; this example keeps a code of its own.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Sequence
from typing import Any, ClassVar

from sturdydb import Call, Plugin, Profile, PropertySpec, hookimpl

__all__ = ["ExecuteTimePlugin", "stats"]

log = logging.getLogger("sturdydb.example_execute_time")


class _Stats:
    """Process-wide totals (a plugin instance is shared by many connections)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.total_ns = 0

    def add(self, elapsed_ns: int) -> None:
        with self.lock:
            self.calls += 1
            self.total_ns += elapsed_ns

    def reset(self) -> None:
        with self.lock:
            self.calls = 0
            self.total_ns = 0


stats = _Stats()


class ExecuteTimePlugin(Plugin):
    code: ClassVar[str] = "example_execute_time"
    weight: ClassVar[int] = 50  # outermost of the usual chain: it times failover too

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method in ("Cursor.execute", "Cursor.executemany")

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        start = time.perf_counter_ns()
        try:
            return (yield)
        finally:
            elapsed = time.perf_counter_ns() - start
            stats.add(elapsed)
            threshold = call.context.props.get("example_execute_time_log_threshold_ms")
            if elapsed / 1e6 >= threshold:
                log.info("%s took %.3f ms on %s", call.method, elapsed / 1e6, call.context.host.url)

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return [
            PropertySpec(
                "example_execute_time_log_threshold_ms", float, 0.0,
                "Log statements that take at least this long (0 logs every statement).",
                owner="example_execute_time", unit="ms", minimum=0,
            )
        ]

    @staticmethod
    @hookimpl
    def sturdydb_add_profiles() -> Sequence[Profile]:
        return [
            Profile(
                "timed", plugins="example_execute_time",
                properties={"example_execute_time_log_threshold_ms": 100.0},
                doc="Log statements slower than 100 ms.", source="sturdydb-execute-time",
            )
        ]


def total_seconds() -> float:
    """Total time spent in timed statements, process-wide."""
    return stats.total_ns / 1e9



