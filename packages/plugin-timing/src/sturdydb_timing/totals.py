"""Thread-safe running totals of durations, and their read-only snapshots.

The reference keeps the accumulated connect and execute time in a class variable; here a
:class:`Timings` holds count, total, maximum and last duration, process-wide (one per plugin)
and per connection (in the connection's plugin state), so an application can read how much
time its connections spent connecting or waiting on the database, and reset the totals.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["TimingSnapshot", "Timings", "connect_times", "execute_times"]


@dataclass(frozen=True)
class TimingSnapshot:
    """The totals at one moment: ``count`` durations adding up to ``total_s`` seconds."""

    count: int
    total_s: float
    max_s: float
    last_s: float

    @property
    def mean_s(self) -> float:
        return self.total_s / self.count if self.count else 0.0


class Timings:
    """Count, total, maximum and last of the durations added (nanoseconds inside)."""

    __slots__ = ("_count", "_last_ns", "_lock", "_max_ns", "_total_ns")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._total_ns = 0
        self._max_ns = 0
        self._last_ns = 0

    def add(self, elapsed_ns: int) -> None:
        with self._lock:
            self._count += 1
            self._total_ns += elapsed_ns
            self._last_ns = elapsed_ns
            if elapsed_ns > self._max_ns:
                self._max_ns = elapsed_ns

    def snapshot(self) -> TimingSnapshot:
        with self._lock:
            return TimingSnapshot(self._count, self._total_ns / 1e9, self._max_ns / 1e9, self._last_ns / 1e9)

    def reset(self) -> None:
        with self._lock:
            self._count = self._total_ns = self._max_ns = self._last_ns = 0

    def __repr__(self) -> str:
        s = self.snapshot()
        return f"<Timings count={s.count} total={s.total_s:.6f}s max={s.max_s:.6f}s>"


#: Every connect timed by ``connect_time`` in this process.
connect_times = Timings()
#: Every call timed by ``execute_time`` in this process.
execute_times = Timings()
