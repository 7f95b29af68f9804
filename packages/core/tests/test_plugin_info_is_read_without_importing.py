"""A plugin published with a ``PluginInfo`` is known by it and imported only when selected.

The distribution here is real as far as ``importlib.metadata`` goes (a ``.dist-info`` folder on
``sys.path``): its info module is data only; its plugin module records that it was imported.
A second plugin's class disagrees with its info, which is reported when it is selected.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import sturdydb
from sturdydb._discovery import catalog, reload_catalog
from sturdydb._errors import ConfigurationError

_MODULES = ("t_lazy_info", "t_lazy_plugin")


@pytest.fixture
def lazy_distribution(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "t_lazy_info.py").write_text(textwrap.dedent('''
        from sturdydb import PluginInfo, PropertySpec
        LAZY = PluginInfo(code="t_lazy", weight=42, aliases=("t_lazy_v2",),
                          refused_codes={"t_never": "use t_lazy instead"},
                          properties=(PropertySpec("t_lazy_level", int, 1, "A level.",
                                                   owner="t_lazy", minimum=0),))
        LIAR = PluginInfo(code="t_liar", weight=1)
    '''))
    (tmp_path / "t_lazy_plugin.py").write_text(textwrap.dedent('''
        from sturdydb import Plugin
        IMPORTED = True
        class Lazy(Plugin):
            code = "t_lazy"
            weight = 42
            aliases = ("t_lazy_v2",)
            refused_codes = {"t_never": "use t_lazy instead"}
        class Liar(Plugin):
            code = "t_liar"
            weight = 999
    '''))
    info = tmp_path / "t_lazy_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: t-lazy-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [sturdydb.plugins]
        t_lazy = t_lazy_plugin:Lazy
        t_liar = t_lazy_plugin:Liar

        [sturdydb.plugin_info]
        t_lazy = t_lazy_info:LAZY
        t_liar = t_lazy_info:LIAR
    """))
    sys.path.insert(0, str(tmp_path))
    for name in _MODULES:
        sys.modules.pop(name, None)
    try:
        reload_catalog()
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in _MODULES:
            sys.modules.pop(name, None)
        reload_catalog()


def test_the_info_answers_everything_but_the_class(lazy_distribution: Path) -> None:
    cat = catalog()
    assert "t_lazy_plugin" not in sys.modules
    entry = cat.entries["t_lazy"]
    assert (entry.weight, entry.loaded, entry.distribution) == (42, False, "t-lazy-plugins")
    assert cat.aliases["t_lazy_v2"] == "t_lazy"
    assert cat.registry.get("t_lazy_level") is not None
    with pytest.raises(ConfigurationError, match="use t_lazy instead"):
        cat.resolve("t_never")
    assert "t_lazy_plugin" not in sys.modules
    assert cat.resolve("t_lazy_v2").cls.__name__ == "Lazy"
    assert "t_lazy_plugin" in sys.modules


def test_a_class_that_disagrees_with_its_info_is_reported_when_selected(
    lazy_distribution: Path, pg_conninfo: str,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="t_liar")
    message = str(caught.value)
    assert "'t_liar' is installed but cannot be used" in message
    assert "disagrees with its published PluginInfo" in message
    assert any("t_liar" in e for e in catalog().errors)
