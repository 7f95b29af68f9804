"""One process-wide watchdog that enforces ``socket_timeout`` without helper threads per call.

Python cannot cancel a thread, and a frozen host keeps acknowledging TCP, so neither libpq's
``tcp_user_timeout`` nor a driver-side timer can end a call blocked on it. Instead the call
registers a deadline here before it starts and unregisters when it returns; if the deadline
passes first, the watchdog thread aborts the connection (shuts its socket down), the blocked
call returns at once with a network error, and the socket-timeout wrapper turns that into
``QueryTimeoutError``, which failover treats as a network failure.

The thread is a named daemon started on first use (never at import), stops when
:func:`stop` is called, and is recreated fresh in a forked child.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

__all__ = ["Deadline", "Watchdog", "watchdog"]

log = logging.getLogger("sturdydb.watchdog")


class Deadline:
    """One registered call. ``fired`` tells the caller that the watchdog aborted it."""

    __slots__ = ("abort", "at", "done", "fired")

    def __init__(self, at: float, abort: Callable[[], None]) -> None:
        self.at = at
        self.abort = abort
        self.done = False
        self.fired = False


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopping = False

    def register(self, seconds: float, abort: Callable[[], None]) -> Deadline:
        deadline = Deadline(time.monotonic() + seconds, abort)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._start()
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._heap[0][2] is deadline:
                self._cond.notify()
        return deadline

    @staticmethod
    def unregister(deadline: Deadline) -> None:
        # Lazy deletion: the thread drops finished entries when they reach the top.
        deadline.done = True

    def _start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="sturdydb-watchdog", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            fire: list[Deadline] = []
            with self._cond:
                if self._stopping:
                    return
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, entry = heapq.heappop(self._heap)
                    if not entry.done:
                        entry.fired = True
                        fire.append(entry)
                if not fire:
                    timeout = self._heap[0][0] - now if self._heap else None
                    self._cond.wait(timeout)
                    continue
            for entry in fire:
                try:
                    entry.abort()
                except Exception:
                    log.exception("aborting a timed-out connection failed")

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        self._thread = None

    def _after_fork(self) -> None:
        # The parent's thread does not exist in the child; start clean on next use.
        self._heap = []
        self._cond = threading.Condition(threading.Lock())
        self._thread = None
        self._stopping = False


watchdog = Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=watchdog._after_fork)
