"""RDS host name classification, the shared topology registry, and host selectors."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from sturdydb import _selectors as selectors
from sturdydb._dialects.pg import AuroraPgDialect
from sturdydb._hosts import HostAvailability, HostInfo, HostRole, RdsUrlType, classify_host, parse_rds_host
from sturdydb._properties import CORE_PROPERTIES, Properties, PropertyRegistry
from sturdydb._topology import HostEvent, TopologyRegistry, derive_cluster_id, host_from_topology_row


@pytest.mark.parametrize(("host", "kind"), [
    ("mydb.cluster-abc123.us-east-1.rds.amazonaws.com", RdsUrlType.RDS_WRITER_CLUSTER),
    ("mydb.cluster-ro-abc123.us-east-1.rds.amazonaws.com", RdsUrlType.RDS_READER_CLUSTER),
    ("mydb.cluster-custom-abc123.us-east-1.rds.amazonaws.com", RdsUrlType.RDS_CUSTOM_CLUSTER),
    ("mydb.proxy-abc123.us-east-1.rds.amazonaws.com", RdsUrlType.RDS_PROXY),
    ("instance-1.abc123.us-east-1.rds.amazonaws.com", RdsUrlType.RDS_INSTANCE),
    ("instance-1.abc123.cn-north-1.rds.amazonaws.com.cn", RdsUrlType.RDS_INSTANCE),
    ("mydb.global-abc123.global.rds.amazonaws.com", RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER),
    ("10.1.2.3", RdsUrlType.IP_ADDRESS),
    ("::1", RdsUrlType.IP_ADDRESS),
    ("db.example.com", RdsUrlType.OTHER),
    ("localhost", RdsUrlType.OTHER),
])
def test_host_names_are_classified(host: str, kind: RdsUrlType) -> None:
    assert classify_host(host) is kind


def test_instance_pattern_and_writer_endpoint_come_from_the_cluster_name() -> None:
    parsed = parse_rds_host("MyDB.cluster-ro-ABC123.eu-west-1.rds.amazonaws.com")
    assert parsed.region == "eu-west-1"
    assert parsed.instance_host_pattern() == "?.abc123.eu-west-1.rds.amazonaws.com"
    assert parsed.cluster_writer_host() == "mydb.cluster-abc123.eu-west-1.rds.amazonaws.com"


def _props(**values: object) -> Properties:
    return Properties(dict(values), {}, PropertyRegistry(CORE_PROPERTIES))


def test_cluster_ids_are_shared_within_a_cluster_and_distinct_across() -> None:
    a = derive_cluster_id(_props(), "c1.cluster-aaa.us-east-1.rds.amazonaws.com")
    a_ro = derive_cluster_id(_props(), "c1.cluster-ro-aaa.us-east-1.rds.amazonaws.com")
    a_instance = derive_cluster_id(_props(), "instance-2.aaa.us-east-1.rds.amazonaws.com")
    b = derive_cluster_id(_props(), "c2.cluster-bbb.us-east-1.rds.amazonaws.com")
    assert a == a_ro == a_instance
    assert a != b
    assert derive_cluster_id(_props(cluster_id="mine"), "anything") == "mine"
    assert derive_cluster_id(_props(), "10.0.0.1") != derive_cluster_id(_props(), "10.0.0.2")
    # Two clusters behind one address (tunnels) differ by port.
    assert derive_cluster_id(_props(), "127.0.0.1", 5433) != derive_cluster_id(_props(), "127.0.0.1", 6543)


def test_topology_updates_report_what_changed() -> None:
    registry = TopologyRegistry()
    topology = registry.get("c")
    assert registry.get("c") is topology
    seen: list[dict[str, frozenset[HostEvent]]] = []
    topology.add_listener(lambda _t, changes: seen.append(changes))
    w = HostInfo("i1", 5432, HostRole.WRITER)
    r = HostInfo("i2", 5432, HostRole.READER)
    topology.update([r, w])
    assert topology.writer == w and topology.readers == (r,)
    topology.update([w.with_role(HostRole.READER), r.with_role(HostRole.WRITER)])
    assert seen[-1] == {
        "i1:5432": frozenset({HostEvent.CONVERTED_TO_READER}),
        "i2:5432": frozenset({HostEvent.CONVERTED_TO_WRITER}),
    }
    version = topology.version
    topology.update([r.with_role(HostRole.WRITER)])
    assert seen[-1] == {"i1:5432": frozenset({HostEvent.HOST_DELETED})}
    assert topology.wait_for_change(version, 0.01)
    assert not topology.wait_for_change(topology.version, 0.01)


def test_topology_rows_become_hosts_with_the_pattern_port() -> None:
    host = host_from_topology_row("instance-3", True, "?.abc.us-east-1.rds.amazonaws.com:6000", 5432)
    assert (host.host, host.port, host.role) == ("instance-3.abc.us-east-1.rds.amazonaws.com", 6000, HostRole.WRITER)


def test_several_writers_resolve_to_the_latest_update_and_none_to_empty() -> None:
    now = dt.datetime.now(dt.timezone.utc)
    rows = [("a", True, 0, 0, now - dt.timedelta(seconds=5)), ("b", True, 0, 0, now), ("c", False, 0, 0, now)]
    hosts = AuroraPgDialect().hosts_from_rows(rows, "?.x", 5432)
    assert [(h.host, h.role) for h in hosts] == [("c.x", HostRole.READER), ("a.x", HostRole.READER), ("b.x", HostRole.WRITER)]
    assert AuroraPgDialect().hosts_from_rows([("a", False, 0, 0, now)], "?.x", 5432) == []


HOSTS = [HostInfo("a", 1, HostRole.READER, weight=1), HostInfo("b", 1, HostRole.READER, weight=10),
         HostInfo("c", 1, HostRole.READER, weight=5)]


def test_round_robin_cycles_through_every_host() -> None:
    picks = [selectors.select_host(HOSTS, "round_robin").host for _ in range(6)]
    assert sorted(picks[:3]) == ["a", "b", "c"] and picks[:3] == picks[3:]


def test_without_weight_pairs_highest_weight_and_weighted_random_use_topology_weights() -> None:
    assert selectors.select_host(HOSTS, "highest_weight").host == "b"
    counts = Counter(selectors.select_host(HOSTS, "weighted_random").host for _ in range(3000))
    assert counts["b"] > counts["c"] > counts["a"]


def test_least_connections_prefers_the_emptiest_host_and_follows_failover() -> None:
    class Ctx:
        def __init__(self, host: HostInfo) -> None:
            self.host = host
            self.closed = False

    a, b = Ctx(HOSTS[0]), Ctx(HOSTS[1])
    selectors.track(a)
    selectors.track(b)
    try:
        assert selectors.select_host(HOSTS, "least_connections").host == "c"
        b.host = HOSTS[2]  # a failover moved b's connection to c
        assert selectors.select_host(HOSTS, "least_connections").host == "b"
        assert selectors.open_connections()["c:1"] == 1
    finally:
        selectors.untrack(a)
        selectors.untrack(b)


def test_unavailable_hosts_are_avoided_when_others_exist() -> None:
    hosts = [HOSTS[0].with_availability(HostAvailability.UNAVAILABLE), HOSTS[1]]
    assert {selectors.select_host(hosts, "random").host for _ in range(50)} == {"b"}


def test_unknown_strategy_is_rejected() -> None:
    with pytest.raises(ValueError, match="round_robin"):
        selectors.select_host(HOSTS, "fastest")
