"""Reader selection on real clusters: the first reader-endpoint connect follows the strategy,
lagging replicas are skipped (real lag), and fastest_response finds the fast instance."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from scenario_helpers import connect, instance_id

import sturdydb
from sturdydb import _response_time
from sturdydb_testing import Cluster


def _reader_endpoint_instance(cluster: Cluster, **props: Any) -> str:
    conn = connect(cluster, "reader", autocommit=True, **props)
    try:
        return instance_id(conn, cluster)
    finally:
        conn.close()


def test_the_first_reader_endpoint_connect_goes_to_the_reader_the_strategy_picks(aurora_cluster: Cluster) -> None:
    chosen = aurora_cluster.readers[1]
    props = {"reader_host_selector_strategy": "highest_weight",
             "weighted_random_host_weight_pairs": f"{chosen.name}:10"}
    # The reader endpoint's "DNS" alternates between the readers; every connect here is the
    # first of its process (no topology known), so only the strategy can make them agree.
    landed = set()
    for _ in range(4):
        sturdydb.reset_process_state()
        landed.add(_reader_endpoint_instance(aurora_cluster, **props))
    assert landed == {chosen.name}
    # Later connects, routed by the now known topology, agree.
    assert {_reader_endpoint_instance(aurora_cluster, **props) for _ in range(3)} == {chosen.name}


def _wait_for_lag(cluster: Cluster, which: Any, at_least_ms: float) -> None:
    deadline = time.monotonic() + 30
    while cluster.lag.published.get(cluster.instance(which).name, 0.0) < at_least_ms:
        assert time.monotonic() < deadline, "the injected lag was not published"
        time.sleep(0.05)


def test_a_lagging_replica_is_skipped_and_the_writer_serves_when_every_reader_lags(aurora_cluster: Cluster) -> None:
    lagging, fresh = aurora_cluster.readers[0], aurora_cluster.readers[1]
    # Without a lag limit this strategy always picks the lagging replica.
    props: dict[str, Any] = {"reader_host_selector_strategy": "highest_weight",
                             "weighted_random_host_weight_pairs": f"{lagging.name}:10",
                             "topology_refresh_ms": 200}
    aurora_cluster.inject_replica_lag(lagging)
    try:
        _wait_for_lag(aurora_cluster, lagging, 1000)
        assert _reader_endpoint_instance(aurora_cluster, **props) == lagging.name
        sturdydb.reset_process_state()
        limited = {**props, "max_replica_lag_ms": 500}
        assert _reader_endpoint_instance(aurora_cluster, **limited) == fresh.name  # first connect
        assert {_reader_endpoint_instance(aurora_cluster, **limited) for _ in range(3)} == {fresh.name}
        aurora_cluster.inject_replica_lag(fresh)
        _wait_for_lag(aurora_cluster, fresh, 1000)
        sturdydb.reset_process_state()
        writer = aurora_cluster.writer
        assert writer is not None
        # A replica's copy of the topology is as stale as its data (it may not know that the
        # other one lags too): learn the topology on the writer first, as the monitor does.
        on_writer = connect(aurora_cluster, autocommit=True, **limited)
        assert instance_id(on_writer, aurora_cluster) == writer.name
        assert {_reader_endpoint_instance(aurora_cluster, **limited) for _ in range(3)} == {writer.name}
        on_writer.close()
    finally:
        aurora_cluster.clear_replica_lag()


def _settled_choice(cluster: Cluster, expected: str, props: dict[str, Any]) -> None:
    # Until both readers are measured the choice is random, so agreeing connects prove nothing:
    # wait until every prober finished a round that began after the latency moved, and until
    # the cached choice (one interval) has expired; from then on, the fast one for every connect.
    _reader_endpoint_instance(cluster, **props)  # the first ask starts the probers
    started = {id(p): p.rounds for p in _response_time.probers()}
    deadline = time.monotonic() + 60
    while not (len(started) >= 2 and all(p.rounds >= started.get(id(p), 0) + 2 for p in _response_time.probers())):
        assert time.monotonic() < deadline, "the response-time probers never measured both readers"
        _reader_endpoint_instance(cluster, **props)  # keep asking, as an application does
        time.sleep(0.1)
        started = {id(p): started.get(id(p), p.rounds) for p in _response_time.probers()}
    time.sleep(props["response_measurement_interval_ms"] / 1000.0)
    seen = {_reader_endpoint_instance(cluster, **props) for _ in range(5)}
    # Never the slow reader. The writer may serve one connect while a reader is briefly marked
    # unavailable (the reader endpoint's documented fallback), which a loaded machine can cause.
    assert cluster.writer is not None
    assert expected in seen and seen <= {expected, cluster.writer.name}, seen


def test_fastest_response_finds_the_fast_instance(aurora_cluster: Cluster) -> None:
    slow, fast = aurora_cluster.readers[0], aurora_cluster.readers[1]
    props = {"reader_host_selector_strategy": "fastest_response", "response_measurement_interval_ms": 300}
    aurora_cluster.add_latency(slow, 0.03)
    try:
        _settled_choice(aurora_cluster, fast.name, props)
        # Move the latency: the measurements follow, so the choice is not luck.
        aurora_cluster.restore(slow)
        aurora_cluster.add_latency(fast, 0.03)
        _settled_choice(aurora_cluster, slow.name, props)
        threads = [t.name for t in threading.enumerate()]
        assert sum(name.startswith("sturdydb-response-") for name in threads) == 2  # one per reader
    finally:
        aurora_cluster.restore(slow)
        aurora_cluster.restore(fast)


def test_reader_failover_prefers_the_writer_to_a_lagging_reader(aurora_cluster: Cluster) -> None:
    current, lagging = aurora_cluster.readers[0], aurora_cluster.readers[1]
    writer = aurora_cluster.writer
    assert writer is not None
    aurora_cluster.inject_replica_lag(lagging)
    try:
        _wait_for_lag(aurora_cluster, lagging, 1000)
        conn = connect(aurora_cluster, current, autocommit=True, failover_mode="reader_or_writer",
                       max_replica_lag_ms=500, topology_refresh_ms=200)
        assert instance_id(conn, aurora_cluster) == current.name
        aurora_cluster.kill(current)
        with pytest.raises(sturdydb.FailoverSuccessError):
            conn.cursor().execute("SELECT 1")
        # Without the limit, reader failover would try the other reader first.
        assert instance_id(conn, aurora_cluster) == writer.name
        conn.close()
    finally:
        aurora_cluster.clear_replica_lag()
