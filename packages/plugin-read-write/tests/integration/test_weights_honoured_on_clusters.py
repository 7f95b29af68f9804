"""Reader weights on real clusters (both engines): the topology a connection learns from the
cluster feeds the weighted strategies, ``weighted_random`` keeps its shares over 1,000 picks with
a fixed seed (each engine's default driver), and ``round_robin`` weights decide which instance
serves each of 100 real ``read_only`` flips (every driver; by the instance id each statement
reports)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from rw_helpers import connect, reader_flips, wait_for

import sturdydb
from sturdydb import _selectors
from sturdydb.plugin_api import select_reader
from sturdydb_testing import Cluster
from sturdydb_testing.drivers import Driver
from sturdydb_testing.pytest_plugin import every_driver

SEED = 20261201


def _readers_known(conn: sturdydb.Connection, cluster: Cluster) -> bool:
    known = {h.host_id for h in conn.context.topology.readers
             if h.availability is sturdydb.HostAvailability.AVAILABLE}
    return known == {r.name for r in cluster.readers}


def test_weighted_random_keeps_its_shares_over_1000_picks_of_the_learned_topology(
    aurora_cluster: Cluster, dbapi_driver: Driver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The core's picks draw from this module-level generator, which tests replace to seed them.
    monkeypatch.setattr(_selectors, "rng", random.Random(SEED))
    light, heavy = aurora_cluster.readers[0].name, aurora_cluster.readers[1].name
    conn = connect(aurora_cluster, driver=dbapi_driver, reader_host_selector_strategy="weighted_random",
                   weighted_random_host_weight_pairs=f"{light}:1,{heavy}:3")
    try:
        conn.read_only = True  # the switch reads the topology through the connection
        wait_for(lambda: _readers_known(conn, aurora_cluster), what="both readers in the learned topology")
        hosts = conn.context.topology.hosts
        counts = Counter(getattr(select_reader(hosts, conn.context.props, context=conn.context), "host_id", None)
                         for _ in range(1000))
    finally:
        conn.close()
    assert set(counts) == {light, heavy}, counts  # never the writer: both readers qualify
    # Each share is binomial(n=1000, p=1/4 or 3/4): sd = sqrt(1000 * 1/4 * 3/4) = 13.7 picks.
    # 68 picks is 5 sd, which a correct selector exceeds with probability < 1e-6 for any seed
    # (and never for this fixed one); the weights being ignored would give 500, 18 sd away.
    assert abs(counts[light] - 250) <= 68, counts
    assert abs(counts[heavy] - 750) <= 68, counts


@every_driver
def test_round_robin_weights_decide_which_reader_serves_each_of_100_read_only_flips(
    aurora_cluster: Cluster, dbapi_driver: Driver,
) -> None:
    light, heavy = aurora_cluster.readers[0].name, aurora_cluster.readers[1].name
    # With pools every switch asks the strategy again (without them the kept reader serves).
    conn = connect(aurora_cluster, driver=dbapi_driver, reader_host_selector_strategy="round_robin",
                   round_robin_host_weight_pairs=f"{heavy}:3", round_robin_default_weight=1,
                   read_write_pools=True)
    try:
        seen = reader_flips(conn, aurora_cluster, 100)
    finally:
        conn.close()
    # The cycle follows the hosts' sorted order from a fresh process state, so it starts with
    # either reader; either way one turn for the light reader, three in a row for the heavy one.
    assert Counter(seen) == {light: 25, heavy: 75}, Counter(seen)
    assert seen in (([light] + [heavy] * 3) * 25, ([heavy] * 3 + [light]) * 25), seen
