"""The global-aurora-pg and global-aurora-mysql dialects: region patterns, topology rows with regions,
detection SQL and order (fake drivers answering the reference's exact strings)."""

from __future__ import annotations

from typing import Any

import pytest

from sturdydb._dialects import DIALECTS, clear_dialect_cache, detect_dialect
from sturdydb._dialects.base import GlobalDialect
from sturdydb._dialects.mysql import GlobalAuroraMysqlDialect
from sturdydb._dialects.pg import GlobalAuroraPgDialect
from sturdydb._hosts import HostRole, parse_global_host_patterns
from sturdydb._topology import derive_cluster_id
from sturdydb.plugin_api import build_properties

GLOBAL_DIALECTS = [GlobalAuroraPgDialect(), GlobalAuroraMysqlDialect()]
PATTERNS = "us-east-1:?.aaa.us-east-1.rds.amazonaws.com,us-west-2:?.bbb.us-west-2.rds.amazonaws.com:6543"


def test_patterns_are_parsed_by_region() -> None:
    assert parse_global_host_patterns(PATTERNS) == {
        "us-east-1": "?.aaa.us-east-1.rds.amazonaws.com",
        "us-west-2": "?.bbb.us-west-2.rds.amazonaws.com:6543",
    }


@pytest.mark.parametrize("bad", ["?.aaa.rds.amazonaws.com", "us-east-1:aaa.rds.amazonaws.com", " , "])
def test_a_bad_pattern_list_names_the_entry_and_the_shape(bad: str) -> None:
    with pytest.raises(ValueError, match="global_cluster_instance_host_patterns"):
        parse_global_host_patterns(bad)


