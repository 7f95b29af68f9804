"""One shared member monitor per custom endpoint (and AWS region and profile).

:class:`EndpointMonitor` reads the endpoint's description with ``DescribeDBClusterEndpoints``
every ``custom_endpoint_info_refresh_rate_ms`` on a named daemon thread
(``sturdydb-custom-endpoint-<identifier>``, run by :class:`~sturdydb.plugin_api.BackgroundMonitor`:
started by the first connect, restarted with backoff after an error), publishes it as a
:class:`~sturdydb_custom_endpoint.members.CustomEndpointInfo` and wakes the connects waiting for
it. A failed call keeps the last members (they rarely change) and records why, so a connect
that times out can say so. When no connection has used the monitor for
``custom_endpoint_idle_monitor_expiration_ms`` its thread ends; the next use starts it again.
:func:`sturdydb.release_resources` stops every monitor; a forked child forgets them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sturdydb import HostInfo
from sturdydb.plugin_api import BackgroundMonitor, register_process_state
from sturdydb_custom_endpoint.members import CustomEndpointInfo

__all__ = ["EndpointMonitor", "MonitorKey", "monitors"]

log = logging.getLogger("sturdydb.custom_endpoint")

#: (endpoint host, region, aws_profile)
MonitorKey = tuple[str, str, "str | None"]
#: Reads the endpoint's description: () -> the API's endpoint item, or None when it does not exist.
Fetch = Callable[[], "dict[str, Any] | None"]


class EndpointMonitor:
    """Keeps one custom endpoint's members current for every connection of the process."""

    def __init__(self, key: MonitorKey, identifier: str, fetch: Fetch, refresh: float, idle_expiration: float) -> None:
        self.key = key
        self.identifier = identifier
        self.refresh = refresh
        self.idle_expiration = idle_expiration
        self._fetch = fetch
        self._cond = threading.Condition(threading.Lock())
        self.info: CustomEndpointInfo | None = None
        #: Why the last read failed (``None`` after a success).
        self.last_error: str | None = None
        self.reads = 0
        self.last_used = time.monotonic()
        self.runner = BackgroundMonitor(
            f"sturdydb-custom-endpoint-{identifier}", self._loop,
            description=f"the member monitor of custom endpoint {identifier}",
        )

    def __repr__(self) -> str:
        members = self.info.describe() if self.info is not None else "unknown"
        return f"<EndpointMonitor {self.identifier}: {members}>"

    def use(self) -> None:
        """A connection uses the endpoint: keep (or get) the thread running."""
        self.last_used = time.monotonic()
        self.runner.start()

    def allows(self, host: HostInfo) -> bool:
        """The host restriction of a connection to this endpoint (every host until known)."""
        info = self.info
        if time.monotonic() - self.last_used > self.idle_expiration / 2:
            self.use()  # a long-lived connection still relies on fresh members
        return True if info is None else info.allows(host)

    def wait_for_info(self, timeout: float) -> CustomEndpointInfo | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.info is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self.info

    def stop(self) -> None:
        self.runner.stop()
        with self._cond:
            self._cond.notify_all()

    def _loop(self) -> None:
        while not self.runner.stopping:
            if time.monotonic() - self.last_used > self.idle_expiration:
                log.debug("custom endpoint %s unused for %.0f s: its monitor pauses",
                          self.identifier, self.idle_expiration)
                return  # use() starts the thread again
            self.read_once()
            if self.runner.wait(self.refresh):
                return

    def read_once(self) -> None:
        """One DescribeDBClusterEndpoints round: publish the members or record the failure."""
        self.reads += 1
        try:
            item = self._fetch()
        except Exception as exc:  # the AWS call failed: keep the last members, say why
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("reading the members of custom endpoint %s failed: %s", self.identifier,
                        self.last_error)
            return
        if item is None:
            self.last_error = (f"DescribeDBClusterEndpoints does not know the custom endpoint "
                               f"{self.identifier!r} (check the host name, region and account)")
            log.warning("%s", self.last_error)
            return
        info = CustomEndpointInfo.from_api(item)
        with self._cond:
            changed = info != self.info
            self.info = info
            self.last_error = None
            self._cond.notify_all()
        if changed:
            log.info("custom endpoint %s: %s", self.identifier, info.describe(),
                     extra={"sturdydb_event": "custom_endpoint_members",
                            "sturdydb_custom_endpoint": self.identifier})


class _Monitors:
    """The process's member monitors by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[MonitorKey, EndpointMonitor] = {}

    def attach(self, key: MonitorKey, factory: Callable[[], EndpointMonitor]) -> EndpointMonitor:
        with self._lock:
            found = self._by_key.get(key)
            if found is None or found.runner.stopping:
                found = self._by_key[key] = factory()
        found.use()
        return found

    def all(self) -> list[EndpointMonitor]:
        with self._lock:
            return list(self._by_key.values())

    def release_all(self) -> None:
        for monitor in self.all():
            monitor.stop()

    def reset(self) -> None:
        self.release_all()
        with self._lock:
            self._by_key.clear()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._by_key.clear()  # the parent's threads do not exist here


monitors = _Monitors()
register_process_state("sturdydb_custom_endpoint.monitors", monitors.reset, after_fork=monitors.after_fork)
