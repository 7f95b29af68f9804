"""Reader selection: weight pairs, weighted strategies, replica lag, host restrictions, fastest_response."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import sturdydb
from sturdydb import _response_time, _selectors
from sturdydb._config import build_properties
from sturdydb._dialects.pg import AuroraPgDialect
from sturdydb._discovery import catalog
from sturdydb._drivers import driver_dialect_for
from sturdydb._errors import ConfigurationError
from sturdydb._hosts import HostAvailability, HostInfo, HostRole
from sturdydb._properties import Properties

READERS = [HostInfo(f"r{i}.x", 5432, HostRole.READER, host_id=f"r{i}") for i in (1, 2, 3)]
WRITER = HostInfo("w.x", 5432, HostRole.WRITER, host_id="w")


def _props(**kwargs: object) -> Properties:
    driver = driver_dialect_for(psycopg.Connection.connect)
    return build_properties(catalog(), driver, "", {"plugins": "", **kwargs})


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sturdydb.reset_process_state()
    saved = _selectors.rng
    _selectors.rng = random.Random(20261201)
    yield
    _selectors.rng = saved
    sturdydb.reset_process_state()


@pytest.mark.parametrize(("text", "problem"), [
    ("r1", "is not host:weight"),
    ("r1:two", "must be a whole number"),
    ("r1:0", "must be at least 1"),
    ("r1:2,R1:3", "twice"),
    (":3", "is not host:weight"),
])
def test_malformed_weight_pairs_are_refused_with_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem) as info:
        _props(weighted_random_host_weight_pairs=text)
    assert "weighted_random_host_weight_pairs" in str(info.value)


def test_weighted_random_honours_weights_over_1000_picks_with_a_fixed_seed() -> None:
    props = _props(weighted_random_host_weight_pairs="r1:1,r2:3,r3:6")
    counts = Counter(_selectors.select_host(READERS, "weighted_random", props).host_id for _ in range(1000))
    # Expected 100/300/600; with this seed each is within 5 standard deviations by far.
    assert abs(counts["r1"] - 100) < 40
    assert abs(counts["r2"] - 300) < 70
    assert abs(counts["r3"] - 600) < 75
    assert counts["r3"] > counts["r2"] > counts["r1"]


def test_weight_pairs_name_hosts_by_host_name_or_instance_id_and_default_the_rest() -> None:
    props = _props(weighted_random_host_weight_pairs="r1.x:5", weighted_random_default_weight=2)
    assert _selectors._weights(READERS, props, "weighted_random", topology_default=True) == [5, 2, 2]
    props = _props(weighted_random_host_weight_pairs="r2:7")
    assert _selectors._weights(READERS, props, "weighted_random", topology_default=True) == [1, 7, 1]


def test_round_robin_gives_each_host_its_weight_in_consecutive_turns() -> None:
    props = _props(round_robin_host_weight_pairs="r1:2,r3:3")
    picks = [_selectors.select_host(READERS, "round_robin", props).host_id for _ in range(12)]
    assert picks == ["r1", "r1", "r2", "r3", "r3", "r3"] * 2


def test_round_robin_without_pairs_takes_turns_one_by_one() -> None:
    picks = [_selectors.select_host(READERS, "round_robin", _props()).host_id for _ in range(6)]
    assert picks == ["r1", "r2", "r3", "r1", "r2", "r3"]


def test_round_robin_default_weight_alone_gives_every_host_that_many_turns() -> None:
    props = _props(round_robin_default_weight=3)
    picks = [_selectors.select_host(READERS, "round_robin", props).host_id for _ in range(18)]
    assert picks == ["r1"] * 3 + ["r2"] * 3 + ["r3"] * 3 + ["r1"] * 3 + ["r2"] * 3 + ["r3"] * 3


def test_round_robin_default_weight_applies_to_the_hosts_the_pairs_leave_out() -> None:
    props = _props(round_robin_host_weight_pairs="r1:1", round_robin_default_weight=2)
    picks = [_selectors.select_host(READERS, "round_robin", props).host_id for _ in range(10)]
    assert picks == ["r1", "r2", "r2", "r3", "r3"] * 2


def test_weighted_default_weight_alone_weighs_every_host_alike_instead_of_the_topology() -> None:
    uneven = [HostInfo(f"u{i}.x", 5432, HostRole.READER, host_id=f"u{i}", weight=w)
              for i, w in ((1, 100), (2, 300))]
    assert _selectors._weights(uneven, _props(), "weighted_random", topology_default=True) == [100, 300]
    props = _props(weighted_random_default_weight=4)
    assert _selectors._weights(uneven, props, "weighted_random", topology_default=True) == [4, 4]
    counts = Counter(_selectors.select_host(uneven, "weighted_random", props).host_id for _ in range(1000))
    # Equal weights: each share is binomial(1000, 0.5), sd 15.8; 80 is over 5 sd.
    assert abs(counts["u1"] - 500) < 80, counts
    # highest_weight: equal weights, so the topology weight breaks the tie.
    assert _selectors.select_host(uneven, "highest_weight", props).host_id == "u2"


def test_highest_weight_picks_the_heaviest_pair_and_is_stable() -> None:
    props = _props(weighted_random_host_weight_pairs="r2:9,r3:4")
    assert {_selectors.select_host(READERS, "highest_weight", props).host_id for _ in range(20)} == {"r2"}


def test_unknown_strategy_names_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match="fastest_response"):
        _selectors.select_host(READERS, "fastest")
    with pytest.raises(ConfigurationError, match="reader_host_selector_strategy"):
        _props(reader_host_selector_strategy="fastest")


def test_topology_rows_carry_the_replica_lag_into_the_hosts() -> None:
    rows = [("w", True, 1.5, 0.0, None), ("r1", False, 1.5, 250.0, None), ("r2", False, 1.5, None, None)]
    hosts = {h.host_id: h for h in AuroraPgDialect().hosts_from_rows(rows, "?.x", 5432)}
    assert hosts["r1"].replica_lag_ms == 250.0
    assert hosts["r2"].replica_lag_ms is None
    assert hosts["w"].replica_lag_ms is None


def _lagging(lags: dict[str, float]) -> list[HostInfo]:
    return [HostInfo(h.host, h.port, h.role, host_id=h.host_id, replica_lag_ms=lags.get(h.host_id or ""))
            for h in READERS] + [WRITER]


def test_readers_over_max_replica_lag_are_skipped() -> None:
    topology = _lagging({"r1": 5000.0, "r2": 20.0, "r3": 900.0})
    props = _props(max_replica_lag_ms=500)
    assert {_selectors.select_reader(topology, props).host_id for _ in range(50)} == {"r2"}  # type: ignore[union-attr]


def test_the_writer_serves_reads_when_no_reader_is_within_the_lag_limit() -> None:
    topology = _lagging({"r1": 5000.0, "r2": 2000.0, "r3": 900.0})
    assert _selectors.select_reader(topology, _props(max_replica_lag_ms=500)) == WRITER
    assert _selectors.select_reader([WRITER], _props()) == WRITER


def test_without_a_limit_lag_does_not_matter_and_unavailable_readers_do() -> None:
    topology = _lagging({"r1": 5000.0})
    down = [h.with_availability(HostAvailability.UNAVAILABLE) if h.host_id == "r2" else h for h in topology]
    picks = {_selectors.select_reader(down, _props()).host_id for _ in range(100)}  # type: ignore[union-attr]
    assert picks == {"r1", "r3"}


def test_a_host_restriction_limits_readers_and_the_writer_fallback() -> None:
    class Ctx:
        allowed_hosts = staticmethod(lambda h: h.host_id in ("r3",))

    assert {_selectors.select_reader(_lagging({}), _props(), context=Ctx()).host_id  # type: ignore[union-attr]
            for _ in range(20)} == {"r3"}
    lagging = _lagging({"r3": 9000.0})
    assert _selectors.select_reader(lagging, _props(max_replica_lag_ms=10), context=Ctx()) is None


# -- fastest_response ----------------------------------------------------------------------
class _SlowDriver:
    """A driver whose probe on a connection takes that host's delay."""

    def __init__(self, delays: dict[str, float]) -> None:
        self.delays = delays
        self.closed: list[str] = []

    def probe(self, conn: str) -> None:
        time.sleep(self.delays[conn])

    def close_quietly(self, conn: str) -> None:
        self.closed.append(conn)


