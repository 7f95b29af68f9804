"""gdb_rw's choices on a global topology, with a fake connection context (no servers)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import sturdydb
from sturdydb import HostInfo, HostRole
from sturdydb.plugin_api import ClusterTopology, build_properties
from sturdydb_read_write._info import GDB_READ_WRITE_SPLITTING
from sturdydb_read_write.errors import ReadWriteSplittingError
from sturdydb_read_write.gdb import GdbReadWriteSplittingPlugin, home_region

EAST_WRITER = HostInfo("w.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.WRITER, region="us-east-1")
EAST_READER = HostInfo("r1.aaa.us-east-1.rds.amazonaws.com", 5432, HostRole.READER, region="us-east-1")
WEST_READERS = [HostInfo(f"r{i}.bbb.us-west-2.rds.amazonaws.com", 5432, HostRole.READER, region="us-west-2")
                for i in (2, 3)]
GLOBAL_HOST = "app.global-abc123.global.rds.amazonaws.com"


def _ctx(host: str = GLOBAL_HOST, **props: Any) -> Any:
    topology = ClusterTopology("fake")
    topology.update([EAST_READER, *WEST_READERS, EAST_WRITER])
    return SimpleNamespace(props=build_properties(host=host, **props), topology=topology,
                           initial_host=HostInfo(host, 5432))


STATE: Any = SimpleNamespace(settings=SimpleNamespace(strategy="random"), current_role=HostRole.WRITER)


def test_the_class_agrees_with_its_published_info() -> None:
    assert (GdbReadWriteSplittingPlugin.code, GdbReadWriteSplittingPlugin.weight) == (GDB_READ_WRITE_SPLITTING.code, 320)


def test_the_home_region_comes_from_the_property_or_the_host_and_is_required_for_a_global_host() -> None:
    assert home_region(_ctx(gdb_rw_home_region="US-WEST-2")) == "us-west-2"
    assert home_region(_ctx("db.cluster-x.eu-west-1.rds.amazonaws.com")) == "eu-west-1"
    with pytest.raises(sturdydb.ConfigurationError, match="gdb_rw_home_region"):
        home_region(_ctx())


def test_readers_are_chosen_only_in_the_home_region_unless_told_otherwise() -> None:
    plugin = GdbReadWriteSplittingPlugin()
    west = list(plugin.candidates(_ctx(gdb_rw_home_region="us-west-2"), STATE, HostRole.READER))
    assert sorted(h.host for h in west) == sorted(h.host for h in WEST_READERS)
    anywhere = list(plugin.candidates(
        _ctx(gdb_rw_home_region="us-west-2", gdb_rw_restrict_reader_to_home_region=False), STATE, HostRole.READER))
    assert len(anywhere) == 3


def test_a_writer_outside_the_home_region_is_refused_unless_allowed() -> None:
    plugin = GdbReadWriteSplittingPlugin()
    assert list(plugin.candidates(_ctx(gdb_rw_home_region="us-east-1"), STATE, HostRole.WRITER)) == [EAST_WRITER]
    with pytest.raises(ReadWriteSplittingError, match="outside the home region us-west-2"):
        list(plugin.candidates(_ctx(gdb_rw_home_region="us-west-2"), STATE, HostRole.WRITER))
    allowed = _ctx(gdb_rw_home_region="us-west-2", gdb_rw_restrict_writer_to_home_region=False)
    assert list(plugin.candidates(allowed, STATE, HostRole.WRITER)) == [EAST_WRITER]
