"""Explicit release of everything sturdydb started: threads, monitoring connections, caches.

``sturdydb.release_resources()`` asks every plugin of every cached chain to stop, runs the
release callbacks that plugin packages registered with :func:`on_release`, and stops the
watchdog and the off-loop workers of async connections. It never joins a thread that could be
blocked (all our threads are daemons), so it is safe to run from ``atexit``, where it is registered the first time a plugin registers a
release callback (plugins that start threads do so when they first start one).
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable

__all__ = ["on_release", "release_resources"]

log = logging.getLogger("sturdydb.resources")

_callbacks: list[Callable[[], None]] = []
_lock = threading.Lock()
_atexit_registered = False


def on_release(callback: Callable[[], None]) -> None:
    """Run ``callback`` (which must not block) on :func:`release_resources` and at exit."""
    global _atexit_registered
    with _lock:
        if callback not in _callbacks:
            _callbacks.append(callback)
        if not _atexit_registered:
            atexit.register(_release_at_exit)
            _atexit_registered = True


def release_resources() -> None:
    """Stop every sturdydb thread and close every connection sturdydb opened for itself."""
    from sturdydb import _pipeline as pipeline
    from sturdydb._watchdog import watchdog

    for p in pipeline.all_pipelines():
        p.release_resources()
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("a release callback failed")
    watchdog.stop()
    offloop = sys.modules.get("sturdydb._offloop")  # no import here: it may not be loaded yet
    if offloop is not None:
        offloop.stop()


def _release_at_exit() -> None:
    try:
        release_resources()
    except Exception:  # at exit nothing may raise or block
        pass
