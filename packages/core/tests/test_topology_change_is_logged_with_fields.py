"""A topology change is logged once at INFO on ``sturdydb.topology`` with structured fields."""

from __future__ import annotations

import logging

import pytest

from sturdydb import HostInfo, HostRole
from sturdydb.plugin_api import cluster_topology


def test_topology_change_line_carries_event_cluster_changes_and_writer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sturdydb.topology")
    topology = cluster_topology("log-fields-test")
    topology.update([HostInfo("a.example", 5432, HostRole.WRITER), HostInfo("b.example", 5432, HostRole.READER)])
    caplog.clear()
    topology.update([HostInfo("a.example", 5432, HostRole.READER), HostInfo("b.example", 5432, HostRole.WRITER)])
    topology.update([HostInfo("a.example", 5432, HostRole.READER), HostInfo("b.example", 5432, HostRole.WRITER)])
    (record,) = [r for r in caplog.records if r.name == "sturdydb.topology"]  # no change, no line
    assert record.levelno == logging.INFO
    assert record.getMessage() == ("topology of log-fields-test changed: a.example:5432 converted_to_reader, "
                                   "b.example:5432 converted_to_writer")
    assert record.sturdydb_event == "topology_change"  # type: ignore[attr-defined]
    assert record.sturdydb_cluster_id == "log-fields-test"  # type: ignore[attr-defined]
    assert record.sturdydb_writer == "b.example:5432"  # type: ignore[attr-defined]
    assert record.sturdydb_changes == {"a.example:5432": ["converted_to_reader"],  # type: ignore[attr-defined]
                                       "b.example:5432": ["converted_to_writer"]}
