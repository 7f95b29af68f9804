"""The plugin's decisions with a fake context: held, moved before sending, and what is raised."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Generator
from typing import Any

import pytest
from bg_fakes import BLUE_CLUSTER, FakeCall, FakeContext, FakeDriver, resolve, rows

from sturdydb import (
    FailoverSuccessError,
    HostInfo,
    StatementOutcomeUnknownError,
    TransactionResolutionUnknownError,
)
from sturdydb_blue_green.errors import SwitchoverInProgressError
from sturdydb_blue_green.monitor import Deployment, StatusSource
from sturdydb_blue_green.plugin import CODE, BlueGreenPlugin, _ConnState
from sturdydb_blue_green.settings import Settings
from sturdydb_blue_green.status import Role, parse_rows

SETTINGS = Settings("test", 1.0, 60.0, 1.0, 0.1, 0.2, False, ())


def _switched_over() -> Deployment:
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("AVAILABLE")))
    dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))
    return dep


def _run(plugin: BlueGreenPlugin, call: FakeCall, outcome: Any = "ok") -> Any:
    """Drive the execute wrapper as the core does; ``outcome`` is the driver's result or error."""
    gen: Generator[None, Any, Any] = plugin.sturdydb_execute(call)  # type: ignore[arg-type]
    next(gen)
    try:
        if isinstance(outcome, BaseException):
            gen.throw(outcome)
        else:
            gen.send(outcome)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the wrapper yielded twice")


def _context(dep: Deployment, epoch: int = 0) -> FakeContext:
    ctx = FakeContext()
    ctx.plugin_state[CODE] = _ConnState(dep, SETTINGS, BLUE_CLUSTER, Role.SOURCE, epoch)
    return ctx


@pytest.fixture
def plugin() -> BlueGreenPlugin:
    return BlueGreenPlugin()


def test_a_current_connection_passes_untouched(plugin: BlueGreenPlugin) -> None:
    dep = _switched_over()
    ctx = _context(dep, epoch=dep.switch_epoch)
    assert _run(plugin, FakeCall(ctx, "Cursor.execute"), "result") == "result"
    assert ctx.opened == []


def test_an_execute_on_a_pre_switchover_connection_moves_to_green_and_is_rerun(plugin: BlueGreenPlugin) -> None:
    ctx = _context(_switched_over())
    with pytest.raises(FailoverSuccessError) as caught:
        _run(plugin, FakeCall(ctx, "Cursor.execute"))
    assert caught.value.retry_read  # the core cursor runs it once more, on green
    assert [h.host for h in ctx.opened] == ["127.0.2.1"]
    assert ctx.connection == "conn-to-127.0.2.1"


def test_a_commit_in_a_transaction_reports_it_rolled_back(plugin: BlueGreenPlugin) -> None:
    ctx = _context(_switched_over())
    ctx.driver.in_tx = True
    with pytest.raises(TransactionResolutionUnknownError, match="rolled back"):
        _run(plugin, FakeCall(ctx, "Connection.commit", ctx.connection))


def test_a_rollback_in_a_transaction_runs_on_the_new_connection(plugin: BlueGreenPlugin) -> None:
    ctx = _context(_switched_over())
    ctx.driver.in_tx = True
    call = FakeCall(ctx, "Connection.rollback", ctx.connection)
    assert _run(plugin, call) == "ok"
    assert call.target == "conn-to-127.0.2.1"


def test_other_cursor_calls_are_reported_not_applied(plugin: BlueGreenPlugin) -> None:
    ctx = _context(_switched_over())
    with pytest.raises(FailoverSuccessError) as caught:
        _run(plugin, FakeCall(ctx, "Cursor.executemany"))
    assert not caught.value.retry_read


def test_a_call_held_past_the_switchover_timeout_is_not_sent(plugin: BlueGreenPlugin) -> None:
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))
    ctx = _context(dep)
    with pytest.raises(SwitchoverInProgressError, match="not sent"):
        _run(plugin, FakeCall(ctx, "Cursor.execute"))
    assert ctx.opened == []


def test_a_write_refused_by_read_only_blue_is_moved_and_rerun(plugin: BlueGreenPlugin) -> None:
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("SWITCHOVER_INITIATED")))
    ctx = _context(dep)
    dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))
    ctx.plugin_state[CODE].epoch = 0
    with pytest.raises(FailoverSuccessError) as caught:
        _run(plugin, FakeCall(ctx, "Cursor.execute"), PermissionError("read only"))
    assert caught.value.retry_read and ctx.connection == "conn-to-127.0.2.1"


