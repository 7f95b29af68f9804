"""The twenty-line plugin in packages/core/README.md works as printed, through the public API only."""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator

import psycopg
import pytest

import sturdydb

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _readme_plugin_source() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if "class CountStatements" in b]
    assert len(found) == 1, "the README's plugin example is gone or duplicated"
    return found[0]


@pytest.fixture
def readme_plugin() -> Iterator[type[sturdydb.Plugin]]:
    namespace: dict[str, object] = {"__name__": "readme_plugin"}
    exec(compile(_readme_plugin_source(), str(README), "exec"), namespace)
    cls = namespace["CountStatements"]
    assert isinstance(cls, type) and issubclass(cls, sturdydb.Plugin)
    sturdydb.register_plugin(cls)
    yield cls
    sturdydb.unregister_plugin(cls.code)


def test_the_readme_plugin_is_short_and_imports_only_public_names() -> None:
    source = _readme_plugin_source()
    assert len([line for line in source.splitlines() if line.strip()]) <= 20
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all("sturdydb._" not in line for line in imports), imports


def test_the_readme_plugin_counts_statements_on_a_real_server(
    readme_plugin: type[sturdydb.Plugin], pg_conninfo: str
) -> None:
    with sturdydb.connect(psycopg.Connection.connect, pg_conninfo, plugins="count_statements") as conn:
        cur = conn.cursor()
        for _ in range(3):
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        assert conn.context.plugin_state["count_statements"] == 3
