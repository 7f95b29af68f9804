"""Blocking work of async connections, run off the event loop on long-lived worker threads.

An async connection's connect chain and a failover are sync code that waits (for a writer,
a credential, a reconnect): they run on a worker thread while the loop keeps serving other
tasks. Work is handed over per *connect or failover*, never per call.

Why long-lived workers: starting a thread is a ``Thread.start()`` on the loop, which waits
until the new thread has run (3-20 ms on a loaded 2-core machine): the loop was blocked that
long per connect. The workers here are started lazily (never at import), named
``sturdydb-offloop-N``, daemons (they never keep the process from exiting), stopped by
:func:`stop` (``sturdydb.release_resources()``) and forgotten in a forked child.

Why not a fixed pool (nor the loop's default executor, whose threads are not daemons): a
failover can wait for many seconds, and fifty connections failing over at once must not wait
for each other. The set grows on demand instead, and a worker, never the loop, starts the next
one: a worker that takes a task and leaves no idle worker behind starts a spare first, so a
task submitted later finds an idle worker and the loop only enqueues it (a queue put). Only
the very first task (or the first after a release) starts a thread on the caller's thread.
Workers beyond one that stay idle for :data:`IDLE_EXIT_S` end.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["IDLE_EXIT_S", "WorkerSet", "run_off_loop", "stop", "workers"]

log = logging.getLogger("sturdydb.offloop")

T = TypeVar("T")

#: A worker idle this long ends, unless it is the last idle one (the spare).
IDLE_EXIT_S = 60.0
#: At most this many spares are started by one worker at once (a burst is served by a tree of
#: workers each starting two, not by one worker starting them all before its own task).
_SPAWN_AT_ONCE = 2

_Task = Callable[[], None]


class WorkerSet:
    """A growing set of named daemon threads that run submitted callables in order of arrival.

    Accounting, under ``_lock``: ``_idle`` counts workers waiting for a task (or started and
    about to), ``_queued`` the tasks put and not yet taken. ``_idle - _queued`` is the number of
    *free* workers; after every take a worker keeps it at least 1 (it starts spares).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._queued = 0
        self._alive = 0
        self._stopped = False
        self._names = itertools.count(1)

    def submit(self, task: _Task) -> bool:
        """Queue ``task()`` for a worker; False if this set was stopped (use a new one).

        ``task`` should not raise: an exception is logged and dropped.
        """
        with self._lock:
            if self._stopped:
                return False
            if self._alive == 0:
                # First use: the only thread the caller (the loop) ever starts. Afterwards a
                # free spare waits already, or a worker is starting spares for a burst. Started
                # before the task is queued: if it cannot start, the caller's error must leave
                # no task behind to run late (a connection swap nobody waits for any more).
                self._start_locked()
            self._queued += 1
            self._queue.put(task)
        return True

    def threads(self) -> list[threading.Thread]:
        """The workers alive now."""
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return list(self._threads)

    def stop(self) -> None:
        """Stop every worker: idle ones end at once, busy ones after their task.

        Nothing is joined (a busy worker may wait for many seconds; all are daemons), so this
        is safe at exit. Tasks queued before the stop still run.
        """
        with self._lock:
            self._stopped = True
            for _ in range(self._alive):
                self._queue.put(None)

    def _start_locked(self) -> None:
        thread = threading.Thread(target=self._work, name=f"sturdydb-offloop-{next(self._names)}", daemon=True)
        self._idle += 1  # counted now, so that a task submitted meanwhile finds it free
        self._alive += 1
        try:
            thread.start()
        except RuntimeError:  # cannot start a thread (interpreter shutting down, limits)
            self._idle -= 1
            self._alive -= 1
            if self._alive == 0:
                raise
            log.warning("could not start another off-loop worker; tasks wait for a busy one")
            return
        self._threads.append(thread)

    def _work(self) -> None:
        while True:
            try:
                task = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._idle - self._queued > 1 and not self._stopped:
                        self._idle -= 1  # another free worker stays: this one may end
                        self._alive -= 1
                        return
                continue
            if task is None:
                with self._lock:
                    self._idle -= 1
                    self._alive -= 1
                return
            with self._lock:
                self._idle -= 1
                self._queued -= 1
                if not self._stopped:
                    for _ in range(min(_SPAWN_AT_ONCE, 1 - (self._idle - self._queued))):
                        self._start_locked()
            try:
                task()
            except BaseException:  # a task must not end the worker that serves the next one
                log.exception("an off-loop task raised")
            del task
            with self._lock:
                self._idle += 1


_workers: WorkerSet | None = None
_workers_lock = threading.Lock()


def workers() -> WorkerSet:
    """The process's worker set, created on first use (and again after :func:`stop`)."""
    global _workers
    with _workers_lock:
        if _workers is None:
            _workers = WorkerSet()
        return _workers


def stop() -> None:
    """Stop the workers (``sturdydb.release_resources()``); a later task starts new ones."""
    global _workers
    with _workers_lock:
        current, _workers = _workers, None
    if current is not None:
        current.stop()


def after_fork_in_child() -> None:
    """Forget the parent's workers: none of them exists in a forked child."""
    global _workers, _workers_lock
    _workers_lock = threading.Lock()
    _workers = None


def run_off_loop(func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run ``func(*args)`` on an off-loop worker; await the returned future for its outcome.

    The context variables of the caller are visible in ``func``. Cancelling the awaiting
    task does not stop ``func`` (a thread cannot be interrupted): the future is only marked
    cancelled, and ``func``'s outcome is dropped.
    """
    import asyncio  # here: importing sturdydb (sync applications) must not import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.cancelled():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            result = context.run(func, *args)
        except BaseException as exc:  # delivered to the awaiting task
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: nobody awaits any more
            pass

    while not workers().submit(work):
        pass  # released just now: the next call to workers() makes a new set
    return future
