"""Helpers for the failover scenarios on the real clusters of ``sturdydb-testing``.

Durability note: the test clusters replicate asynchronously, while Aurora's storage is shared,
so a commit acknowledged just before a kill could be lost by the *cluster*, not by sturdydb.
:func:`fail_over` therefore cuts the writer off first (blackhole), lets the replicas catch up,
and only then kills it and promotes a replica: from the application's side that is exactly a
crashed writer, and every acknowledged commit survives as on Aurora.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Callable
from typing import Any

import sturdydb
from sturdydb_testing import Cluster, Instance, InstanceState
from sturdydb_testing.drivers import Driver, connect_through
from sturdydb_testing.drivers import default_connect as driver_connect

PLUGINS = "aurora_connection_tracker,failover"


def connect(
    cluster: Cluster, host: Instance | str | None = None, *, driver: Driver | None = None, **props: Any
) -> sturdydb.Connection:
    """A sturdydb connection with failover (see :func:`sturdydb_testing.drivers.connect_through`)."""
    return connect_through(cluster, host, driver=driver, defaults={"plugins": PLUGINS}, **props)


#: The instance a connection is on, as each kind of cluster answers it.
_INSTANCE_ID_SQL = {
    ("aurora", "pg"): "SELECT pg_catalog.aurora_db_instance_identifier()",
    ("aurora", "mysql"): "SELECT @@aurora_server_id",
    ("multi-az", "pg"): "SELECT SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM "
                        "rds_tools.show_topology() WHERE id = rds_tools.dbi_resource_id()",
    ("multi-az", "mysql"): "SELECT SUBSTRING_INDEX(endpoint, '.', 1) FROM mysql.rds_topology WHERE id = @@server_id",
}


def instance_id(conn: sturdydb.Connection, cluster: Cluster) -> str:
    cur = conn.cursor()
    cur.execute(_INSTANCE_ID_SQL[cluster.kind, cluster.engine])
    row = cur.fetchone()
    cur.fetchall()
    return str(row[0])


def new_table(conn: sturdydb.Connection) -> str:
    name = f"fo_{uuid.uuid4().hex[:10]}"
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {name} (id INT NOT NULL, worker INT NOT NULL DEFAULT 0, pad VARCHAR(40))")
    if not conn.autocommit:
        conn.commit()
    return name


def fail_over(
    cluster: Cluster, old_writer: str = "kill", *, keep_blackhole: bool = False
) -> concurrent.futures.Future[Instance]:
    """Start a failover (see the module docstring); returns once the old writer is gone."""
    old = cluster.writer
    assert old is not None
    before = len(cluster.events)
    cluster.blackhole(old)
    cluster.wait_for_replication(timeout=20)
    future = cluster.failover_in_background(old_writer=old_writer)  # type: ignore[arg-type]
    fate = {"kill": "kill", "freeze": "freeze", "demote": "stop"}[old_writer]
    deadline = time.monotonic() + 20
    while not any(e.kind == fate and e.instance_name == old.name for e in cluster.events[before:]):
        assert time.monotonic() < deadline, "the failover did not start"
        time.sleep(0.005)
    if not keep_blackhole:
        cluster.restore(old)
    return future


def _rows(cluster: Cluster, instance: Instance, table: str) -> dict[tuple[int, int], int]:
    """``(worker, id) -> count`` of the table's rows on one instance, read without plugins."""
    conn = sturdydb.connect(driver_connect(cluster), cluster.conninfo(instance), plugins="",
                            **({"use_pure": True} if cluster.engine == "mysql" else {}))
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT worker, id, count(*) FROM {table} GROUP BY worker, id")
        rows = cur.fetchall()
    finally:
        conn.close()
    return {(int(w), int(i)): int(n) for w, i, n in rows}


