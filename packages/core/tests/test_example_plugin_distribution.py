"""The example third-party distribution under examples/ is found through its entry point."""

from __future__ import annotations

from importlib import metadata

import psycopg

import sturdydb
from sturdydb._discovery import catalog, reload_catalog


def test_entry_point_is_installed_and_discovered() -> None:
    names = {ep.name for ep in metadata.entry_points(group="sturdydb.plugins")}
    assert "example_execute_time" in names, "CI installs examples/execute-time (nox -s tests-core)"
    entry = reload_catalog().resolve("example_execute_time")
    assert entry.distribution == "sturdydb-execute-time"
    assert entry.cls.weight == 50


def test_its_property_and_profile_are_contributed(pg_conninfo: str) -> None:
    cat = catalog()
    assert cat.registry.get("example_execute_time_log_threshold_ms") is not None
    assert cat.all_profiles()["timed"].plugins == "example_execute_time"


def test_it_times_statements_through_sturdydb(pg_conninfo: str) -> None:
    import sturdydb_execute_time as plugin

    plugin.stats.reset()
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, profile_name="timed") as conn:
        assert conn.context.pipeline.codes == ("example_execute_time",)
        assert conn.context.props.get("example_execute_time_log_threshold_ms") == 100.0
        cur = conn.cursor()
        cur.execute("SELECT pg_sleep(0.02)")
        cur.executemany("SELECT %s", [(1,), (2,)])
    assert plugin.stats.calls == 2
    assert plugin.stats.total_ns >= 20_000_000
