"""The emulated Aurora Global Database answers the global dialect's queries as Aurora does,
replicates across its regions, and switches over / fails over between them: on PostgreSQL, and
on MariaDB emulating Aurora MySQL (the proxies rewrite the ``information_schema`` views)."""

from __future__ import annotations

import time
from typing import Any

import mysql.connector
import psycopg
import pytest
from conftest import query, raw_connect

from sturdydb_testing.cluster import Instance
from sturdydb_testing.global_db import GlobalDatabase

#: The statements each engine's Aurora answers (the global dialects' topology query included).
SQL = {
    "pg": {
        "topology": "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
                    "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM pg_catalog.aurora_global_db_instance_status()",
        "regions": "SELECT count(1) FROM pg_catalog.aurora_global_db_status()",
        "instance": "SELECT pg_catalog.aurora_db_instance_identifier()",
        "read_only": "SELECT pg_catalog.pg_is_in_recovery()",
    },
    "mysql": {
        "topology": "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
                    "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM information_schema.aurora_global_db_instance_status ",
        "regions": "SELECT count(1) FROM information_schema.aurora_global_db_status",
        "instance": "SELECT @@aurora_server_id",
        "read_only": "SELECT @@global.read_only",
    },
}


def _raw(instance: Instance) -> Any:
    return raw_connect(instance.cluster, instance)


def _rows(instance: Instance, sql: str) -> list[tuple[Any, ...]]:
    conn = _raw(instance)
    try:
        return query(conn, sql)
    finally:
        conn.close()


def _sql(gdb: GlobalDatabase, what: str) -> str:
    return SQL[gdb.engine][what]


def _writers_seen(gdb: GlobalDatabase, instance: Instance) -> dict[str, str]:
    return {str(r[0]): str(r[3]) for r in _rows(instance, _sql(gdb, "topology")) if r[1]}


def _read_only(gdb: GlobalDatabase, instance: Instance) -> bool:
    return bool(_rows(instance, _sql(gdb, "read_only"))[0][0])


def _through_global_endpoint(gdb: GlobalDatabase) -> str:
    assert gdb.global_endpoint is not None
    kwargs = gdb.regions[gdb.writer_region].address_kwargs(gdb.writer)
    kwargs.update(host=gdb.global_endpoint.address, port=gdb.global_endpoint.port)
    if gdb.engine == "pg":
        conn = psycopg.connect(**kwargs, connect_timeout=5, autocommit=True)
    else:
        conn = mysql.connector.connect(**kwargs, connection_timeout=5, autocommit=True, use_pure=True)
    try:
        rows = query(conn, _sql(gdb, "instance"))
    finally:
        conn.close()
    assert rows
    return str(rows[0][0])


@pytest.mark.parametrize("engine", [pytest.param("pg", marks=pytest.mark.pg),
                                    pytest.param("mysql", marks=pytest.mark.mysql)])
def test_regions_replicate_and_move_the_writer_both_ways(engine: Any) -> None:
    with GlobalDatabase(replicas=1, dns_delay=0.2, engine=engine) as gdb:
        east, west = gdb.regions["us-east-1"], gdb.regions["us-west-2"]
        assert gdb.writer is east.writer
        for instance in gdb.instances:  # every instance, every region, the same answer
            rows = _rows(instance, _sql(gdb, "topology"))
            assert {str(r[0]): str(r[3]) for r in rows} == {i.name: gdb.region_of(i) for i in gdb.instances}
            assert _writers_seen(gdb, instance) == {gdb.writer.name: "us-east-1"}
            assert _rows(instance, _sql(gdb, "regions")) == [(2,)]
        assert _through_global_endpoint(gdb) == gdb.writer.name

        _rows(gdb.writer, "CREATE TABLE marks (n int)")
        _rows(gdb.writer, "INSERT INTO marks VALUES (1)")
        gdb.wait_for_replication()
        cascaded = west.readers[0]
        assert _rows(cascaded, "SELECT n FROM marks") == [(1,)]

        # Managed switchover: the secondary head becomes the writer, nothing is lost, the old
        # region streams from the new writer, the endpoint follows after the DNS delay.
        old = gdb.writer
        new = gdb.switchover()
        assert new is west.writer
        assert gdb.writer_region == "us-west-2"
        assert _writers_seen(gdb, new) == {new.name: "us-west-2"}
        assert not _read_only(gdb, new)
        _rows(new, "INSERT INTO marks VALUES (2)")
        gdb.wait_for_replication()
        assert _rows(old, "SELECT n FROM marks ORDER BY n") == [(1,), (2,)]
        assert _read_only(gdb, old)
        time.sleep(0.5)
        assert _through_global_endpoint(gdb) == new.name

        # Unplanned failover of the writer alone: the other region's head is promoted and
        # the dead writer leaves the status view.
        promoted = gdb.failover(outage="writer")
        assert promoted is east.writer
        assert gdb.writer_region == "us-east-1"
        listed = {str(r[0]) for r in _rows(promoted, _sql(gdb, "topology"))}
        assert new.name not in listed
        assert promoted.name in listed
        assert _rows(promoted, "SELECT n FROM marks ORDER BY n") == [(1,), (2,)]
        gdb.rebuild_region("us-west-2")
        gdb.wait_for_replication()
        assert len(_rows(promoted, _sql(gdb, "topology"))) == 4
