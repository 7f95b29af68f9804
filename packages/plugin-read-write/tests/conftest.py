"""Fixtures for the read/write splitting unit tests: the machine's PostgreSQL and MariaDB.

PostgreSQL listens on 127.0.0.1:5432 (trust, database ``test``), MariaDB on 127.0.0.1:3306
(root without password, database ``test``). ``srw`` needs two endpoints, so the tests give
the one server two names (pinned with ``sturdydb.map_host``) and switch between them without
role verification: the whole switching path (transaction check, session state, pools, cursor
rebinding) runs on real connections, and the server session id tells the two apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb

ENGINES: dict[str, tuple[Callable[..., Any], int, dict[str, Any]]] = {
    "pg": (psycopg.Connection.connect, 5432, {"dbname": "test", "user": "postgres"}),
    "mysql": (mysql.connector.connect, 3306, {"database": "test", "user": "root", "password": "", "use_pure": True}),
}


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


@pytest.fixture(params=["pg", "mysql"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def names(engine: str) -> Iterator[tuple[str, str]]:
    """A write and a read endpoint name, both pinned to the engine's local server."""
    port = ENGINES[engine][1]
    tag = uuid.uuid4().hex[:8]
    write, read = f"w-{tag}.local.test", f"r-{tag}.local.test"
    sturdydb.map_host(write, "127.0.0.1", port)
    sturdydb.map_host(read, "127.0.0.1", port)
    yield write, read
    sturdydb.unmap_host(write)
    sturdydb.unmap_host(read)


@pytest.fixture
def open_srw(engine: str, names: tuple[str, str]) -> Iterator[Callable[..., sturdydb.Connection]]:
    """Open an srw connection on the write name (more properties as keywords)."""
    target, port, base = ENGINES[engine]
    write, read = names
    opened: list[sturdydb.Connection] = []

    def connect(**kwargs: Any) -> sturdydb.Connection:
        props: dict[str, Any] = {"host": write, "port": port, "plugins": "srw",
                                 "srw_write_endpoint": f"{write}:{port}", "srw_read_endpoint": f"{read}:{port}",
                                 "srw_verify_new_connections": False, "autocommit": True, **base, **kwargs}
        conn = sturdydb.connect(target, **props)
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        try:
            conn.close()
        except Exception:
            pass


def session_id(conn: sturdydb.Connection) -> int:
    """The server's id of the session behind ``conn`` (which physical connection it is)."""
    cur = conn.cursor()
    pg = conn.context.driver.session_namespace == "schema"
    cur.execute("SELECT pg_backend_pid()" if pg else "SELECT CONNECTION_ID()")
    row = cur.fetchone()
    cur.fetchall()
    return int(row[0])
