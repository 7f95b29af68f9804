"""``plugin_api.ImmutableRecord``: what a frozen dataclass gave the plugins' settings classes
(immutability, equality, repr, replace), without the dataclass's definition cost."""

from __future__ import annotations

from typing import Any

import pytest

from sturdydb.plugin_api import ImmutableRecord


class Rule(ImmutableRecord):
    __slots__ = ("count", "extra", "interval")

    count: int
    extra: dict[str, Any]
    interval: float

    def __init__(self, *, interval: float, count: int = 3, extra: dict[str, Any] | None = None) -> None:
        self._set(interval=interval, count=count, extra=extra or {})


def test_fields_are_set_once_and_then_immutable() -> None:
    rule = Rule(interval=0.5)
    assert (rule.interval, rule.count, rule.extra) == (0.5, 3, {})
    with pytest.raises(AttributeError, match="immutable"):
        rule.count = 4  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        del rule.interval
    with pytest.raises(AttributeError):
        rule.other = 1  # type: ignore[attr-defined]  # slots: no new attributes either


def test_replace_equality_and_repr() -> None:
    rule = Rule(interval=0.5, extra={"a": 1})
    changed = rule.replace(count=5)
    assert changed == Rule(interval=0.5, count=5, extra={"a": 1})
    assert changed != rule and rule.count == 3
    assert rule != (0.5, 3, {"a": 1})  # only a record of the same class compares equal
    assert repr(changed) == "Rule(count=5, extra={'a': 1}, interval=0.5)"
    with pytest.raises(TypeError, match="no field"):
        rule.replace(counts=1)
    with pytest.raises(TypeError):
        hash(rule)  # like a dataclass with eq: values may be unhashable
