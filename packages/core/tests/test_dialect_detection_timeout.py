"""Dialect detection at connect is bounded by ``auxiliary_query_timeout_sec``.

A host that accepts the login and then freezes (its TCP stack still acknowledging, like a
stopped process or a silent network path) used to hang ``connect`` forever in the detection
query. The relay passes the login through and stops passing bytes right after it, before
sturdydb's first query; ``connect`` must then fail with ``QueryTimeoutError`` naming the
property, instead of waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb._dialects import clear_dialect_cache
from sturdydb._discovery import register_plugin, unregister_plugin
from sturdydb._plugin import Plugin


class NeedsDialect(Plugin):
    """A plugin that only asks the core to detect the dialect at connect (as failover does)."""

    code: ClassVar[str] = "t_needs_dialect"
    weight: ClassVar[int] = 500
    requires_dialect: ClassVar[bool] = True


@pytest.fixture(autouse=True)
def _plugin() -> Iterator[None]:
    register_plugin(NeedsDialect, distribution="tests")
    clear_dialect_cache()
    yield
    unregister_plugin(NeedsDialect.code)
    clear_dialect_cache()


def _freezing(connect: Callable[..., Any], relay: Any) -> Callable[..., Any]:
    def connect_then_freeze(**kwargs: Any) -> Any:
        conn = connect(**kwargs)  # the whole login went through the relay
        relay.pause()  # ...and from now on the host is silent
        return conn

    return connect_then_freeze


CASES = {
    "pg": (psycopg.Connection.connect, "psycopg", {"dbname": "test", "user": "postgres"}),
    "mysql": (mysql.connector.connect, "mysql-connector-python",
              {"database": "test", "user": "root", "password": "", "use_pure": True}),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", sorted(CASES))
def test_a_host_that_freezes_after_login_does_not_hang_connect(
    engine: str, request: pytest.FixtureRequest,
) -> None:
    # The relay fixtures (pg_relay, mysql_relay) come from the tests' conftest.
    relay: Any = request.getfixturevalue("pg_relay" if engine == "pg" else "mysql_relay")
    connect, driver_name, base = CASES[engine]
    started = time.monotonic()
    with pytest.raises(sturdydb.QueryTimeoutError) as info:
        sturdydb.connect(
            _freezing(connect, relay), host="127.0.0.1", port=relay.port, plugins="t_needs_dialect",
            wrapper_driver_dialect=driver_name, auxiliary_query_timeout_sec=1, connect_timeout=5, **base,
        )
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert "auxiliary_query_timeout_sec" in message and "dialect detection" in message
    assert "127.0.0.1" in message
    # The application catches the driver's own class as well.
    driver_module = psycopg if engine == "pg" else mysql.connector
    assert isinstance(info.value, driver_module.OperationalError)
    # A hang guard, not a timing test: the bound is 1 s, this allows a very loaded machine.
    assert elapsed < 60


@pytest.mark.timeout(120)
@pytest.mark.parametrize("engine", sorted(CASES))
def test_detection_through_a_healthy_relay_still_works(engine: str, request: pytest.FixtureRequest) -> None:
    relay: Any = request.getfixturevalue("pg_relay" if engine == "pg" else "mysql_relay")
    connect, driver_name, base = CASES[engine]
    conn = sturdydb.connect(connect, host="127.0.0.1", port=relay.port, plugins="t_needs_dialect",
                            wrapper_driver_dialect=driver_name, auxiliary_query_timeout_sec=1, **base)
    try:
        assert conn.context.dialect.family == ("pg" if engine == "pg" else "mysql")
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        conn.close()
