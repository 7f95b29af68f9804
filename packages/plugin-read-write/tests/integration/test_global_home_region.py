"""``gdb_rw`` on an emulated Aurora Global Database: reads stay in the home region, and a
switch back to the writer is refused while the writer is in another region. Each test runs on
both engines: PostgreSQL, and MariaDB emulating Aurora MySQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import sturdydb
from sturdydb_read_write.errors import ReadWriteSplittingError
from sturdydb_testing.global_db import GlobalDatabase

pytestmark = pytest.mark.integration


#: The server's own instance id, as each engine's Aurora answers it.
_NODE_SQL = {"pg": "SELECT pg_catalog.aurora_db_instance_identifier()", "mysql": "SELECT @@aurora_server_id"}


@pytest.fixture(scope="module", params=["pg", "mysql"])
def gdb(request: pytest.FixtureRequest) -> Iterator[GlobalDatabase]:
    with GlobalDatabase(replicas=1, dns_delay=0.5, engine=request.param) as database:
        yield database


def _connect(gdb: GlobalDatabase, **props: Any) -> sturdydb.Connection:
    return gdb.connect(plugins="gdb_rw,failover", **props)


def _where(conn: sturdydb.Connection) -> str:
    cur = conn.cursor()
    cur.execute(_NODE_SQL["mysql" if conn.context.dialect.family == "mysql" else "pg"])
    rows = cur.fetchall()  # whole: mysql-connector's default cursor refuses the next statement otherwise
    assert rows
    row = rows[0]
    return str(row[0])


@pytest.mark.parametrize("home", ["us-east-1", "us-west-2"])
def test_reads_go_only_to_readers_of_the_home_region(gdb: GlobalDatabase, home: str) -> None:
    seen: set[str] = set()
    for _ in range(8):
        with _connect(gdb, gdb_rw_home_region=home, reader_host_selector_strategy="random") as conn:
            assert _where(conn) == gdb.writer.name
            conn.read_only = True
            seen.add(_where(conn))
    home_readers = {i.name for i in gdb.regions[home].instances if i is not gdb.writer}
    assert seen <= home_readers
    assert seen  # at least one read ran on a home-region reader


def test_switching_back_to_a_writer_outside_the_home_region_is_refused(gdb: GlobalDatabase) -> None:
    with _connect(gdb, gdb_rw_home_region="us-west-2") as conn:
        conn.read_only = True
        reader = _where(conn)
        assert gdb.region_of(reader) == "us-west-2"
        with pytest.raises(ReadWriteSplittingError, match="outside the home region us-west-2"):
            conn.read_only = False
        assert _where(conn) == reader  # the connection stayed where it was


def test_home_region_writer_serves_writes_after_reads(gdb: GlobalDatabase) -> None:
    with _connect(gdb, gdb_rw_home_region="us-east-1") as conn:
        conn.read_only = True
        assert gdb.region_of(_where(conn)) == "us-east-1"
        conn.read_only = False
        assert _where(conn) == gdb.writer.name


def test_global_write_forwarding_is_refused_with_the_fix(gdb: GlobalDatabase) -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="gdb_enable_global_write_forwarding"):
        _connect(gdb, gdb_enable_global_write_forwarding=True)