def verify_writes(
    cluster: Cluster, table: str, committed: list[tuple[int, int]], attempted: set[tuple[int, int]],
    not_applied: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    *, old_writer: Instance | None = None,
) -> None:
    """Every acknowledged write is on the new writer, no write is there twice, and no write
    that sturdydb reported as not applied (``FailoverSuccessError``) is there at all.

    ``old_writer``: the writer before the failover, when it still holds its own data (it was
    frozen: thawed here, then read). Rows on it that the new writer lacks were written on the
    wrong node after the failover started (:func:`fail_over` lets every earlier row replicate
    first); none of them may be a write the application was told succeeded, or was told was
    not applied: only an unknown outcome (08007) may end there. Without it (the old writer
    was killed: its data is gone with it; or demoted: rebuilt from the new writer), only the
    new writer is checked.
    """
    present = _rows(cluster, cluster.writer, table)  # type: ignore[arg-type]
    twice = {k: n for k, n in present.items() if n > 1}
    assert not twice, f"writes applied more than once: {twice}"
    missing = [k for k in committed if k not in present]
    assert not missing, f"acknowledged writes missing after failover: {missing[:10]}"
    unexpected = set(present) - attempted
    assert not unexpected, f"rows nobody wrote: {sorted(unexpected)[:10]}"
    lied = set(present) & set(not_applied)
    assert not lied, f"rows reported as not applied (FailoverSuccessError) are there: {sorted(lied)}"
    if old_writer is None:
        return
    assert old_writer is not cluster.writer, f"{old_writer.name} is still the writer"
    if old_writer.state is InstanceState.FROZEN:
        cluster.thaw(old_writer)
        time.sleep(0.5)  # statements it received while frozen run now (they may land there)
    only_old = set(_rows(cluster, old_writer, table)) - set(present)
    wrong_node = only_old & (set(committed) | set(not_applied))
    assert not wrong_node, (
        f"acknowledged or 'not applied' writes only on the old writer {old_writer.name}: {sorted(wrong_node)[:10]}")


#: The errors an autocommit INSERT may get from a failover (issue 12's at-most-once rule).
WRITE_ERRORS = (sturdydb.FailoverSuccessError, sturdydb.StatementOutcomeUnknownError)


def not_applied_rows(errors: list[BaseException]) -> set[tuple[int, int]]:
    """The rows whose INSERT got ``FailoverSuccessError``: sturdydb said they were not applied."""
    return {e.row for e in errors if isinstance(e, sturdydb.FailoverSuccessError)}  # type: ignore[attr-defined]


def assert_documented_write_error(err: BaseException, conn: sturdydb.Connection) -> None:
    """An interrupted autocommit write reports an unknown outcome, or "not applied" only when
    the driver proves it sent nothing (never a bare driver error, never plain 08007)."""
    driver = conn.context.driver
    assert isinstance(err, WRITE_ERRORS), repr(err)
    assert isinstance(err, driver.operational_error)
    if isinstance(err, sturdydb.FailoverSuccessError):
        assert err.sqlstate == "08S02"
        assert driver.is_unsent_error(err.__cause__), f"08S02 for a write that may have been sent: {err.__cause__!r}"  # type: ignore[arg-type]
    else:
        assert err.sqlstate == "08007"  # type: ignore[attr-defined]
        assert "re-run" not in str(err) and "run it again" not in str(err)


def write_until_failover(
    conn: sturdydb.Connection,
    table: str,
    start_fault: Callable[[], Any],
    *,
    worker: int = 0,
    after: int = 20,
    timeout: float = 60.0,
) -> tuple[list[tuple[int, int]], set[tuple[int, int]], list[BaseException]]:
    """Insert rows one by one (autocommit), start the fault after a few, handle failover errors.

    Returns the acknowledged rows, every attempted row, and the failover errors seen (each
    carrying the row it interrupted as ``.row``). A row whose outcome is unknown is never
    written again: the next row has a new id, so nothing can be applied twice.
    """
    committed: list[tuple[int, int]] = []
    attempted: set[tuple[int, int]] = set()
    errors: list[BaseException] = []
    cur = conn.cursor()
    deadline = time.monotonic() + timeout
    i = 0
    after_error = 0
    while time.monotonic() < deadline:
        i += 1
        if i == 5:
            start_fault()
        attempted.add((worker, i))
        try:
            cur.execute(f"INSERT INTO {table} (id, worker) VALUES (%s, %s)", (i, worker))
        except WRITE_ERRORS as exc:
            exc.row = (worker, i)  # type: ignore[union-attr]
            errors.append(exc)
            continue
        committed.append((worker, i))
        if errors:
            after_error += 1
            if after_error >= after:
                return committed, attempted, errors
    raise AssertionError(f"no failover within {timeout} s; errors: {errors}")


class BackgroundFault:
    """Run :func:`fail_over` on a helper thread, so the application is mid-statement when it hits."""

    def __init__(self, cluster: Cluster, old_writer: str = "kill", *, keep_blackhole: bool = False) -> None:
        self.cluster = cluster
        self.old_writer = old_writer
        self.keep_blackhole = keep_blackhole
        self._started: concurrent.futures.Future[concurrent.futures.Future[Instance]] = concurrent.futures.Future()

    def __call__(self) -> None:
        import threading

        def run() -> None:
            try:
                self._started.set_result(fail_over(self.cluster, self.old_writer, keep_blackhole=self.keep_blackhole))
            except BaseException as exc:
                self._started.set_exception(exc)

        threading.Thread(target=run, name="test-fault", daemon=True).start()

    def new_writer(self, timeout: float = 60) -> Instance:
        return self._started.result(timeout).result(timeout)