class _Context:
    def __init__(self, driver: _SlowDriver, props: Properties) -> None:
        self.driver = driver
        self.props = props
        self.opened: list[tuple[str, str, Any]] = []

    def open_auxiliary(self, host: HostInfo, extra: dict[str, Any], connect_timeout: float) -> str:
        self.opened.append((host.host_id or "", "auxiliary", float(extra.get("connect_timeout", connect_timeout))))
        return host.host_id or ""


def _wait(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_fastest_response_measures_each_host_once_and_picks_the_fastest() -> None:
    driver = _SlowDriver({"r1": 0.03, "r2": 0.001, "r3": 0.02})
    ctx = _Context(driver, _props(response_measurement_interval_ms=100, **{"frt-connect_timeout": 3}))
    first = _selectors.select_host(READERS, "fastest_response", ctx.props, context=ctx)
    assert first in READERS  # nothing measured yet: random
    _wait(lambda: all(p.rounds >= 1 for p in _response_time.probers()))
    time.sleep(0.15)  # the cached first choice (if any) expires after one interval
    assert _selectors.select_host(READERS, "fastest_response", ctx.props, context=ctx).host_id == "r2"
    probers = _response_time.probers()
    assert sorted(p.host.host_id or "" for p in probers) == ["r1", "r2", "r3"]
    threads = [p.runner.thread for p in probers]
    assert all(t is not None and t.daemon and t.name.startswith("sturdydb-response-") for t in threads)
    assert {(host, purpose, timeout) for host, purpose, timeout in ctx.opened} == {
        ("r1", "auxiliary", 3.0), ("r2", "auxiliary", 3.0), ("r3", "auxiliary", 3.0)}
    sturdydb.release_resources()
    for thread in threads:
        assert thread is not None
        thread.join(5)
        assert not thread.is_alive()
    assert sorted(driver.closed) == ["r1", "r2", "r3"]  # their connections closed on release


def test_fastest_response_does_not_start_a_thread_without_a_context() -> None:
    before = threading.active_count()
    pick = _selectors.select_host(READERS, "fastest_response", _props())
    assert pick in READERS
    assert threading.active_count() == before
