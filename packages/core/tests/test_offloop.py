"""The off-loop workers of async connections: long-lived, named, daemon, lazily started, stopped
by ``sturdydb.release_resources()`` and forgotten in a forked child; the loop never waits for
a thread to start except on first use."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

import sturdydb
from sturdydb import _offloop
from sturdydb.plugin_api import run_off_loop


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    sturdydb.release_resources()
    yield
    sturdydb.release_resources()


def _offloop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sturdydb-offloop")]


def _current() -> threading.Thread:
    return threading.current_thread()


def _worker_thread() -> threading.Thread:
    """The thread an off-loop call runs on."""
    async def call() -> threading.Thread:
        return await run_off_loop(_current)

    return asyncio.run(call())


def test_the_worker_is_named_daemon_reused_and_stops_on_release() -> None:
    async def two_calls() -> tuple[threading.Thread, threading.Thread]:
        first = await run_off_loop(_current)
        second = await run_off_loop(_current)
        return first, second

    first, second = asyncio.run(two_calls())
    assert first is not threading.current_thread()
    assert first.name.startswith("sturdydb-offloop-")
    assert first.daemon
    # The second call found the first worker (or the spare it started) idle: no thread per call.
    assert second.name.startswith("sturdydb-offloop-")
    started = _offloop_threads()
    assert first in started or second in started
    assert len(started) <= 2  # the worker and its spare

    sturdydb.release_resources()
    for thread in started:
        thread.join(5)
        assert not thread.is_alive(), f"{thread.name} still runs after release_resources()"
    assert _offloop_threads() == []

    # A later call starts a fresh worker.
    again, _ = asyncio.run(two_calls())
    assert again.is_alive() and again not in started


def test_a_burst_of_blocking_tasks_runs_at_once_and_the_loop_starts_one_thread_at_most(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    starters: list[str] = []
    real_start = threading.Thread.start

    def recording_start(self: threading.Thread) -> None:
        if self.name.startswith("sturdydb-offloop"):
            starters.append(threading.current_thread().name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", recording_start)
    tasks = 20
    # Every task waits until all of them run at once: a fixed pool smaller than 20 would hang.
    barrier = threading.Barrier(tasks, timeout=30)

    async def burst() -> list[int]:
        return await asyncio.gather(*(run_off_loop(barrier.wait) for _ in range(tasks)))

    indices = asyncio.run(burst())
    assert sorted(indices) == list(range(tasks))
    loop_thread = threading.current_thread().name
    assert starters.count(loop_thread) <= 1, starters
    assert len(starters) >= tasks


def test_no_worker_at_import_and_a_live_worker_never_keeps_the_process_alive() -> None:
    script = (
        "import asyncio, threading, sturdydb\n"
        "from sturdydb.plugin_api import run_off_loop\n"
        "assert not [t for t in threading.enumerate() if t.name.startswith('sturdydb-offloop')]\n"
        "async def main():\n"
        "    await run_off_loop(lambda: None)\n"
        "asyncio.run(main())\n"
        "assert [t for t in threading.enumerate() if t.name.startswith('sturdydb-offloop')]\n"
        "print('done')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_forgets_the_parents_workers_and_starts_its_own() -> None:
    parent_worker = _worker_thread()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running the parent's test machinery
        code = 1
        try:
            fresh = _offloop._workers is None
            child_worker = _worker_thread()
            code = 0 if fresh and child_worker.is_alive() and child_worker is not parent_worker else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    try:
        result = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert result == bytes([0])
    assert parent_worker.is_alive()  # the parent's worker is untouched by the child
