"""Multi-AZ DB cluster topology from canned server answers (the real servers are in
``tests/integration/test_core_on_aurora_clusters.py``): the writer comes from its own query,
hosts from the endpoint's instance part, and an unknown writer means "topology unknown"."""

from __future__ import annotations

from typing import Any

import pytest

from sturdydb import _dialects as dialects
from sturdydb._hosts import HostRole

PATTERN = "?.abc.us-east-1.rds.amazonaws.com"
ENDPOINTS = [
    ("db-AAA", "inst-a.abc.us-east-1.rds.amazonaws.com", 5432),
    ("db-BBB", "inst-b.abc.us-east-1.rds.amazonaws.com", 5432),
    ("db-CCC", "inst-c.abc.us-east-1.rds.amazonaws.com", 5432),
]


class FakeDriver:
    """Answers each query from a table of SQL prefix -> rows."""

    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        self.asked.append(sql)
        for prefix, rows in self.answers.items():
            if sql.startswith(prefix):
                return rows
        raise AssertionError(f"unexpected query {sql}")

    def is_network_error(self, exc: BaseException) -> bool:
        return False


def _roles(hosts: list[Any]) -> list[tuple[str, HostRole]]:
    return [(h.host.split(".")[0], h.role) for h in hosts]


def test_pg_writer_is_the_source_resource_id_and_comes_last() -> None:
    driver = FakeDriver({
        "SELECT multi_az_db_cluster_source_dbi_resource_id": [("db-BBB",)],
        "SELECT id, endpoint, port FROM rds_tools.show_topology(": ENDPOINTS,
    })
    hosts = dialects.dialect_by_code("multi-az-pg").topology(driver, None, PATTERN, 5432)  # type: ignore[arg-type]
    assert _roles(hosts) == [("inst-a", HostRole.READER), ("inst-c", HostRole.READER), ("inst-b", HostRole.WRITER)]
    assert hosts[-1].host == "inst-b.abc.us-east-1.rds.amazonaws.com"
    assert hosts[-1].host_id == "inst-b"  # what the instance id query returns
    assert hosts[-1].port == 5432


@pytest.mark.parametrize("source", [[], [(None,)], [("db-ZZZ",)]])
def test_pg_without_a_known_writer_the_topology_is_unknown(source: list[tuple[Any, ...]]) -> None:
    driver = FakeDriver({
        "SELECT multi_az_db_cluster_source_dbi_resource_id": source,
        "SELECT id, endpoint, port FROM rds_tools.show_topology(": ENDPOINTS,
    })
    assert dialects.dialect_by_code("multi-az-pg").topology(driver, None, PATTERN, 5432) == []  # type: ignore[arg-type]


def _replica_status(source_server_id: int) -> tuple[Any, ...]:
    return tuple(["x"] * 39 + [source_server_id] + ["y"] * 10)


def test_mysql_standby_names_the_server_it_replicates_from() -> None:
    driver = FakeDriver({
        "SHOW REPLICA STATUS": [_replica_status(7)],
        "SELECT id, endpoint, port FROM mysql.rds_topology": [(5, ENDPOINTS[0][1], 3306), (7, ENDPOINTS[1][1], 3306)],
    })
    hosts = dialects.dialect_by_code("multi-az-mysql").topology(driver, None, PATTERN, 3306)  # type: ignore[arg-type]
    assert _roles(hosts) == [("inst-a", HostRole.READER), ("inst-b", HostRole.WRITER)]


def test_mysql_writer_replicates_from_nobody_and_names_itself() -> None:
    driver = FakeDriver({
        "SHOW REPLICA STATUS": [],
        "SELECT id, SUBSTRING_INDEX": [(5, "inst-a")],
        "SELECT id, endpoint, port FROM mysql.rds_topology": [(5, ENDPOINTS[0][1], 3306), (7, ENDPOINTS[1][1], 3306)],
    })
    hosts = dialects.dialect_by_code("multi-az-mysql").topology(driver, None, PATTERN, 3306)  # type: ignore[arg-type]
    assert _roles(hosts) == [("inst-b", HostRole.READER), ("inst-a", HostRole.WRITER)]


def test_mysql_standby_that_has_not_reached_its_new_source_knows_no_writer() -> None:
    driver = FakeDriver({"SHOW REPLICA STATUS": [_replica_status(0)]})
    assert dialects.dialect_by_code("multi-az-mysql").topology(driver, None, PATTERN, 3306) == []  # type: ignore[arg-type]
    assert driver.asked == ["SHOW REPLICA STATUS"]


def test_multi_az_dialects_report_topology_and_are_refinements_of_their_family() -> None:
    for family in ("pg", "mysql"):
        dialect = dialects.dialect_by_code(f"multi-az-{family}")
        assert dialect.has_topology and dialect.family == family
        assert f"multi-az-{family}" in dialects.dialect_by_code(family).refinements
        # Role by the server's own read-only state: the reference's writer queries answer on any node.
        assert not dialect.writer_id_query
