"""The switching path on real connections: srw between two names of the local server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import session_id

import sturdydb
from sturdydb import HostRole
from sturdydb_read_write import ReadWriteSplittingError, connection_pools

Open = Callable[..., sturdydb.Connection]


def test_read_only_moves_to_the_read_endpoint_and_back(open_srw: Open, names: tuple[str, str]) -> None:
    write, read = names
    conn = open_srw()
    writer_session = session_id(conn)
    conn.read_only = True
    assert conn.host.host == read
    assert conn.context.wanted_role is HostRole.READER
    reader_session = session_id(conn)
    assert reader_session != writer_session
    conn.read_only = False
    assert conn.host.host == write
    assert conn.context.wanted_role is HostRole.WRITER
    assert session_id(conn) == writer_session  # the kept connection, no new connect
    conn.read_only = True
    assert session_id(conn) == reader_session


def test_setting_the_same_value_again_does_not_switch(open_srw: Open) -> None:
    conn = open_srw()
    conn.read_only = False
    first = session_id(conn)
    conn.read_only = False
    assert session_id(conn) == first
    conn.read_only = True
    second = session_id(conn)
    conn.read_only = True
    assert session_id(conn) == second != first


def test_a_switch_inside_a_transaction_is_refused_and_changes_nothing(open_srw: Open, names: tuple[str, str]) -> None:
    conn = open_srw(autocommit=False)
    cur = conn.cursor()
    cur.execute("CREATE TEMPORARY TABLE rw_t (id INT)")
    cur.execute("INSERT INTO rw_t VALUES (1)")
    with pytest.raises(ReadWriteSplittingError, match="inside a transaction"):
        conn.read_only = True
    assert conn.host.host == names[0]
    assert not conn.read_only
    conn.commit()
    conn.read_only = True
    assert conn.host.host == names[1]


def test_cursors_follow_the_connection(open_srw: Open) -> None:
    conn = open_srw()
    cur = conn.cursor()
    before = session_id(conn)
    conn.read_only = True
    pg = conn.context.driver.session_namespace == "schema"
    cur.execute("SELECT pg_backend_pid()" if pg else "SELECT CONNECTION_ID()")
    assert int(cur.fetchone()[0]) != before


def test_session_state_is_carried_once_and_only_when_it_differs(open_srw: Open, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = open_srw(autocommit=False)
    conn.isolation_level = "SERIALIZABLE" if conn.context.driver.session_namespace == "database" else 4
    conn.autocommit = True
    driver = conn.context.driver
    applied: list[dict[str, Any]] = []
    original = type(driver).apply_session_state

    def spy(self: Any, raw: Any, state: Any) -> None:
        applied.append(state.changed())
        original(self, raw, state)

    monkeypatch.setattr(type(driver), "apply_session_state", spy)
    conn.read_only = True  # a new connection: everything the application set is applied
    assert applied[-1]["autocommit"] is True and applied[-1]["read_only"] is True
    assert "isolation_level" in applied[-1]
    conn.read_only = False  # back: only read_only differs on the kept writer connection
    assert applied[-1] == {"read_only": False}
    count = len(applied)
    conn.read_only = True
    conn.read_only = False
    assert len(applied) == count  # warm switches apply nothing: no round trip
    assert conn.autocommit


def test_pools_give_the_connection_a_switch_leaves_to_the_next_connection(open_srw: Open) -> None:
    first = open_srw(read_write_pools=True)
    writer_session = session_id(first)
    first.read_only = True
    reader_session = session_id(first)
    assert sum(connection_pools.stats().values()) == 1  # the writer's connection waits in its pool
    first.read_only = False
    assert session_id(first) == writer_session
    first.close()  # both physical connections go to the pools, none is closed
    assert sum(connection_pools.stats().values()) == 2
    second = open_srw(read_write_pools=True)
    second.read_only = True
    assert session_id(second) == reader_session


def test_a_pooled_connection_with_state_the_borrower_does_not_set_is_not_reused(open_srw: Open) -> None:
    first = open_srw(read_write_pools=True)
    first.read_only = True
    first.isolation_level = "SERIALIZABLE" if first.context.driver.session_namespace == "database" else 4
    reader_session = session_id(first)
    first.close()
    second = open_srw(read_write_pools=True)  # never sets an isolation level
    second.read_only = True
    assert session_id(second) != reader_session


def test_close_closes_the_kept_connection_without_pools(open_srw: Open) -> None:
    conn = open_srw()
    conn.read_only = True
    kept = conn.context.plugin_state["srw"].idle.conn
    conn.close()
    driver = conn.context.driver
    assert driver.is_closed(kept) or not kept.is_connected()
    assert connection_pools.stats() == {}


def test_setting_read_only_on_a_closed_connection_opens_nothing(open_srw: Open) -> None:
    conn = open_srw()
    conn.close()
    with pytest.raises(Exception, match=r"closed|not available"):  # the driver's own answer
        conn.read_only = True
    assert conn.context.plugin_state.get("srw") is None  # no switch was started


def test_pooled_connections_are_never_shared_by_two_application_connections(open_srw: Open) -> None:
    """Threads flip their own connections over shared pools; a marker written into the session
    and read back a moment later would change if another thread used the same session."""
    import threading
    import time

    errors: list[str] = []
    conns = [open_srw(read_write_pools=True, read_write_pool_size=2) for _ in range(6)]
    pg = conns[0].context.driver.session_namespace == "schema"
    write = "SELECT set_config('app.owner', %s, false)" if pg else "SET @owner = %s"
    read = "SELECT current_setting('app.owner')" if pg else "SELECT @owner"

    def work(n: int, conn: sturdydb.Connection) -> None:
        try:
            for i in range(30):
                conn.read_only = i % 2 == 0
                cur = conn.cursor()
                mark = f"t{n}-{i}"
                cur.execute(write, (mark,))
                cur.fetchall()
                time.sleep(0.001)
                cur.execute(read)
                got = cur.fetchone()[0]
                if got != mark:
                    errors.append(f"thread {n} wrote {mark} and read {got}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(n, c), name=f"rw-test-{n}") for n, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
