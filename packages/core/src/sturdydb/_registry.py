"""The one registry of process-wide state: what it is, how to reset it, what a forked child does.

sturdydb keeps some state per process on purpose (the shared cluster topologies, the dialect
cache, the cached plugin chains, the watchdog and monitor threads, plugins' monitor registries).
Every such piece is registered here under a name with two callbacks:

- ``reset``: make the piece as fresh as in a new process, in *this* process (threads are
  already stopped: :func:`reset_process_state` runs :func:`sturdydb.release_resources` first);
- ``after_fork``: the same in a forked child, where only the forking thread exists, any lock
  may be held forever by a thread that is gone, and every inherited connection belongs to the
  parent: the callback must replace locks, forget threads, and *drop* (never close or abort)
  inherited connections, whose sockets the parent still uses. Defaults to ``reset``.

:func:`reset_process_state` is the single public call tests use between cases (instead of
clearing internals by hand); the after-fork callbacks all run in a child through one
``os.register_at_fork`` handler. The core registers its own pieces below; a plugin registers
its own with :func:`register_process_state` at import time.

What is *not* process state: what the application configured (registered plugins, profiles,
host mappings, release callbacks). A forked child keeps it, and it has its own ``unregister_*``
calls.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from types import ModuleType

__all__ = ["ProcessState", "process_state", "register_process_state", "reset_process_state"]

log = logging.getLogger("sturdydb.registry")


class _Piece:
    """One registered piece (a plain class: a dataclass would be compiled at ``import sturdydb``)."""

    __slots__ = ("after_fork", "name", "reset")

    def __init__(self, name: str, reset: Callable[[], None], after_fork: Callable[[], None]) -> None:
        self.name = name
        self.reset = reset
        self.after_fork = after_fork


class ProcessState:
    """The registered pieces of process-wide state, in registration order."""

    def __init__(self) -> None:
        self._pieces: dict[str, _Piece] = {}
        self._lock = threading.Lock()
        #: The names whose after-fork reset ran without error in this (child) process.
        self.reset_after_fork: list[str] = []

    def register(
        self, name: str, reset: Callable[[], None], *, after_fork: Callable[[], None] | None = None,
    ) -> None:
        """Register (or replace) the piece ``name``; see the module docstring for the callbacks."""
        with self._lock:
            self._pieces[name] = _Piece(name, reset, after_fork or reset)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._pieces.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._pieces)

    def reset(self) -> None:
        """Stop what sturdydb started, then reset every piece (errors are logged, not raised)."""
        from sturdydb._resources import release_resources

        release_resources()
        with self._lock:
            pieces = list(self._pieces.values())
        for piece in pieces:
            try:
                piece.reset()
            except Exception:  # one broken piece must not leave the others stale
                log.exception("resetting the process state %r failed", piece.name)

    def after_fork_in_child(self) -> None:
        """Run every piece's after-fork reset (called by ``os.register_at_fork`` in the child)."""
        self._lock = threading.Lock()  # the parent's may have been held by another thread
        self.reset_after_fork = []
        for piece in list(self._pieces.values()):
            try:
                piece.after_fork()
                self.reset_after_fork.append(piece.name)
            except Exception:  # never raise into the code that called fork()
                try:
                    log.exception("resetting the process state %r after fork failed", piece.name)
                except Exception:
                    pass


#: The process-wide registry.
process_state = ProcessState()


def register_process_state(
    name: str, reset: Callable[[], None], *, after_fork: Callable[[], None] | None = None,
) -> None:
    """Register a piece of process-wide state (for plugins): see :class:`ProcessState`."""
    process_state.register(name, reset, after_fork=after_fork)


def reset_process_state() -> None:
    """Make sturdydb's process-wide state as fresh as in a new process (for tests).

    Stops every thread and closes every connection sturdydb opened for itself
    (:func:`sturdydb.release_resources`), then resets every registered piece: the core's
    topologies, dialect cache, plugin chains, host-selection state, watchdog and background
    monitors, and whatever plugins registered. Application configuration (registered plugins,
    profiles, host mappings) is kept.
    """
    process_state.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=process_state.after_fork_in_child)


