"""join_by_deadline: one shared deadline for every worker, and the names of the blocked ones."""

from __future__ import annotations

import threading

from sturdydb_testing.workers import join_by_deadline


class _Recorded(threading.Thread):
    """A thread that records the timeout each join was given."""

    def __init__(self, name: str, target: threading.Event | None) -> None:
        super().__init__(target=target.wait if target else None, name=name, daemon=True)
        self.timeouts: list[float | None] = []

    def join(self, timeout: float | None = None) -> None:
        self.timeouts.append(timeout)
        super().join(timeout)


def test_the_blocked_workers_are_named_and_the_deadline_is_shared() -> None:
    release = threading.Event()
    quick = _Recorded("quick", None)
    blocked = [_Recorded(f"blocked-{i}", release) for i in range(3)]
    for t in (quick, *blocked):
        t.start()
    try:
        assert join_by_deadline([quick, *blocked], 0.3) == ["blocked-0", "blocked-1", "blocked-2"]
        # The first blocked join used up the shared deadline: the others were not waited for
        # again (a fresh timeout per thread would have given each 0.3 s).
        assert [t.timeouts for t in blocked[1:]] == [[0.0], [0.0]]
    finally:
        release.set()
    assert join_by_deadline(blocked, 5) == []
