"""Writes from several threads through a Blue/Green switchover, on both engines.

Zero lost acknowledged writes, zero duplicates (a write that sturdydb calls "not applied" is
retried with the same key), zero writes on old blue after its writes were blocked, and only
errors that say what happened.
"""

from __future__ import annotations

from typing import Any

import bg_scenarios as sc
import pytest

pytestmark = pytest.mark.timeout(300)


def test_writes_from_threads_survive_a_switchover_exactly_once(make_deployment: Any) -> None:
    deployment = make_deployment(dns_delay=5.0)
    sc.create_table(deployment)
    work = sc.write_through(deployment, threads=4, bg_interval_increased_ms=200)
    sc.assert_guarantee(deployment, work)
    assert len(work.acknowledged) > 20, f"the workload hardly ran: {len(work.acknowledged)} writes"


def test_writes_through_failover_and_bg_survive_a_switchover_exactly_once(make_deployment: Any) -> None:
    deployment = make_deployment(dns_delay=5.0)
    sc.create_table(deployment)
    work = sc.write_through(deployment, threads=3, bg_interval_increased_ms=200, plugins="failover,bg")
    sc.assert_guarantee(deployment, work)


def test_writes_survive_a_switchover_that_blocks_blue_before_the_plugin_sees_it(make_deployment: Any) -> None:
    # No time between "in progress" and the block: writes in flight are cut off by the dropped
    # connections or refused by read-only blue. Refused ones are moved and re-run; cut-off ones
    # are reported as of unknown outcome (and present at most once).
    deployment = make_deployment(dns_delay=5.0, block_delay=0.0)
    sc.create_table(deployment)
    work = sc.write_through(deployment, threads=4, bg_interval_increased_ms=200)
    sc.assert_guarantee(deployment, work)


def test_writes_survive_blue_blocked_long_before_the_monitors_next_poll(make_deployment: Any) -> None:
    # The monitor polls every 20 s before the switchover, so it has surely not seen it begin
    # when blue refuses or drops the writes: the plugin must read the status on the failed
    # call's behalf (not let the driver's read-only or lost-connection error through).
    deployment = make_deployment(dns_delay=5.0, block_delay=0.0)
    sc.create_table(deployment)
    work = sc.write_through(deployment, threads=4, bg_interval_increased_ms=20000)
    sc.assert_guarantee(deployment, work)
