"""A broken plugin distribution is isolated, named, and never breaks the other plugins.

The distribution here is real as far as ``importlib.metadata`` goes: a ``.dist-info`` folder
with an ``entry_points.txt`` on ``sys.path``, next to its modules. One entry point's module
raises on import, one plugin's contribution hook raises, one plugin misspells a hook; a fourth
plugin of the same distribution is fine and stays usable.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest

import sturdydb
from sturdydb import Call, Plugin, hookimpl
from sturdydb._discovery import catalog, register_plugin, reload_catalog, unregister_plugin
from sturdydb._errors import ConfigurationError

_MODULES = ("t_broken_dist_import", "t_broken_dist_plugins")


@pytest.fixture
def broken_distribution(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "t_broken_dist_import.py").write_text(
        'raise ImportError("this plugin needs libfrobnicate, which is not installed")\n'
    )
    (tmp_path / "t_broken_dist_plugins.py").write_text(textwrap.dedent('''
        from sturdydb import Plugin, PropertySpec, Profile, hookimpl

        class RaisingContributions(Plugin):
            code = "t_broken_props"

            @staticmethod
            @hookimpl
            def sturdydb_add_properties():
                raise RuntimeError("cannot read my settings file")

            @staticmethod
            @hookimpl
            def sturdydb_add_profiles():
                return [Profile("t-broken-preset", plugins="t_broken_props")]

        class Misspelled(Plugin):
            code = "t_typo"

            @hookimpl
            def sturdydb_exceute(self, call):
                return None

        class Unprefixed(Plugin):
            code = "t_unprefixed"

            @hookimpl
            def execute(self, call):
                return None

        class Fine(Plugin):
            code = "t_fine"

            @staticmethod
            @hookimpl
            def sturdydb_add_properties():
                return [PropertySpec("t_fine_level", int, 1, "A property of the fine plugin.")]
    '''))
    info = tmp_path / "t_broken_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: t-broken-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [sturdydb.plugins]
        t_broken_import = t_broken_dist_import:Plugin
        t_broken_props = t_broken_dist_plugins:RaisingContributions
        t_typo = t_broken_dist_plugins:Misspelled
        t_unprefixed = t_broken_dist_plugins:Unprefixed
        t_fine = t_broken_dist_plugins:Fine
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        reload_catalog()
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in _MODULES:
            sys.modules.pop(name, None)
        reload_catalog()


def test_an_entry_point_that_fails_to_load_is_named_as_such(
    broken_distribution: Path, pg_conninfo: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "sturdydb._discovery"):
        reload_catalog()
    assert any("t_broken_import" in r.getMessage() and "failed to load" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
    with pytest.raises(ConfigurationError) as info:
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_broken_import")
    message = str(info.value)
    assert "unknown plugin code" not in message
    assert "'t_broken_import' is installed but cannot be used" in message
    assert "t-broken-plugins failed to load" in message
    assert "libfrobnicate" in message
    assert any("t_broken_import" in e for e in catalog().errors)  # what sturdydb doctor shows


def test_a_contribution_hook_that_raises_is_isolated_with_a_logged_error(
    broken_distribution: Path, pg_conninfo: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, "sturdydb._discovery"):
        cat = reload_catalog()
    assert any("t_broken_props" in r.getMessage() and "sturdydb_add_properties" in r.getMessage()
               and "cannot read my settings file" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)
    # The other plugins' contributions are all there; the broken one's preset is not.
    assert cat.registry.get("t_fine_level") is not None
    assert "t_fine" in cat.entries and "t_broken_props" not in cat.entries
    assert "t-broken-preset" not in cat.all_profiles()
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_fine",
                          t_fine_level=3) as conn:
        assert conn.context.pipeline.codes == ("t_fine",)
    with pytest.raises(ConfigurationError, match="raised in sturdydb_add_properties"):
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_broken_props")


def test_a_misspelled_hook_in_an_installed_plugin_is_reported(broken_distribution: Path) -> None:
    cat = catalog()
    assert "t_typo" not in cat.entries
    with pytest.raises(ConfigurationError) as info:
        cat.resolve("t_typo")
    message = str(info.value)
    assert "'sturdydb_exceute'" in message and "did you mean 'sturdydb_execute'" in message


def test_a_hookimpl_marker_on_a_method_that_is_no_hook_is_reported(broken_distribution: Path) -> None:
    cat = catalog()
    assert "t_unprefixed" not in cat.entries and "t_fine" in cat.entries
    with pytest.raises(ConfigurationError) as info:
        cat.resolve("t_unprefixed")
    assert "'execute'" in str(info.value) and "not sturdydb hooks" in str(info.value)


def test_register_plugin_refuses_a_misspelled_hook_at_once() -> None:
    class Typo(Plugin):
        code: ClassVar[str] = "t_register_typo"

        @hookimpl(wrapper=True)
        def sturdydb_exceute(self, call: Call) -> Generator[None, Any, Any]:
            return (yield)

    with pytest.raises(ConfigurationError) as info:
        register_plugin(Typo)
    message = str(info.value)
    assert "Typo" in message and "'sturdydb_exceute'" in message
    assert "did you mean 'sturdydb_execute'" in message
    assert "t_register_typo" not in catalog().entries


def test_a_plugin_in_the_default_chain_runs_without_a_plugins_property(pg_conninfo: str) -> None:
    class Always(Plugin):
        code: ClassVar[str] = "t_default_chain"
        in_default_chain: ClassVar[bool] = True

    class Opt(Plugin):
        code: ClassVar[str] = "t_not_default"

    register_plugin(Always)
    register_plugin(Opt)
    try:
        with sturdydb.connect(psycopg.Connection.connect, pg_conninfo) as conn:
            assert "t_default_chain" in conn.context.pipeline.codes
            assert "t_not_default" not in conn.context.pipeline.codes
    finally:
        unregister_plugin("t_default_chain")
        unregister_plugin("t_not_default")
