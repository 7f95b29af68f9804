"""What a child process keeps of the core's process state after ``os.fork()``: nothing live.

A child of a process that used sturdydb inherits copies of every module-level structure, the
parent's sockets (as file descriptors) and locks in whatever state another thread of the
parent held them, but none of the parent's threads. This module resets, in the child, every
piece of the core's process-wide state that is live rather than configuration:

- every module lock is replaced (a lock held by a parent thread at fork time would otherwise
  never be released in the child);
- the topology registry, the dialect cache, the open-connection set of the host selectors and
  the round-robin cursors start empty (they describe the parent's connections and views);
- the cached plugin pipelines and connection plans are dropped, so the child's connections
  get new plugin instances (the parent's hold per-process state such as locks and caches);
- the watchdog resets itself (:mod:`sturdydb.watchdog`), and plugins reset theirs (the
  failover monitors and connection tracker, the host monitors, the AWS client caches).

The parent's connection objects are forgotten, never closed or shut down from the child:
closing a socket the parent still uses from another process would end the parent's session.
Configuration (plugin catalog, profiles, host pins, property specs, the flavoured error
classes) is kept: it is the same in both processes.
"""

from __future__ import annotations

import os
import threading

__all__: list[str] = []


def _reset_in_child() -> None:
    from sturdydb import (
        addresses,
        connection,
        dialects,
        discovery,
        errors,
        pipeline,
        profiles,
        resources,
        selectors,
        topology,
    )

    addresses._lock = threading.Lock()
    dialects._lock = threading.Lock()
    dialects._cache.clear()
    discovery._lock = threading.RLock()
    errors._flavoured_lock = threading.Lock()
    pipeline._pipelines_lock = threading.Lock()
    # Cached pipelines hold plugin instances (with their own state and locks) and the
    # connection plans point at them: the child builds its own on first use.
    pipeline._pipelines.clear()
    connection._plans.clear()
    profiles._lock = threading.Lock()
    resources._lock = threading.Lock()
    selectors._rr_lock = threading.Lock()
    selectors._round_robin.clear()
    # A new set rather than clear(): the old one's internal state may be mid-update.
    selectors._open = type(selectors._open)()
    topology.registry._lock = threading.Lock()
    topology.registry._clusters = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
