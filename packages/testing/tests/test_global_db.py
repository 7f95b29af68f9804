"""The emulated Aurora Global Database answers the global dialect's queries as Aurora does,
replicates across its regions, and switches over / fails over between them."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest

from sturdydb_testing.cluster import Instance
from sturdydb_testing.global_db import GlobalDatabase

pytestmark = pytest.mark.pg

TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
    "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM pg_catalog.aurora_global_db_instance_status()"
)


def _raw(instance: Instance) -> Any:
    return psycopg.connect(**instance.cluster.address_kwargs(instance), autocommit=True, connect_timeout=5)


def _rows(instance: Instance, sql: str) -> list[tuple[Any, ...]]:
    with _raw(instance) as conn:
        return list(conn.execute(sql).fetchall())


def _writers_seen(gdb: GlobalDatabase, instance: Instance) -> dict[str, str]:
    return {str(r[0]): str(r[3]) for r in _rows(instance, TOPOLOGY) if r[1]}


def _through_global_endpoint(gdb: GlobalDatabase) -> str:
    assert gdb.global_endpoint is not None
    kwargs = gdb.regions[gdb.writer_region].address_kwargs(gdb.writer)
    kwargs.update(host=gdb.global_endpoint.address, port=gdb.global_endpoint.port)
    with psycopg.connect(**kwargs, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT pg_catalog.aurora_db_instance_identifier()").fetchone()
    assert row is not None
    return str(row[0])


def test_regions_replicate_and_move_the_writer_both_ways() -> None:
    with GlobalDatabase(replicas=1, dns_delay=0.2) as gdb:
        east, west = gdb.regions["us-east-1"], gdb.regions["us-west-2"]
        assert gdb.writer is east.writer
        for instance in gdb.instances:  # every instance, every region, the same answer
            rows = _rows(instance, TOPOLOGY)
            assert {str(r[0]): str(r[3]) for r in rows} == {i.name: gdb.region_of(i) for i in gdb.instances}
            assert _writers_seen(gdb, instance) == {gdb.writer.name: "us-east-1"}
            assert _rows(instance, "SELECT count(1) FROM pg_catalog.aurora_global_db_status()") == [(2,)]
        assert _through_global_endpoint(gdb) == gdb.writer.name

        with _raw(gdb.writer) as conn:
            conn.execute("CREATE TABLE marks (n int)")
            conn.execute("INSERT INTO marks VALUES (1)")
        gdb.wait_for_replication()
        cascaded = west.readers[0]
        assert _rows(cascaded, "SELECT n FROM marks") == [(1,)]

        # Managed switchover: the secondary head becomes the writer, nothing is lost, the old
        # region streams from the new writer, the endpoint follows after the DNS delay.
        old = gdb.writer
        new = gdb.switchover()
        assert new is west.writer and gdb.writer_region == "us-west-2"
        assert _writers_seen(gdb, new) == {new.name: "us-west-2"}
        with _raw(new) as conn:
            assert conn.execute("SELECT pg_catalog.pg_is_in_recovery()").fetchone() == (False,)
            conn.execute("INSERT INTO marks VALUES (2)")
        gdb.wait_for_replication()
        assert _rows(old, "SELECT n FROM marks ORDER BY n") == [(1,), (2,)]
        assert _rows(old, "SELECT pg_catalog.pg_is_in_recovery()") == [(True,)]
        time.sleep(0.5)
        assert _through_global_endpoint(gdb) == new.name

        # Unplanned failover of the writer alone: the other region's head is promoted and
        # the dead writer leaves the status view.
        promoted = gdb.failover(outage="writer")
        assert promoted is east.writer and gdb.writer_region == "us-east-1"
        listed = {str(r[0]) for r in _rows(promoted, TOPOLOGY)}
        assert new.name not in listed and promoted.name in listed
        assert _rows(promoted, "SELECT n FROM marks ORDER BY n") == [(1,), (2,)]
        gdb.rebuild_region("us-west-2")
        gdb.wait_for_replication()
        assert len(_rows(promoted, TOPOLOGY)) == 4