def test_a_statement_cut_off_by_the_switchover_has_an_unknown_outcome(plugin: BlueGreenPlugin) -> None:
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("SWITCHOVER_INITIATED")))
    ctx = _context(dep)
    call = FakeCall(ctx, "Cursor.execute")
    gen = plugin.sturdydb_execute(call)  # type: ignore[arg-type]
    next(gen)  # sent to blue while the switchover was being prepared
    dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))
    with pytest.raises(StatementOutcomeUnknownError, match="may have been applied"):
        gen.throw(ConnectionError("server closed the connection"))
    assert ctx.connection == "conn-to-127.0.2.1"


def test_errors_outside_a_switchover_pass_unchanged(plugin: BlueGreenPlugin) -> None:
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("AVAILABLE")))
    ctx = _context(dep)
    with pytest.raises(ConnectionError):
        _run(plugin, FakeCall(ctx, "Cursor.execute"), ConnectionError("down"))
    assert ctx.opened == []


class _StatusServer:
    """A status source whose metadata says ``status``; counts the reads."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.reads = 0

    def open(self, host: Any) -> Any:
        server = self

        class _Cursor:
            def execute(self, sql: str) -> None:
                server.reads += 1

            def fetchall(self) -> list[Any]:
                return rows(server.status)

            def close(self) -> None:
                pass

        class _Conn:
            def cursor(self) -> _Cursor:
                return _Cursor()

        return _Conn()


def _unseen_switchover(server: _StatusServer) -> Deployment:
    """A deployment the monitor last saw before the switchover; ``server`` says it has begun."""
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("AVAILABLE")))
    dep._source = StatusSource(server.open, FakeDriver(), HostInfo(BLUE_CLUSTER, 5432), 5.0)  # type: ignore[arg-type]

    def promote_green() -> None:  # the monitor's next read, after the failed call asked for one
        while server.reads == 0:
            time.sleep(0.005)
        time.sleep(0.05)
        dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))

    threading.Thread(target=promote_green, name="test-promote-green", daemon=True).start()
    return dep


def test_a_write_refused_before_the_monitor_saw_the_switchover_reads_the_status_and_is_rerun(
    plugin: BlueGreenPlugin,
) -> None:
    server = _StatusServer("SWITCHOVER_IN_PROGRESS")
    ctx = _context(_unseen_switchover(server))
    with pytest.raises(FailoverSuccessError) as caught:
        _run(plugin, FakeCall(ctx, "Cursor.execute"), PermissionError("read only"))
    assert server.reads == 2  # one status read now: blue and green
    assert caught.value.retry_read and ctx.connection == "conn-to-127.0.2.1"


def test_a_statement_dropped_before_the_monitor_saw_the_switchover_has_an_unknown_outcome_async(
    plugin: BlueGreenPlugin,
) -> None:
    server = _StatusServer("SWITCHOVER_IN_PROGRESS")
    ctx = _context(_unseen_switchover(server))

    async def proceed(call: Any) -> Any:
        raise ConnectionError("lost connection to server during query")

    with pytest.raises(StatementOutcomeUnknownError, match="may have been applied"):
        asyncio.run(plugin.sturdydb_execute_async(FakeCall(ctx, "Cursor.execute"), proceed))  # type: ignore[arg-type]
    assert server.reads == 2 and ctx.connection == "conn-to-127.0.2.1"  # one status read now


def test_a_refusal_with_no_switchover_begun_reads_the_status_and_passes_unchanged(plugin: BlueGreenPlugin) -> None:
    server = _StatusServer("AVAILABLE")
    dep = Deployment("test", resolve=resolve)
    dep.publish(parse_rows(rows("AVAILABLE")))
    dep._source = StatusSource(server.open, FakeDriver(), HostInfo(BLUE_CLUSTER, 5432), 5.0)  # type: ignore[arg-type]
    ctx = _context(dep)
    with pytest.raises(PermissionError):
        _run(plugin, FakeCall(ctx, "Cursor.execute"), PermissionError("read only"))
    assert server.reads == 2 and ctx.opened == []  # one status read now
