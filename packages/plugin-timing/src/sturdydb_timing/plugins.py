"""The ``connect_time`` and ``execute_time`` plugins.

Both sit near the outside of the chain (weights 50 and 55, inside ``otel``, outside failover),
so a figure includes what the plugins inside do: a call interrupted by a failover is timed
until its failover error, a connect includes the auth plugins' credential fetches. With
``auto_sort_wrapper_plugin_order=false`` they time whatever follows them in ``plugins``.

Per call ``execute_time`` reads the clock twice, adds to two totals under their locks and
checks one cached log level: about a microsecond.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import Plugin, PropertySpec, hookimpl
from sturdydb.plugin_api import register_process_state
from sturdydb_timing._info import CONNECT_TIME, EXECUTE_TIME, LEVELS
from sturdydb_timing.totals import Timings, TimingSnapshot, connect_times, execute_times

if TYPE_CHECKING:
    from sturdydb import Call, Connection, ConnectionContext, ConnectRequest

__all__ = ["ConnectTimePlugin", "ExecuteTimePlugin", "timings"]

connect_log = logging.getLogger("sturdydb.connect_time")
execute_log = logging.getLogger("sturdydb.execute_time")

def _level(ctx: ConnectionContext, code: str) -> int | None:
    return LEVELS.get(str(ctx.props.get(f"{code}_log_level")), logging.DEBUG)


class _ConnectionTimings:
    """One connection's totals and cached log level (``plugin_state[code]``)."""

    __slots__ = ("level", "timings")

    def __init__(self, level: int | None) -> None:
        self.level = level
        self.timings = Timings()


def _state(ctx: ConnectionContext, code: str) -> _ConnectionTimings:
    found: _ConnectionTimings | None = ctx.plugin_state.get(code)
    if found is None:
        found = ctx.plugin_state[code] = _ConnectionTimings(_level(ctx, code))
    return found


class ConnectTimePlugin(Plugin):
    """Times every physical connect through the chain (reference code ``connect_time``)."""

    # From the published PluginInfo (sturdydb_timing._info), so the two cannot disagree.
    code: ClassVar[str] = CONNECT_TIME.code
    weight: ClassVar[int] = CONNECT_TIME.weight

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        start = time.perf_counter_ns()
        try:
            return (yield)
        finally:
            elapsed = time.perf_counter_ns() - start
            connect_times.add(elapsed)
            state = _state(request.context, self.code)
            state.timings.add(elapsed)
            if state.level is not None and connect_log.isEnabledFor(state.level):
                what = "auxiliary connect" if request.purpose == "auxiliary" else request.purpose
                connect_log.log(state.level, "%s to %s took %.3f ms", what, request.host.url,
                                elapsed / 1e6, extra={"sturdydb_host": request.host.url,
                                                      "sturdydb_purpose": request.purpose,
                                                      "sturdydb_elapsed_ms": elapsed / 1e6})

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return CONNECT_TIME.properties


class ExecuteTimePlugin(Plugin):
    """Times every network-bound DB-API call (reference code ``execute_time``)."""

    # From the published PluginInfo (sturdydb_timing._info), so the two cannot disagree.
    code: ClassVar[str] = EXECUTE_TIME.code
    weight: ClassVar[int] = EXECUTE_TIME.weight
    #: Timing is bookkeeping: async connections drive the same wrapper around the awaited call.
    async_safe_execute: ClassVar[bool] = True

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        ctx = call.context
        state = ctx.plugin_state.get(self.code) or _state(ctx, self.code)
        start = time.perf_counter_ns()
        try:
            return (yield)
        finally:
            elapsed = time.perf_counter_ns() - start
            execute_times.add(elapsed)
            state.timings.add(elapsed)
            level = state.level
            if level is not None and execute_log.isEnabledFor(level):
                # The method and host only: statement text may carry literals.
                execute_log.log(level, "%s took %.3f ms on %s", call.method, elapsed / 1e6, ctx.host.url,
                                extra={"sturdydb_method": call.method, "sturdydb_host": ctx.host.url,
                                       "sturdydb_elapsed_ms": elapsed / 1e6})

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return EXECUTE_TIME.properties


def timings(conn: Connection) -> dict[str, TimingSnapshot]:
    """The totals of one connection: ``{"connect": ..., "execute": ...}`` for the timing
    plugins in its chain (a plugin not in the chain is absent)."""
    found: dict[str, TimingSnapshot] = {}
    state = conn.context.plugin_state
    for key, code in (("connect", ConnectTimePlugin.code), ("execute", ExecuteTimePlugin.code)):
        entry = state.get(code)
        if isinstance(entry, _ConnectionTimings):
            found[key] = entry.timings.snapshot()
    return found


def _reset_totals() -> None:
    connect_times.reset()
    execute_times.reset()


register_process_state("sturdydb_timing.totals", _reset_totals)
