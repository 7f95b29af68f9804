"""A meta-test: every hook specification has a contract test, and every marker names a hook.

The hooks come from pluggy itself (the specs registered from ``sturdydb.hookspecs``); the tests
are found by reading the core's test modules for ``@pytest.mark.hookspec("<name>")``, so the
check does not depend on which tests a run selected.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pluggy

from sturdydb import hookspecs

TESTS = Path(__file__).parent


def _hookspec_names() -> set[str]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return {name for name, caller in vars(pm.hook).items()
            if isinstance(caller, pluggy.HookCaller) and caller.spec is not None}


def _marked_tests() -> dict[str, list[str]]:
    """Hook name -> the ``test_*`` functions marked for it, over every test module here."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)
                        and deco.func.attr == "hookspec" and deco.args
                        and isinstance(deco.args[0], ast.Constant)):
                    found.setdefault(str(deco.args[0].value), []).append(f"{path.name}::{node.name}")
    return found


def test_pluggy_sees_every_hook_of_the_specs_module() -> None:
    names = _hookspec_names()
    assert {"sturdydb_connect", "sturdydb_execute", "sturdydb_add_dialects"} <= names
    assert all(name.startswith("sturdydb_") for name in names)


def test_every_hookspec_has_a_contract_test() -> None:
    marked = _marked_tests()
    missing = sorted(_hookspec_names() - set(marked))
    assert not missing, (
        f"hooks without a contract test: {missing}; add a test that proves each is called with "
        "its documented arguments at its documented moment, marked "
        "@pytest.mark.hookspec(\"<hook name>\")"
    )


def test_every_hookspec_marker_names_a_hook() -> None:
    unknown = {name: tests for name, tests in _marked_tests().items() if name not in _hookspec_names()}
    assert not unknown, f"@pytest.mark.hookspec names no hook: {unknown}"


def test_every_hookspec_states_its_contract() -> None:
    for name in _hookspec_names():
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "When" in doc and ("raise" in doc or "exception" in doc), f"{name}: {doc!r}"
