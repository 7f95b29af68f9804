"""The ORM workload's own rule for "this worker is done", without a cluster.

The MySQL failover scenarios used to fail in about one run of three with "no end within 60 s",
which looked like workers hanging in mysql-connector's ``recv``. They were not: every worker
kept committing, but one or two workers never got an error (SQLAlchemy invalidates the whole
pool on the first disconnect, so a worker whose connection sat in the pool at that moment
gets a fresh connection to the new writer at its next checkout), and the workload waited for
every worker to commit after *its last error*, which such a worker never has.
"""

from __future__ import annotations

from orm_workload import WorkerLog


def _error(seq: int) -> tuple[int, float, BaseException, BaseException]:
    return (seq, 0.0, RuntimeError("failover"), RuntimeError("wrapped"))


def test_a_worker_that_never_saw_the_failover_is_done_after_units_begun_later() -> None:
    log = WorkerLog()
    log.committed = list(range(1, 41))
    log.current_seq = 41
    assert not log.caught_up(10)  # the failover is not over yet: nothing counts
    log.seq_at_failover_end = 35
    assert not log.caught_up(10)  # only 5 units begun after the failover ended
    log.committed += list(range(41, 46))
    assert log.caught_up(10)


def test_a_worker_that_saw_an_error_counts_from_its_last_error() -> None:
    log = WorkerLog()
    log.committed = [1, 2, 3, 4]
    log.errors = [_error(5)]
    log.seq_at_failover_end = 5
    assert not log.caught_up(1)  # no commit since the error
    log.committed += list(range(6, 16))
    log.resumed_at = 1.0
    assert log.caught_up(10)
    log.errors.append(_error(16))
    assert not log.caught_up(10)  # a later error restarts the count