@pytest.mark.parametrize("dialect", GLOBAL_DIALECTS, ids=lambda d: d.code)
def test_topology_rows_become_hosts_with_their_region_and_pattern(dialect: GlobalDialect) -> None:
    rows = [("w-1", True, 0, "us-east-1"), ("r-1", False, 12.5, "us-east-1"), ("r-2", False, 800, "US-WEST-2")]
    hosts = dialect.hosts_from_rows(rows, PATTERNS, 5432)
    assert [(h.host, h.port, h.role, h.region) for h in hosts] == [
        ("r-1.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.READER, "us-east-1"),
        ("r-2.bbb.us-west-2.rds.amazonaws.com", 6543, HostRole.READER, "us-west-2"),
        ("w-1.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.WRITER, "us-east-1"),
    ]


@pytest.mark.parametrize("dialect", GLOBAL_DIALECTS, ids=lambda d: d.code)
def test_a_region_without_a_pattern_is_an_error_naming_it(dialect: GlobalDialect) -> None:
    with pytest.raises(ValueError, match="eu-west-1"):
        dialect.hosts_from_rows([("w", True, 0, "eu-west-1")], PATTERNS, 5432)


@pytest.mark.parametrize("dialect", GLOBAL_DIALECTS, ids=lambda d: d.code)
def test_two_writers_mid_switchover_mean_topology_unknown(dialect: GlobalDialect) -> None:
    rows = [("a", True, 0, "us-east-1"), ("b", True, 0, "us-west-2")]
    assert dialect.hosts_from_rows(rows, PATTERNS, 5432) == []


@pytest.mark.parametrize("dialect", GLOBAL_DIALECTS, ids=lambda d: d.code)
def test_a_missing_pattern_list_names_the_dialect_and_the_property(dialect: GlobalDialect) -> None:
    with pytest.raises(ValueError, match=f"{dialect.code} dialect needs global_cluster_instance_host_patterns"):
        dialect.hosts_from_rows([("w", True, 0, "us-east-1")], "", 3306)


@pytest.mark.parametrize("engine", ["pg", "mysql"])
def test_global_is_probed_before_aurora_and_is_a_wrapper_dialect_choice(engine: str) -> None:
    for start in (engine, f"rds-{engine}"):
        refinements = DIALECTS[start].refinements
        assert refinements.index(f"global-aurora-{engine}") < refinements.index(f"aurora-{engine}")
    value = build_properties(wrapper_dialect=f"global_aurora_{engine}").get("wrapper_dialect")
    assert value == f"global-aurora-{engine}"


# The reference's exact detection and topology strings for Aurora MySQL Global Database.
_MYSQL_STATUS_TABLE = ("SELECT 1 AS tmp FROM information_schema.tables WHERE upper(table_schema) = "
                       "'INFORMATION_SCHEMA' AND upper(table_name) = 'AURORA_GLOBAL_DB_STATUS'")
_MYSQL_INSTANCE_TABLE = ("SELECT 1 AS tmp FROM information_schema.tables WHERE upper(table_schema) = "
                         "'INFORMATION_SCHEMA' AND upper(table_name) = 'AURORA_GLOBAL_DB_INSTANCE_STATUS'")
_MYSQL_COUNT = "SELECT count(1) FROM information_schema.aurora_global_db_status"
_MYSQL_TOPOLOGY = ("SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
                   "VISIBILITY_LAG_IN_MSEC, AWS_REGION FROM information_schema.aurora_global_db_instance_status ")


class FakeMysql:
    """A MySQL driver dialect answering exact SQL strings; anything else fails like a missing table."""

    database_family = "mysql"

    def __init__(self, answers: dict[str, list[tuple[Any, ...]]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        self.asked.append(sql)
        if sql in self.answers:
            return self.answers[sql]
        raise LookupError(f"Table or variable unknown: {sql}")

    def is_network_error(self, exc: BaseException) -> bool:
        return False


def _aurora_mysql(regions: int) -> dict[str, list[tuple[Any, ...]]]:
    answers: dict[str, list[tuple[Any, ...]]] = {
        "SHOW VARIABLES LIKE 'version_comment'": [("version_comment", "MySQL Community Server (GPL)")],
        "SHOW VARIABLES LIKE 'aurora_version'": [("aurora_version", "3.08.0")],
    }
    if regions:
        answers[_MYSQL_STATUS_TABLE] = [(1,)]
        answers[_MYSQL_INSTANCE_TABLE] = [(1,)]
        answers[_MYSQL_COUNT] = [(regions,)]
    return answers


@pytest.mark.parametrize(("regions", "expected"), [(2, "global-aurora-mysql"), (1, "aurora-mysql"),
                                                   (0, "aurora-mysql")])
def test_mysql_detection_needs_both_status_tables_and_more_than_one_region(regions: int, expected: str) -> None:
    clear_dialect_cache()
    driver = FakeMysql(_aurora_mysql(regions))
    found = detect_dialect(driver, object(), f"fake-{regions}:3306")  # type: ignore[arg-type]
    assert found.code == expected
    if regions:
        assert driver.asked.index(_MYSQL_STATUS_TABLE) < driver.asked.index(_MYSQL_INSTANCE_TABLE)


def test_mysql_topology_uses_the_reference_query_and_maps_regions() -> None:
    rows: list[tuple[Any, ...]] = [("w-1", 1, 0.0, "us-east-1"), ("r-2", 0, 120.0, "us-west-2")]
    driver = FakeMysql({_MYSQL_TOPOLOGY: rows})
    hosts = GlobalAuroraMysqlDialect().topology(driver, object(), PATTERNS, 3306)  # type: ignore[arg-type]
    assert driver.asked == [_MYSQL_TOPOLOGY]
    assert [(h.host, h.port, h.role, h.region) for h in hosts] == [
        ("r-2.bbb.us-west-2.rds.amazonaws.com", 6543, HostRole.READER, "us-west-2"),
        ("w-1.aaa.us-east-1.rds.amazonaws.com", 3306, HostRole.WRITER, "us-east-1"),
    ]


def test_mysql_writer_and_region_queries_read_the_global_instance_status() -> None:
    dialect = GlobalAuroraMysqlDialect()
    assert dialect.writer_id_query.endswith("SERVER_ID = @@aurora_server_id")
    assert "information_schema.aurora_global_db_instance_status" in dialect.writer_id_query
    assert dialect.region_query == (
        "SELECT AWS_REGION FROM information_schema.aurora_global_db_instance_status WHERE SERVER_ID = %s"
    )
    # Instance id and reader checks are Aurora MySQL's (the emulation rewrites them the same way).
    assert dialect.instance_id_query == DIALECTS["aurora-mysql"].instance_id_query
    assert dialect.has_topology


def test_every_region_of_a_global_database_shares_one_cluster_id() -> None:
    props = build_properties(global_cluster_instance_host_patterns=PATTERNS)
    east = derive_cluster_id(props, "r-1.aaa.us-east-1.rds.amazonaws.com")
    west = derive_cluster_id(props, "r-2.bbb.us-west-2.rds.amazonaws.com")
    assert east == west
