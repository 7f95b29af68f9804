"""``sturdydb doctor --watch`` through a real failover: the view shows the failover events and
the new writer as the connected host."""

from __future__ import annotations

import io
import threading
import time

import pytest

import sturdydb
from sturdydb._watch import watch
from sturdydb_testing import Cluster


@pytest.mark.pg
def test_watch_shows_the_failover_and_the_new_writer(pg_cluster: Cluster) -> None:
    sturdydb.reset_process_state()
    out = io.StringIO()
    props = {"plugins": "failover", "connect_timeout": 3, "failover_timeout_sec": 60}
    runner = threading.Thread(target=watch, args=("psycopg", pg_cluster.conninfo(), props),
                              kwargs={"interval": 0.2, "iterations": 60, "out": out, "clear": False}, daemon=True)
    runner.start()
    deadline = time.monotonic() + 30
    while "last query: ok" not in out.getvalue():
        assert time.monotonic() < deadline, out.getvalue()[-2000:]
        time.sleep(0.05)
    new = pg_cluster.failover(old_writer="kill")
    runner.join(90)
    assert not runner.is_alive()
    text = out.getvalue()
    last = text[text.rindex("sturdydb doctor --watch"):]
    assert "failover_start" in last and "failover_end" in last and "query_failover" in last
    assert "topology_change" in last
    connected = [line for line in last.splitlines() if line.endswith("<- connected")]
    assert connected and connected[0].split()[0] == "writer" and new.host in connected[0]
    assert "topology" in last and "background threads: " in last and "topology 1" in last
    assert pg_cluster.password not in text
    sturdydb.reset_process_state()
