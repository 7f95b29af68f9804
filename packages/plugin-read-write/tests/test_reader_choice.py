"""Which reader ``read_write_splitting`` moves to: the core's ``select_reader`` rule, with fakes.

A fake context carries a topology, the properties and a host restriction; the plugin's
``candidates`` and ``still_valid`` are asked directly (the real switch path is covered on real
clusters in tests/integration/test_reader_selection_joined.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sturdydb import HostAvailability, HostInfo, HostRole
from sturdydb.plugin_api import SessionState
from sturdydb_read_write.plugin import ReadWriteSplittingPlugin
from sturdydb_read_write.pools import Tracked
from sturdydb_read_write.settings import SplitSettings
from sturdydb_read_write.switching import SplitState

WRITER = HostInfo("w", 5432, HostRole.WRITER)


def reader(name: str, lag: float | None = None, *, up: bool = True) -> HostInfo:
    availability = HostAvailability.AVAILABLE if up else HostAvailability.UNAVAILABLE
    return HostInfo(name, 5432, HostRole.READER, availability, replica_lag_ms=lag)


@dataclass
class FakeTopology:
    hosts: list[HostInfo]

    @property
    def writer(self) -> HostInfo | None:
        return next((h for h in self.hosts if h.role is HostRole.WRITER), None)


@dataclass
class FakeContext:
    topology: FakeTopology
    props: dict[str, Any] = field(default_factory=dict)
    allowed_hosts: Callable[[HostInfo], bool] | None = None


def state(strategy: str = "random") -> SplitState:
    settings = SplitSettings(strategy=strategy, pools=False, pool_size=1, pool_idle_timeout=1.0, aux_timeout=1.0)
    return SplitState(settings, Tracked(object(), WRITER.url, SessionState()), HostRole.WRITER, None)


def readers_for(ctx: FakeContext, strategy: str = "random") -> list[str]:
    plugin = ReadWriteSplittingPlugin()
    return [h.host for h in plugin.candidates(ctx, state(strategy), HostRole.READER)]  # type: ignore[arg-type]


def test_a_reader_over_max_replica_lag_ms_is_never_a_candidate() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("slow", 5000), reader("fresh", 20)]), {"max_replica_lag_ms": 1000})
    for _ in range(20):
        assert readers_for(ctx) == ["fresh"]


def test_no_candidate_when_every_reader_lags_so_the_writer_serves() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("a", 5000), reader("b", 9000)]), {"max_replica_lag_ms": 1000})
    assert readers_for(ctx) == []


def test_without_a_lag_limit_every_available_reader_is_tried_once() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("a", 5000), reader("b"), reader("down", up=False)]))
    assert sorted(readers_for(ctx)) == ["a", "b"]


def test_only_the_allowed_hosts_are_candidates() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("member"), reader("outsider")]),
                      allowed_hosts=lambda h: h.host != "outsider")
    for _ in range(20):
        assert readers_for(ctx) == ["member"]


def test_round_robin_alternates_the_first_choice() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("a"), reader("b")]))
    firsts = [readers_for(ctx, "round_robin")[0] for _ in range(4)]
    assert firsts in (["a", "b", "a", "b"], ["b", "a", "b", "a"])


def test_weights_steer_highest_weight() -> None:
    ctx = FakeContext(FakeTopology([WRITER, reader("a"), reader("b")]),
                      {"weighted_random_host_weight_pairs": "a:1,b:9"})
    assert readers_for(ctx, "highest_weight")[0] == "b"


def test_a_kept_reader_that_started_lagging_or_left_the_members_is_not_reused() -> None:
    plugin = ReadWriteSplittingPlugin()
    slow, fresh = reader("slow", 5000), reader("fresh", 10)
    ctx = FakeContext(FakeTopology([WRITER, slow, fresh]), {"max_replica_lag_ms": 1000})

    def kept(host: HostInfo) -> Tracked:
        return Tracked(object(), host.url, SessionState())

    assert plugin.still_valid(ctx, kept(fresh), HostRole.READER)  # type: ignore[arg-type]
    assert not plugin.still_valid(ctx, kept(slow), HostRole.READER)  # type: ignore[arg-type]
    ctx.allowed_hosts = lambda h: h.host == "slow"
    assert not plugin.still_valid(ctx, kept(fresh), HostRole.READER)  # type: ignore[arg-type]
    assert not plugin.still_valid(ctx, kept(WRITER), HostRole.READER)  # type: ignore[arg-type]
