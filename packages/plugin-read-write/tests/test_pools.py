"""The pools and the session-state diff, with a fake driver dialect (no server)."""

from __future__ import annotations

import time
from typing import Any

from sturdydb.plugin_api import SessionState
from sturdydb_read_write.pools import ConnectionPools, Tracked, bring_to


class FakeConn:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class FakeDriver:
    """Records what would be applied and closed."""

    def __init__(self) -> None:
        self.applied: list[dict[str, Any]] = []

    def apply_session_state(self, conn: Any, state: SessionState) -> None:
        self.applied.append(state.changed())

    def is_closed(self, conn: FakeConn) -> bool:
        return conn.closed

    def close_quietly(self, conn: FakeConn) -> None:
        conn.close()


def tracked(url: str = "r1:5432", **applied: Any) -> Tracked:
    return Tracked(FakeConn(), url, SessionState(**applied), (url, ("user", "app")))


def test_bring_to_applies_only_the_fields_that_differ() -> None:
    driver = FakeDriver()
    t = tracked(autocommit=True, read_only=False)
    bring_to(driver, t, SessionState(autocommit=True, read_only=True))  # type: ignore[arg-type]
    assert driver.applied == [{"read_only": True}]
    bring_to(driver, t, SessionState(autocommit=True, read_only=True))  # type: ignore[arg-type]
    assert len(driver.applied) == 1  # nothing differs: nothing applied
    assert t.applied == SessionState(autocommit=True, read_only=True)


def test_a_connection_is_reusable_only_when_the_borrower_sets_every_field_applied_to_it() -> None:
    t = tracked(isolation_level="SERIALIZABLE", read_only=True)
    assert t.reusable_for(SessionState(isolation_level="READ COMMITTED", read_only=False))
    assert not t.reusable_for(SessionState(read_only=True))  # the isolation level would leak
    assert tracked().reusable_for(SessionState())


def test_take_gives_the_most_recent_idle_connection_and_counts() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    a, b = tracked(), tracked()
    pools.give(a, driver, 5, 60)  # type: ignore[arg-type]
    pools.give(b, driver, 5, 60)  # type: ignore[arg-type]
    assert pools.take(a.key, SessionState(), 60) is b  # type: ignore[arg-type]
    assert pools.take(a.key, SessionState(), 60) is a  # type: ignore[arg-type]
    assert pools.take(a.key, SessionState(), 60) is None  # type: ignore[arg-type]
    assert (pools.hits, pools.misses) == (2, 1)


def test_a_full_pool_closes_what_is_returned_to_it() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    kept = [tracked() for _ in range(2)]
    extra = tracked()
    for t in [*kept, extra]:
        pools.give(t, driver, 2, 60)  # type: ignore[arg-type]
    assert extra.conn.closed and not any(t.conn.closed for t in kept)
    assert pools.stats() == {"r1:5432": 2}


def test_expired_and_closed_connections_are_closed_not_reused() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    old, dead = tracked(), tracked()
    pools.give(old, driver, 5, 60)  # type: ignore[arg-type]
    old.idle_since = time.monotonic() - 120
    pools.give(dead, driver, 5, 60)  # type: ignore[arg-type]  (expires ``old`` on the way)
    dead.conn.closed = True
    assert pools.take(old.key, SessionState(), 60) is None  # type: ignore[arg-type]
    assert old.conn.closed


def test_close_host_closes_only_that_hosts_connections() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    writer, reader = tracked("w:5432"), tracked("r1:5432")
    pools.give(writer, driver, 5, 60)  # type: ignore[arg-type]
    pools.give(reader, driver, 5, 60)  # type: ignore[arg-type]
    assert pools.close_host("w:5432") == 1
    assert writer.conn.closed and not reader.conn.closed
    assert pools.stats() == {"r1:5432": 1}


def test_a_connection_without_a_key_is_closed_instead_of_pooled() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    t = Tracked(FakeConn(), "r1:5432", SessionState(), None)
    pools.give(t, driver, 5, 60)  # type: ignore[arg-type]
    assert t.conn.closed and pools.stats() == {}


def test_forget_after_fork_closes_nothing() -> None:
    pools, driver = ConnectionPools(), FakeDriver()
    t = tracked()
    pools.give(t, driver, 5, 60)  # type: ignore[arg-type]
    pools.forget()
    assert not t.conn.closed and pools.stats() == {}


def test_the_pool_key_with_the_password_is_never_in_a_repr() -> None:
    t = Tracked(FakeConn(), "r1:5432", SessionState(), ("r1:5432", (("password", "s3cret"), ("user", "app"))))
    assert "s3cret" not in repr(t)
