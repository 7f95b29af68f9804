"""A transaction open when the switchover starts is never half-applied, and the app is told.

Its statements ran on blue and its commit is held; after the switchover the connection moves to
green and the commit raises ``TransactionResolutionUnknownError`` saying it was rolled back:
nothing of it is on green or on blue. A ``rollback()`` instead simply succeeds. The connection
then works on green.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import bg_scenarios as sc
import pytest

from sturdydb import TransactionResolutionUnknownError
from sturdydb_blue_green import deployment

pytestmark = pytest.mark.timeout(300)


def test_a_commit_held_across_a_switchover_reports_the_transaction_rolled_back(make_deployment: Any) -> None:
    dep = make_deployment(dns_delay=600.0)
    blue, green = dep.blue, dep.green
    sc.create_table(dep)
    committer = sc.sturdy_connect(blue, plugins="bg", autocommit=False)
    rollbacker = sc.sturdy_connect(blue, plugins="bg", autocommit=False)
    assert deployment("1").wait_for_first_status(30)
    for conn, key in ((committer, "in-tx-commit"), (rollbacker, "in-tx-rollback")):
        conn.cursor().execute(sc.insert_sql(blue), (key,))
    switchover = threading.Thread(target=dep.switchover, name="bg-test-switchover", daemon=True)
    switchover.start()
    while deployment("1").phase < 3:  # wait for IN_PROGRESS as the plugin sees it
        time.sleep(0.01)
    outcome: dict[str, BaseException | None] = {}

    def finish(conn: Any, name: str, method: str) -> None:
        try:
            getattr(conn, method)()
            outcome[name] = None
        except BaseException as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=finish, args=(committer, "commit", "commit")),
               threading.Thread(target=finish, args=(rollbacker, "rollback", "rollback"))]
    for thread in threads:
        thread.start()
    switchover.join(120)
    for thread in threads:
        thread.join(60)
    assert isinstance(outcome["commit"], TransactionResolutionUnknownError), outcome
    assert "rolled back" in str(outcome["commit"])
    assert outcome["rollback"] is None, outcome
    for cluster, instance in ((green, green.writer), (blue, blue.writer)):
        assert sc.raw_query(cluster, instance, f"SELECT k FROM {sc.TABLE}") == []
    # Both connections now work on green.
    committer.cursor().execute(sc.insert_sql(blue), ("retried",))
    committer.commit()
    assert [k for (k,) in sc.raw_query(green, green.writer, f"SELECT k FROM {sc.TABLE}")] == ["retried"]
    committer.close()
    rollbacker.close()
