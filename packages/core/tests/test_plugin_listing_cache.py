"""The installed plugins are listed once per installation, and each is read only when needed.

A distribution on ``sys.path`` (a real ``.dist-info`` folder, as ``importlib.metadata`` sees it)
publishes two plugins with their ``PluginInfo``. A "new process" is simulated by forgetting
the catalog: it must answer from the cache file (the scan is made to fail) and read only the
plugins a connection selects, yet know the others' property names, and notice an installed
distribution or an edited info module as an uncached process would.
"""

from __future__ import annotations

import os
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import sturdydb
from sturdydb import _discovery, _plugin_listing
from sturdydb._config import UnknownPropertyWarning
from sturdydb._discovery import reload_catalog

_MODULES = ("t_cache_info", "t_cache_plugin", "t_cache_late")


def _write_info(folder: Path, extra: str = "") -> None:
    (folder / "t_cache_info.py").write_text(
        "from sturdydb import PluginInfo, PropertySpec\n"
        "ONE = PluginInfo(code='t_cache_one', weight=41, properties=(\n"
        "    PropertySpec('t_cache_one_level', int, 1, 'A level.', owner='t_cache_one'),\n"
        f"{extra}))\n"
        "TWO = PluginInfo(code='t_cache_two', weight=42, properties=(\n"
        "    PropertySpec('t_cache_two_level', int, 1, 'A level.', owner='t_cache_two', minimum=0),))\n"
    )


def _dist_info(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setenv("STURDYDB_CACHE_DIR", str(tmp_path / "cache"))
    # Importing the test's modules must not write a __pycache__ beside them: that changes the
    # folder's time, which (rightly) makes the next "process" rescan. An installer writes byte
    # code at install time, before any listing is cached; here it would be written mid-test.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _write_info(folder)
    (folder / "t_cache_plugin.py").write_text(textwrap.dedent('''
        from sturdydb import Plugin
        class One(Plugin):
            code = "t_cache_one"
            weight = 41
        class Two(Plugin):
            code = "t_cache_two"
            weight = 42
    '''))
    _dist_info(folder, "t_cache_plugins", """
        [sturdydb.plugins]
        t_cache_one = t_cache_plugin:One
        t_cache_two = t_cache_plugin:Two

        [sturdydb.plugin_info]
        t_cache_one = t_cache_info:ONE
        t_cache_two = t_cache_info:TWO
    """)
    sys.path.insert(0, str(folder))
    try:
        reload_catalog()  # the first process: scans, reads everything, remembers what each declares
        yield folder
    finally:
        monkeypatch.undo()  # a test's refusal to scan must not reach the reload below
        sys.path.remove(str(folder))
        for name in _MODULES:
            sys.modules.pop(name, None)
        reload_catalog()


def _new_process(monkeypatch: pytest.MonkeyPatch, *, scan_allowed: bool = False) -> _discovery.PluginCatalog:
    """Forget the catalog and the plugin modules, as a new process would start without them."""
    if not scan_allowed:
        def refuse(groups: tuple[str, ...]) -> list[_plugin_listing.EntryRef]:
            raise AssertionError("the entry points were scanned instead of read from the cache")

        monkeypatch.setattr(_plugin_listing, "_scan", refuse)
    for name in _MODULES:
        sys.modules.pop(name, None)
    sturdydb.reset_process_state()
    monkeypatch.setattr(_discovery, "_catalog", None)
    return _discovery._partial_catalog()


def test_a_new_process_reads_the_listing_from_the_cache_and_only_the_selected_plugin(
    site: Path, monkeypatch: pytest.MonkeyPatch, pg_conninfo: str,
) -> None:
    cat = _new_process(monkeypatch)
    assert {"t_cache_one", "t_cache_two"} <= set(cat.pending)
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_cache_one",
                          t_cache_one_level="3") as conn:
        assert conn.context.pipeline.codes == ("t_cache_one",)
        assert conn.context.props.get("t_cache_one_level") == 3
    assert "t_cache_two" in cat.pending  # never needed: never read
    # A property of the unread plugin is known from the cache: it is that plugin's, so it is
    # read, validated and kept from the driver, as without a cache.
    with pytest.raises(sturdydb.ConfigurationError, match="t_cache_two_level"):
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_cache_one",
                         t_cache_two_level=-1)
    assert "t_cache_two" not in cat.pending


def test_a_driver_property_does_not_read_the_unselected_plugins(
    site: Path, monkeypatch: pytest.MonkeyPatch, pg_conninfo: str,
) -> None:
    cat = _new_process(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPropertyWarning)
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_cache_one",
                              application_name="cache-test", sslmode="disable") as conn:
            assert conn.context.props.driver_kwargs()["application_name"] == "cache-test"
    assert "t_cache_two" in cat.pending
    assert "t_cache_info" in sys.modules and "t_cache_plugin" in sys.modules  # one's info and class


def test_a_newly_installed_distribution_is_seen_by_the_next_process(
    site: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (site / "t_cache_late.py").write_text(textwrap.dedent('''
        from sturdydb import Plugin
        class Late(Plugin):
            code = "t_cache_late"
    '''))
    _dist_info(site, "t_cache_late", """
        [sturdydb.plugins]
        t_cache_late = t_cache_late:Late
    """)
    os.utime(site, ns=(os.stat(site).st_atime_ns, os.stat(site).st_mtime_ns + 1_000_000))
    cat = _new_process(monkeypatch, scan_allowed=True)
    assert "t_cache_late" in cat.pending
    assert cat.resolve("t_cache_late").cls.__name__ == "Late"


def test_an_edited_info_module_is_read_again_rather_than_trusted(
    site: Path, monkeypatch: pytest.MonkeyPatch, pg_conninfo: str,
) -> None:
    info = site / "t_cache_info.py"
    before = os.stat(info).st_mtime_ns
    _write_info(site, extra="    PropertySpec('t_cache_one_added', int, 0, 'New.', owner='t_cache_one'),\n")
    os.utime(info, ns=(before, before + 1_000_000))
    for cached in (site / "__pycache__").glob("t_cache_info*"):
        cached.unlink()
    _new_process(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPropertyWarning)
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="",
                              t_cache_one_added="5") as conn:
            assert conn.context.props.get("t_cache_one_added") == 5
            assert "t_cache_one_added" not in conn.context.props.driver_kwargs()


def test_a_cache_directory_that_cannot_be_written_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_conninfo: str,
) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("STURDYDB_CACHE_DIR", str(blocked))
    try:
        cat = reload_catalog()
        assert cat.listing is not None
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="") as conn:
            assert conn.context.pipeline.codes == ()
    finally:
        monkeypatch.delenv("STURDYDB_CACHE_DIR")
        reload_catalog()


def test_a_folder_without_distributions_on_the_path_does_not_invalidate_the_listing(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripts = tmp_path / "scripts"  # another script's folder, as sys.path[0] of another process
    scripts.mkdir()
    (scripts / "job.py").write_text("print('hello')\n")
    monkeypatch.setattr(sys, "path", [str(scripts), *sys.path])
    cat = _new_process(monkeypatch)  # the scan is refused: the cache file must answer
    assert "t_cache_one" in cat.pending
