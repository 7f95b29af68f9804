"""The per-connection slot through which a call tells the monitors it is in flight.

One :class:`CallSlot` per application connection, created once and reused by every call, so
that registering a call costs two attribute stores and one read: the call writes its start
time into ``started`` when it begins and writes the negated start time when it ends (so the
monitor also learns when the connection was last active without another store). The host's
monitor thread scans the slots of its host; nothing on the call's path takes a lock.
``monitor`` is ``None`` while the slot belongs to no monitor (new, moved to another host, or
its monitor was disposed); the call then attaches it.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sturdydb import ConnectionContext, HostInfo
    from sturdydb.plugin_api import DriverDialect
    from sturdydb_efm.monitor import HostMonitor
    from sturdydb_efm.settings import DetectionRule

__all__ = ["CallSlot"]


class CallSlot:
    """One application connection as its host's monitor sees it."""

    __slots__ = ("__weakref__", "conn", "context_ref", "driver", "grace", "host", "monitor",
                 "monitoring_props", "rule", "started")

    def __init__(
        self,
        context: ConnectionContext,
        conn: Any,
        host: HostInfo,
        rule: DetectionRule,
        monitoring_props: dict[str, Any],
    ) -> None:
        #: > 0: start time (``time.monotonic``) of the call in flight; < 0: minus the start
        #: time of the last call, which has ended; 0: no call yet.
        self.started = 0.0
        self.monitor: HostMonitor | None = None
        self.conn = conn
        self.host = host
        self.rule = rule
        self.grace = rule.grace
        self.driver: DriverDialect = context.driver
        self.monitoring_props = monitoring_props
        # Weak: a connection the application dropped without closing must not be kept alive
        # by its monitor; the monitor forgets slots whose context is gone.
        self.context_ref: weakref.ref[ConnectionContext] = weakref.ref(context)

    @property
    def in_flight(self) -> bool:
        return self.started > 0

    def __repr__(self) -> str:
        state = "in flight" if self.started > 0 else "idle"
        return f"<CallSlot {self.host.url} {state}>"
