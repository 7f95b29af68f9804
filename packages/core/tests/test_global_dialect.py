"""The global-aurora-pg dialect: region patterns, topology rows with regions, detection order."""

from __future__ import annotations

import pytest

from sturdydb._dialects import DIALECTS
from sturdydb._dialects.pg import GlobalAuroraPgDialect
from sturdydb._hosts import HostRole, parse_global_host_patterns
from sturdydb._topology import derive_cluster_id
from sturdydb.plugin_api import build_properties

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


def test_topology_rows_become_hosts_with_their_region_and_pattern() -> None:
    rows = [("w-1", True, 0, "us-east-1"), ("r-1", False, 12.5, "us-east-1"), ("r-2", False, 800, "US-WEST-2")]
    hosts = GlobalAuroraPgDialect().hosts_from_rows(rows, PATTERNS, 5432)
    assert [(h.host, h.port, h.role, h.region) for h in hosts] == [
        ("r-1.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.READER, "us-east-1"),
        ("r-2.bbb.us-west-2.rds.amazonaws.com", 6543, HostRole.READER, "us-west-2"),
        ("w-1.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.WRITER, "us-east-1"),
    ]


def test_a_region_without_a_pattern_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="eu-west-1"):
        GlobalAuroraPgDialect().hosts_from_rows([("w", True, 0, "eu-west-1")], PATTERNS, 5432)


def test_two_writers_mid_switchover_mean_topology_unknown() -> None:
    rows = [("a", True, 0, "us-east-1"), ("b", True, 0, "us-west-2")]
    assert GlobalAuroraPgDialect().hosts_from_rows(rows, PATTERNS, 5432) == []


def test_global_is_probed_before_aurora_and_is_a_wrapper_dialect_choice() -> None:
    refinements = DIALECTS["pg"].refinements
    assert refinements.index("global-aurora-pg") < refinements.index("aurora-pg")
    assert build_properties(wrapper_dialect="global_aurora_pg").get("wrapper_dialect") == "global-aurora-pg"


def test_every_region_of_a_global_database_shares_one_cluster_id() -> None:
    props = build_properties(global_cluster_instance_host_patterns=PATTERNS)
    east = derive_cluster_id(props, "r-1.aaa.us-east-1.rds.amazonaws.com")
    west = derive_cluster_id(props, "r-2.bbb.us-west-2.rds.amazonaws.com")
    assert east == west
