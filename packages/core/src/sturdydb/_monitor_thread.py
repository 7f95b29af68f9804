"""The lifecycle of a background monitor's thread, written once for every plugin that needs one.

A :class:`BackgroundMonitor` owns one named daemon thread that runs a *body* function:

- **lazy start**: nothing runs until :meth:`~BackgroundMonitor.start` (never at import); a
  second ``start`` while the thread lives does nothing, one after the body returned starts it
  again (so an owner can restart a monitor whose work had ended);
- **restart with backoff**: when the body raises, the error is logged, the owner's
  ``on_error`` runs (drop a broken connection, count it), and the body runs again after
  ``backoff`` seconds, doubling up to ``max_backoff`` while it keeps failing quickly; a body
  that ran for ``max_backoff`` seconds before failing starts again from ``backoff``;
- **stop without join**: :meth:`~BackgroundMonitor.stop` only asks (the body sees
  :attr:`~BackgroundMonitor.stopping`, and :meth:`~BackgroundMonitor.wait` returns at once), so
  it never blocks on a thread stuck in a driver call; ``stop(timeout=...)`` additionally waits
  up to that long, for the rare caller that must know;
- **fork reset**: in a forked child every monitor forgets its (non-existent) thread and may
  start afresh (through :mod:`sturdydb._registry`'s one fork handler);
- **release**: :func:`sturdydb.release_resources` stops every monitor that is still running.

The body decides what "one run" means: it usually loops until ``stopping`` (waiting with
:meth:`~BackgroundMonitor.wait` or its own condition) and returns when its work is done.
Owners that wait on their own condition variable wake it in their ``stop`` as well.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable

__all__ = ["BackgroundMonitor", "after_fork_in_child", "monitors", "reset_all"]

log = logging.getLogger("sturdydb.monitor")

_all: weakref.WeakSet[BackgroundMonitor] = weakref.WeakSet()
_all_lock = threading.Lock()
_release_registered = False


class BackgroundMonitor:
    """One named daemon thread running ``body``, restarted after errors; see the module docs."""

    def __init__(
        self,
        name: str,
        body: Callable[[], None],
        *,
        on_error: Callable[[BaseException], None] | None = None,
        on_exit: Callable[[], None] | None = None,
        backoff: float = 0.2,
        max_backoff: float = 10.0,
        description: str | None = None,
    ) -> None:
        self.name = name
        self.description = description or name
        self._body = body
        self._on_error = on_error
        self._on_exit = on_exit
        self.backoff = backoff
        self.max_backoff = max(backoff, max_backoff)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: How many times the body was restarted after an error.
        self.restarts = 0
        _track(self)

    def __repr__(self) -> str:
        return f"<BackgroundMonitor {self.name} running={self.running} stopping={self.stopping}>"

    @property
    def thread(self) -> threading.Thread | None:
        """The current (or last) thread; ``None`` before the first start and after a fork."""
        return self._thread

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> bool:
        """Start the thread unless it runs or the monitor was stopped; whether it started now."""
        with self._lock:
            if self._stop.is_set() or (self._thread is not None and self._thread.is_alive()):
                return False
            thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread = thread
        thread.start()
        return True

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the thread to stop; with ``timeout``, wait up to that long. Whether it is gone.

        Without a timeout nothing is joined (a thread blocked on a frozen host must never block
        the caller); the thread ends when its body returns. Stopping from the monitor's own
        thread never waits.
        """
        self._stop.set()
        thread = self._thread
        if thread is None:
            return True
        if timeout is not None and thread is not threading.current_thread():
            thread.join(timeout)
        return not thread.is_alive()

    def wait(self, timeout: float | None) -> bool:
        """Sleep up to ``timeout`` seconds or until :meth:`stop`; whether stopping was asked."""
        return self._stop.wait(timeout)

    def reset(self) -> None:
        """Forget the thread and the stop request, as in a new process (fork, tests)."""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    def _main(self) -> None:
        failures = 0
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    self._body()
                    return
                except Exception as exc:
                    self.restarts += 1
                    quick = time.monotonic() - began < self.max_backoff
                    failures = failures + 1 if quick else 1
                    delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
                    log.exception("%s failed; restarting it in %.3g s", self.description, delay)
                    if self._on_error is not None:
                        try:
                            self._on_error(exc)
                        except Exception:
                            log.exception("cleaning up after the failure of %s failed", self.description)
                    if self._stop.wait(delay):
                        return
        finally:
            if self._on_exit is not None:
                try:
                    self._on_exit()
                except Exception:
                    log.exception("the exit handler of %s failed", self.description)


def _track(monitor: BackgroundMonitor) -> None:
    global _release_registered
    with _all_lock:
        _all.add(monitor)
        register = not _release_registered
        _release_registered = True
    if register:
        from sturdydb._resources import on_release  # resources imports nothing of ours

        on_release(stop_all)


def monitors() -> list[BackgroundMonitor]:
    """Every monitor object alive in this process (started or not)."""
    with _all_lock:
        return list(_all)


def stop_all() -> None:
    """Ask every running monitor to stop (``sturdydb.release_resources``); never blocks."""
    for monitor in monitors():
        if monitor.running:
            monitor.stop()


def reset_all() -> None:
    """Stop every monitor without waiting and forget its thread (``reset_process_state``)."""
    for monitor in monitors():
        monitor.stop()


def after_fork_in_child() -> None:
    """In a forked child: no monitor has a thread; each may start afresh."""
    global _all_lock
    _all_lock = threading.Lock()
    for monitor in list(_all):
        monitor.reset()
