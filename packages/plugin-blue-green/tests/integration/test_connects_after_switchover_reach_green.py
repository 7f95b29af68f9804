"""After a switchover, connections reach green at once, although DNS still leads to old blue.

The deployment's DNS delay is longer than the test: blue's names (their pins and blue's
endpoint proxies) still lead to old blue, as a real client's DNS cache would. A connection with
``bg`` lands on green's writer; one without it lands on old blue, which refuses writes.
"""

from __future__ import annotations

from typing import Any

import bg_scenarios as sc
import pytest

import sturdydb
from sturdydb_blue_green import Phase, deployment

pytestmark = pytest.mark.timeout(300)


def _server(conn: sturdydb.Connection, engine: str) -> str:
    cur = conn.cursor()
    cur.execute("SELECT pg_catalog.inet_server_addr()::text" if engine == "pg" else "SELECT @@server_id")
    row = cur.fetchone()
    assert row is not None
    return str(row[0])


@pytest.mark.parametrize("plugins", ["bg", "failover,bg"])
def test_new_connects_after_a_switchover_reach_green_without_waiting_for_dns(make_deployment: Any, plugins: str) -> None:
    # With failover too: its connect-time routing picks the topology's writer by instance name,
    # and bg sends that name to green's instance.
    dep = make_deployment(dns_delay=600.0)
    blue, green = dep.blue, dep.green
    sc.create_table(dep)
    first = sc.sturdy_connect(blue, plugins=plugins)
    assert deployment("1").wait_for_first_status(30)
    assert deployment("1").phase is Phase.CREATED
    assert _server(first, blue.engine) == sc.server_of(blue, blue.writer)
    dep.switchover()
    assert deployment("1").wait_for_switch(0, 30)

    fresh = sc.sturdy_connect(blue, plugins=plugins)
    assert _server(fresh, blue.engine) == sc.server_of(green, green.writer)
    fresh.cursor().execute(sc.insert_sql(blue), ("after-switchover",))
    # The instance name (what failover's topology routing uses) goes to green's writer as well.
    by_instance = sc.sturdy_connect(blue, blue.writer.host, plugins=plugins)
    assert _server(by_instance, blue.engine) == sc.server_of(green, green.writer)

    # DNS has not changed: without the plugin the same name still reaches old blue.
    stale = sc.sturdy_connect(blue, plugins="")
    assert _server(stale, blue.engine) == sc.server_of(blue, blue.writer)
    assert dep.events[-1].kind != "dns_switched"
    # Old blue keeps its -old1 name; the plugin leaves such names alone.
    old = sc.sturdy_connect(blue, dep.old_name(blue.cluster_host), plugins="bg")
    assert _server(old, blue.engine) == sc.server_of(blue, blue.writer)

    # The connection opened before the switchover moves to green at its next call.
    assert _server(first, blue.engine) == sc.server_of(green, green.writer)
    keys = [k for (k,) in sc.raw_query(green, green.writer, f"SELECT k FROM {sc.TABLE}")]
    assert keys == ["after-switchover"]
    for conn in (first, fresh, by_instance, stale, old):
        conn.close()