# -- the core's own pieces ------------------------------------------------------------------
# Registered here, by module name, so that this module imports none of them (they may import
# it) and a module never imported has nothing to reset.

def _when_imported(module: str, action: Callable[[ModuleType], None]) -> Callable[[], None]:
    def run() -> None:
        found = sys.modules.get(module)
        if found is not None:
            action(found)

    return run


def _forget_pipelines(m: ModuleType) -> None:
    # In a child the cached chains' plugins hold the parent's monitors: forget them, never
    # release them (a release would abort the parent's monitoring connections).
    setattr(m, "_pipelines_lock", threading.Lock())  # noqa: B010 - a module global
    m._pipelines.clear()


def _clear_plans(m: ModuleType) -> None:
    m._plans.clear()


def _reset_selectors(m: ModuleType) -> None:
    setattr(m, "_rr_lock", threading.Lock())  # noqa: B010 - a module global
    m._round_robin.clear()
    m._open.clear()  # the parent's connections are not this process's to count


def _reset_dialects(m: ModuleType) -> None:
    setattr(m, "_lock", threading.Lock())  # noqa: B010 - a module global
    m._cache.clear()


def _reset_topologies(m: ModuleType) -> None:
    m.registry._lock = threading.Lock()
    m.registry.clear()


def _new_module_locks() -> None:
    # A lock held by another of the parent's threads at fork time would never be released in
    # the child: every module-level lock of the core is replaced there (the pieces above and
    # below replace the locks of the state they reset).
    for module, name, factory in (
        ("sturdydb._addresses", "_lock", threading.Lock),
        ("sturdydb._discovery", "_lock", threading.RLock),
        ("sturdydb._errors", "_flavoured_lock", threading.Lock),
        ("sturdydb._profiles", "_lock", threading.Lock),
        ("sturdydb._resources", "_lock", threading.Lock),
    ):
        found = sys.modules.get(module)
        if found is not None:
            setattr(found, name, factory())


process_state.register("sturdydb.locks", lambda: None, after_fork=_new_module_locks)
process_state.register(
    "sturdydb._pipeline",
    _when_imported("sturdydb._pipeline", lambda m: m.clear_pipelines()),
    after_fork=_when_imported("sturdydb._pipeline", _forget_pipelines),
)
process_state.register(
    "sturdydb._config", _when_imported("sturdydb._config", lambda m: m._warned_no_effect.clear()))
process_state.register("sturdydb._connection", _when_imported("sturdydb._connection", _clear_plans))
process_state.register("sturdydb._selectors", _when_imported("sturdydb._selectors", _reset_selectors))
process_state.register(
    "sturdydb._response_time",
    _when_imported("sturdydb._response_time", lambda m: m.reset()),
    after_fork=_when_imported("sturdydb._response_time", lambda m: m.after_fork()),
)
process_state.register("sturdydb._dialects", _when_imported("sturdydb._dialects", _reset_dialects))
process_state.register("sturdydb._topology", _when_imported("sturdydb._topology", _reset_topologies))
process_state.register(
    "sturdydb._watchdog",
    _when_imported("sturdydb._watchdog", lambda m: m.watchdog.stop()),
    after_fork=_when_imported("sturdydb._watchdog", lambda m: m.watchdog._after_fork()),
)
process_state.register(
    "sturdydb._monitor_thread",
    _when_imported("sturdydb._monitor_thread", lambda m: m.reset_all()),
    after_fork=_when_imported("sturdydb._monitor_thread", lambda m: m.after_fork_in_child()),
)
process_state.register(
    "sturdydb._offloop",
    _when_imported("sturdydb._offloop", lambda m: m.stop()),
    after_fork=_when_imported("sturdydb._offloop", lambda m: m.after_fork_in_child()),
)
