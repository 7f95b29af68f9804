"""Ending a failover workload's worker threads: join them all by one shared deadline.

Framework workloads (SQLAlchemy units of work, Django atomic blocks) run several application
threads through a failover and then tell them to stop. A thread still blocked in a database
call at the end is a finding (a call sturdydb did not bound), so the workloads join every
thread by the same deadline, never a fresh timeout per thread, and report the ones still alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

__all__ = ["join_by_deadline"]


def join_by_deadline(threads: Sequence[threading.Thread], seconds: float = 30.0) -> list[str]:
    """Join ``threads`` within ``seconds`` in all; the names of those still alive then."""
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread.name for thread in threads if thread.is_alive()]
