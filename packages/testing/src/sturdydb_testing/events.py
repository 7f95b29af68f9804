"""The fault log: every fault and cluster event, stamped so tests can measure against it.

Each cluster owns one :class:`EventLog`. Entries carry both a monotonic stamp (for measuring
durations such as "promotion to first successful write") and a wall-clock stamp (for matching
server and application logs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["EventLog", "FaultEvent"]


@dataclass(frozen=True, slots=True)
class FaultEvent:
    """One thing that happened to a cluster.

    ``kind`` is a short verb such as ``"kill"``, ``"freeze"``, ``"promote"`` or
    ``"endpoint_follow"``; ``instance_name`` is the instance it happened to (``""`` for
    cluster-wide events); ``detail`` is free text for humans.
    """

    kind: str
    instance_name: str
    monotonic: float
    wall_time: float
    detail: str = ""


class EventLog:
    """An append-only, thread-safe list of :class:`FaultEvent` (proxies record from their thread)."""

    def __init__(self) -> None:
        self._events: list[FaultEvent] = []
        self._lock = threading.Lock()

    def record(self, kind: str, instance_name: str = "", detail: str = "") -> FaultEvent:
        event = FaultEvent(kind, instance_name, time.monotonic(), time.time(), detail)
        with self._lock:
            self._events.append(event)
        return event

    def snapshot(self) -> list[FaultEvent]:
        with self._lock:
            return list(self._events)

    def last(self, kind: str, instance_name: str | None = None) -> FaultEvent | None:
        """The newest event of ``kind`` (for ``instance_name`` when given), or ``None``."""
        with self._lock:
            for event in reversed(self._events):
                if event.kind == kind and instance_name in (None, event.instance_name):
                    return event
        return None

    def __iter__(self) -> Iterator[FaultEvent]:
        return iter(self.snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
