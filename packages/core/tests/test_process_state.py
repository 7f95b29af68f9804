"""The one registry of process-wide state: one public reset, and everything fresh after fork()."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import sturdydb
from sturdydb import _dialects as dialects
from sturdydb import _pipeline as pipeline
from sturdydb import _selectors as selectors
from sturdydb._hosts import HostInfo, HostRole
from sturdydb._monitor_thread import BackgroundMonitor
from sturdydb._registry import process_state
from sturdydb._topology import registry as topologies
from sturdydb._watchdog import watchdog


@pytest.fixture
def piece() -> Iterator[list[str]]:
    calls: list[str] = []
    sturdydb.register_process_state("test.piece", lambda: calls.append("reset"),
                                    after_fork=lambda: calls.append("after_fork"))
    yield calls
    process_state.unregister("test.piece")


def test_the_core_registers_its_process_state() -> None:
    assert {"sturdydb._pipeline", "sturdydb._connection", "sturdydb._selectors", "sturdydb._dialects",
            "sturdydb._topology", "sturdydb._watchdog", "sturdydb._monitor_thread"} <= set(process_state.names())


def test_one_call_resets_the_core_and_every_registered_piece(pg_conninfo: str, piece: list[str]) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="")
    try:
        conn.context.topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
        assert conn.context.dialect is not None
        assert topologies.all() and dialects._cache and pipeline._pipelines
        sturdydb.reset_process_state()
        assert piece == ["reset"]
        assert not topologies.all() and not dialects._cache and not pipeline._pipelines
        # A connection opened before the reset goes on working (its objects are its own).
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        conn.close()


def test_a_piece_whose_reset_raises_does_not_stop_the_others(
    piece: list[str], caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> None:
        raise RuntimeError("cannot reset")

    process_state.register("test.broken", broken)
    try:
        with caplog.at_level(logging.ERROR, "sturdydb._registry"):
            sturdydb.reset_process_state()
    finally:
        process_state.unregister("test.broken")
    assert piece == ["reset"]
    assert any("test.broken" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_every_registered_piece_is_fresh_in_a_forked_child(pg_conninfo: str, piece: list[str]) -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="")
    monitor: BackgroundMonitor

    def body() -> None:
        while not monitor.wait(0.01):
            pass

    monitor = BackgroundMonitor("sturdydb-test-state-fork", body)
    monitor.start()
    deadline = watchdog.register(3600, lambda: None)  # starts the watchdog thread
    try:
        conn.context.topology.update([HostInfo("127.0.0.1", 5432, HostRole.WRITER)])
        assert conn.context.dialect is not None
        assert topologies.all() and dialects._cache and pipeline._pipelines and len(selectors._open)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what it sees, never run pytest machinery
            seen: dict[str, Any] = {
                "reset": process_state.reset_after_fork,
                "names": process_state.names(),
                "piece": piece,
                "topologies": len(topologies.all()),
                "dialects": len(dialects._cache),
                "pipelines": len(pipeline._pipelines),
                "open": len(selectors._open),
                "watchdog_thread": watchdog._thread is not None,
                "watchdog_pending": watchdog.pending(),
                "monitor_thread": monitor.thread is not None,
            }
            os.write(write, json.dumps(seen).encode())
            os._exit(0)
        os.close(write)
        raw = b""
        while chunk := os.read(read, 65536):
            raw += chunk
        os.close(read)
        os.waitpid(pid, 0)
        seen = json.loads(raw)
        assert seen["reset"] == seen["names"]  # every registered piece, none failed
        assert seen["piece"] == ["after_fork"]
        assert seen == {**seen, "topologies": 0, "dialects": 0, "pipelines": 0, "open": 0,
                        "watchdog_thread": False, "watchdog_pending": 0, "monitor_thread": False}
        # The parent's state is untouched by the fork.
        assert topologies.all() and pipeline._pipelines and monitor.running
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    finally:
        watchdog.unregister(deadline)
        monitor.stop(timeout=10)
        conn.close()
