"""The dev plugin on the machine's own PostgreSQL and MariaDB: injected errors reach the
application as if the driver raised them, once or on a schedule, and the driver never sees
the call that raised."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
import sturdydb_dev

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test",
                         "use_pure": True}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


def _connect(engine: str = "pg", **props: Any) -> sturdydb.Connection:
    props.setdefault("plugins", "dev")
    props.setdefault("autocommit", True)
    if engine == "pg":
        return sturdydb.connect(psycopg.Connection.connect, PG, **props)
    return sturdydb.connect(mysql.connector.connect, **{**MYSQL, **props})


def _simulated_failover(call: sturdydb.Call) -> BaseException:
    return call.context.error(sturdydb.FailoverSuccessError, "simulated failover")


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_next_call_raises_a_driver_flavoured_failover_error_once(engine: str) -> None:
    conn = _connect(engine)
    cur = conn.cursor()
    sturdydb_dev.raise_on_next_call(_simulated_failover, method="Cursor.execute")
    with pytest.raises(sturdydb.FailoverSuccessError) as caught:
        cur.execute("SELECT 1")
    assert isinstance(caught.value, conn.context.driver.operational_error)  # the app's except still works
    assert caught.value.sqlstate == "08S02"
    cur.execute("SELECT 2")  # once only
    assert cur.fetchall() == [(2,)]
    conn.close()


def test_the_driver_never_sees_the_call_that_raised() -> None:
    conn = _connect()
    cur = conn.cursor()
    cur.execute("CREATE TEMPORARY TABLE dev_t (v INT)")
    with sturdydb_dev.raise_on_next_call(psycopg.OperationalError, method="Cursor.execute") as rule, \
            pytest.raises(psycopg.OperationalError, match=r"injected by sturdydb-dev into Cursor\.execute"):
        cur.execute("INSERT INTO dev_t VALUES (1)")
    assert rule.fired == 1 and rule not in sturdydb_dev.rules()
    cur.execute("SELECT count(*) FROM dev_t")
    assert cur.fetchone() == (0,)
    conn.close()


def test_a_schedule_skips_then_raises_every_nth_call_a_limited_number_of_times() -> None:
    conn = _connect()
    cur = conn.cursor()
    rule = sturdydb_dev.raise_on_call(psycopg.OperationalError("boom"), "Cursor.execute", after=1, every=2, times=2)
    outcomes = []
    for i in range(7):
        try:
            cur.execute("SELECT %s", (i,))
            outcomes.append("ok")
        except psycopg.OperationalError:
            outcomes.append("raised")
    assert outcomes == ["ok", "raised", "ok", "raised", "ok", "ok", "ok"]
    assert (rule.matched, rule.fired, rule.exhausted) == (4, 2, True)
    conn.close()


def test_only_the_named_method_is_hit() -> None:
    conn = _connect(autocommit=False)
    sturdydb_dev.raise_on_next_call(psycopg.OperationalError, method="Connection.commit")
    cur = conn.cursor()
    cur.execute("SELECT 1")  # not the method: passes
    with pytest.raises(psycopg.OperationalError):
        conn.commit()
    conn.commit()
    conn.close()


def test_next_connect_raises_then_connects_normally() -> None:
    sturdydb_dev.raise_on_next_connect(psycopg.OperationalError("connection refused (simulated)"))
    with pytest.raises(psycopg.OperationalError, match="simulated"):
        _connect()
    with _connect() as conn:
        conn.cursor().execute("SELECT 1")


def test_a_connect_rule_can_be_limited_to_a_purpose() -> None:
    rule = sturdydb_dev.raise_on_connect(psycopg.OperationalError, purpose="reconnect", times=None)
    with _connect() as conn:  # the application's own connect is not a reconnect
        conn.cursor().execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError, match=r"injected by sturdydb-dev into connect to 127\.0\.0\.1"):
            conn.context.open(purpose="reconnect")  # what failover does
    assert rule.fired == 1 and not rule.exhausted


def test_a_rule_can_target_one_connection() -> None:
    first, second = _connect(), _connect()
    sturdydb_dev.raise_on_call(psycopg.OperationalError, "Cursor.execute", times=None, connection=second)
    first.cursor().execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        second.cursor().execute("SELECT 1")
    first.close()
    second.close()


def test_clear_and_reset_disarm_every_rule() -> None:
    sturdydb_dev.raise_on_call(psycopg.OperationalError, times=None)
    sturdydb_dev.clear()
    with _connect() as conn:
        conn.cursor().execute("SELECT 1")
    sturdydb_dev.raise_on_call(psycopg.OperationalError, times=None)
    sturdydb.reset_process_state()
    assert sturdydb_dev.rules() == []


def test_without_the_plugin_in_the_chain_nothing_is_injected() -> None:
    sturdydb_dev.raise_on_call(psycopg.OperationalError, times=None)
    with _connect(plugins="") as conn:
        conn.cursor().execute("SELECT 1")


def test_bad_rules_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="every >= 1"):
        sturdydb_dev.raise_on_call(RuntimeError, every=0)
    with pytest.raises(TypeError, match="exception"):
        sturdydb_dev.raise_on_call("boom")  # type: ignore[arg-type]
    sturdydb_dev.raise_on_next_call(lambda call: "not an exception")  # type: ignore[arg-type,return-value]
    with _connect() as conn, pytest.raises(TypeError, match="not an exception"):
        conn.cursor().execute("SELECT 1")
