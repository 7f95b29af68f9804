"""One process-wide watchdog that enforces deadlines without a helper thread per call.

Python cannot cancel a thread, and a frozen host keeps acknowledging TCP, so neither libpq's
``tcp_user_timeout`` nor a driver-side timer can end a call blocked on it. Instead the call
registers a deadline here before it starts and unregisters when it returns; if the deadline
passes first, the watchdog thread aborts the connection (shuts its socket down), the blocked
call returns at once with a network error, and the caller turns that into
``QueryTimeoutError``. ``socket_timeout`` (the built-in plugin), the failover topology
monitor and host monitoring all use it through :meth:`Watchdog.register` or :func:`bounded`.

Guarantees:

- with ``exclusive=True`` (connection aborts: ``socket_timeout``, :func:`bounded`) an abort
  never happens after ``unregister`` returned: both take the deadline's own lock, so a deadline
  that passes just as its call finishes cannot abort the *next* call on the same connection
  (aborting a call that finished in that same instant is possible and harmless: it was at its
  deadline). Timers whose callback takes other locks (host monitoring's schedule) must not be
  exclusive, since holding the deadline's lock there could invert lock order;
- finished entries do not pile up: the heap is compacted when more than half of it is done;
- the thread is a named daemon started on first use (never at import), stops when
  :meth:`Watchdog.stop` is called (a later ``register`` starts a fresh one, never a second
  one beside a still-running old one), and is recreated fresh in a forked child;
- any deadline value is safe: negative fires at once, NaN, infinity and anything beyond
  :data:`MAX_WAIT_S` never fire (a caller's bug must not kill the thread that guards every
  other call); an error inside the loop is logged and the loop goes on; a thread ended by a
  callback raising ``SystemExit`` (or the like) starts its successor on the way out, and should
  a thread be gone anyway, the next ``register`` starts a new one. Queued deadlines are kept.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sturdydb._drivers.base import DriverDialect

__all__ = ["MAX_WAIT_S", "Deadline", "Watchdog", "bounded", "watchdog"]

log = logging.getLogger("sturdydb.watchdog")

T = TypeVar("T")
_COMPACT_MIN = 64
#: Deadlines further away than this (about 30 years) never fire; NaN and infinity likewise.
MAX_WAIT_S = 1e9
# The longest single wait: Condition.wait overflows on huge timeouts, so long waits are cut
# into slices (the loop simply looks again).
_WAIT_SLICE_S = 3600.0


class Deadline:
    """One registered call. ``fired`` tells the caller that the watchdog aborted it."""

    __slots__ = ("abort", "at", "done", "fired", "lock", "queued")

    def __init__(self, at: float, abort: Callable[[], None], lock: threading.Lock | None) -> None:
        self.at = at
        self.abort = abort
        self.lock = lock
        self.done = False  # unregistered: must not fire any more
        self.fired = False
        self.queued = True  # still in the heap


class Watchdog:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._done = 0  # finished entries still in the heap

    def register(self, seconds: float, abort: Callable[[], None], *, exclusive: bool = False) -> Deadline:
        """Call ``abort`` (on the watchdog thread) unless unregistered within ``seconds``.

        ``exclusive``: ``abort`` can never run once :meth:`unregister` has returned (see the
        module documentation for when that is safe to ask for).
        """
        if not 0 < seconds <= MAX_WAIT_S:  # also NaN, which compares false with everything
            seconds = 0.0 if seconds <= 0 else MAX_WAIT_S
        deadline = Deadline(time.monotonic() + seconds, abort, threading.Lock() if exclusive else None)
        with self._cond:
            thread = self._thread
            if thread is None or not thread.is_alive():
                if thread is not None:
                    log.error("the watchdog thread had died; starting a new one")
                self._start()
            heapq.heappush(self._heap, (deadline.at, next(self._seq), deadline))
            if self._heap[0][2] is deadline:
                self._cond.notify()
        return deadline

    def unregister(self, deadline: Deadline) -> None:
        """The call ended: its deadline will not fire (exclusive ones: not even in progress)."""
        lock = deadline.lock
        if lock is not None:
            with lock:  # waits for an abort under way, so none happens after we return
                deadline.done = True
        else:
            deadline.done = True
        with self._cond:
            if not deadline.queued:
                return
            self._done += 1
            if self._done > _COMPACT_MIN and self._done * 2 > len(self._heap):
                kept = []
                for entry in self._heap:
                    if entry[2].done:
                        entry[2].queued = False
                    else:
                        kept.append(entry)
                heapq.heapify(kept)
                self._heap = kept
                self._done = 0

    def _start(self) -> None:
        # Called with the condition held. A new generation retires any older thread still
        # running (woken here so that it sees it at once).
        self._generation += 1
        self._cond.notify_all()
        generation = self._generation
        self._thread = threading.Thread(
            target=self._run, args=(generation,), name="sturdydb-watchdog", daemon=True
        )
        self._thread.start()

    def _run(self, generation: int) -> None:
        try:
            while True:
                try:
                    if not self._step(generation):
                        return
                except Exception:
                    # Nothing here should raise; if something does, the deadlines must still
                    # be watched. The pause keeps a persistent failure from spinning the CPU.
                    log.exception("the watchdog loop failed; it goes on")
                    time.sleep(0.05)
        except BaseException:
            # SystemExit (or the like) from a callback ends this thread: hand the deadlines to a
            # new one at once, since a call blocked on a frozen host may be waiting for them.
            self._replace(generation)
            raise

    def _replace(self, generation: int) -> None:
        with self._cond:
            if self._generation != generation:
                return  # stopped meanwhile: nothing to hand over
            log.error("the watchdog thread is ending on an exception; starting a new one")
            try:
                self._start()
            except RuntimeError:  # interpreter shutdown: no new threads; nothing to guard
                self._thread = None

    def _step(self, generation: int) -> bool:
        """Wait for the next deadline and fire it; ``False`` when this thread must end."""
        cond = self._cond
        with cond:
            if self._generation != generation:
                return False  # stopped (or forked): a newer thread, if any, owns the heap
            now = time.monotonic()
            heap = self._heap
            while heap and heap[0][2].done:
                heapq.heappop(heap)[2].queued = False
                self._done -= 1
            if not heap or heap[0][0] > now:
                cond.wait(min(heap[0][0] - now, _WAIT_SLICE_S) if heap else None)
                return True
            entry = heapq.heappop(heap)[2]
            entry.queued = False
        # Outside the watchdog's lock: callbacks may register new deadlines.
        lock = entry.lock
        if lock is not None:
            with lock:
                if not entry.done:
                    self._fire(entry)
        elif not entry.done:
            self._fire(entry)
        return True

    @staticmethod
    def _fire(entry: Deadline) -> None:
        entry.fired = True
        try:
            entry.abort()
        except Exception:
            log.exception("a watchdog callback failed")

    def stop(self) -> None:
        """Stop the thread and forget every deadline (``sturdydb.release_resources``)."""
        with self._cond:
            self._generation += 1
            self._heap.clear()
            self._done = 0
            self._thread = None
            self._cond.notify_all()

    def pending(self) -> int:
        """Deadlines not yet finished (for tests and diagnostics)."""
        with self._cond:
            return sum(1 for entry in self._heap if not entry[2].done)

    def _after_fork(self) -> None:
        # The parent's thread does not exist in the child; start clean on next use.
        self._heap = []
        self._done = 0
        self._cond = threading.Condition(threading.Lock())
        self._thread = None
        self._generation += 1


#: The process's watchdog; a forked child resets it through :mod:`sturdydb._registry`.
watchdog = Watchdog()


def bounded(driver: DriverDialect, conn: Any, seconds: float, fn: Callable[[], T]) -> T:
    """Run ``fn`` (a call on ``conn``); abort ``conn`` if it takes longer than ``seconds``.

    The watchdog shuts the socket down, so a call stuck on a frozen host returns at once with
    a network error instead of hanging its thread forever.
    """
    deadline = watchdog.register(seconds, lambda: driver.abort_connection(conn), exclusive=True)
    try:
        return fn()
    finally:
        watchdog.unregister(deadline)
