"""``_record.value_methods``: the core's public frozen dataclasses get ``repr``, ``==`` and hash
without compiling them at ``import sturdydb``, and behave exactly as ``@dataclass(frozen=True)``."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import pytest

from sturdydb import HostInfo, HostRole, PinnedAddress, PluginInfo, Profile, PropertySpec
from sturdydb._hosts import RdsHost, RdsUrlType
from sturdydb._record import value_methods


@dataclass(frozen=True)
class Generated:
    name: str
    port: int | None = None
    stamp: float = field(default=0.0, compare=False)
    hidden: str = field(default="", repr=False)
    loose: int = field(default=0, hash=False)


@value_methods
@dataclass(frozen=True, repr=False, eq=False)
class Generated2:  # the same fields, methods from value_methods
    name: str
    port: int | None = None
    stamp: float = field(default=0.0, compare=False)
    hidden: str = field(default="", repr=False)
    loose: int = field(default=0, hash=False)


SAMPLES = [("a", None, 0.0, "", 0), ("a", 1, 5.0, "x", 2), ("b", 1, 5.0, "x", 2), ("a", 1, 9.0, "y", 3)]


@pytest.mark.parametrize("left", SAMPLES)
@pytest.mark.parametrize("right", SAMPLES)
def test_equality_and_hash_follow_the_dataclass_rules(left: tuple[object, ...], right: tuple[object, ...]) -> None:
    reference = (Generated(*left) == Generated(*right))  # type: ignore[arg-type]
    assert (Generated2(*left) == Generated2(*right)) is reference  # type: ignore[arg-type]
    assert hash(Generated2(*left)) == hash(Generated(*left))  # type: ignore[arg-type]


@pytest.mark.parametrize("values", SAMPLES)
def test_repr_is_the_dataclass_repr(values: tuple[object, ...]) -> None:
    assert repr(Generated2(*values)) == repr(Generated(*values)).replace("Generated", "Generated2", 1)  # type: ignore[arg-type]


def test_other_classes_are_not_equal_and_fields_replace_and_frozenness_remain() -> None:
    one = Generated2("a")
    assert one != Generated("a") and one != ("a",)
    assert [f.name for f in dataclasses.fields(one)] == ["name", "port", "stamp", "hidden", "loose"]
    assert dataclasses.replace(one, port=2) == Generated2("a", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.name = "b"  # type: ignore[misc]


def test_host_info_keeps_its_value_semantics() -> None:
    first = HostInfo("db-1", 5432, HostRole.WRITER, replica_lag_ms=3.0)
    later = HostInfo("db-1", 5432, HostRole.WRITER, last_update=time.time() + 60, replica_lag_ms=9.0)
    assert first == later and hash(first) == hash(later)  # update time and lag are not compared
    assert first != first.with_role(HostRole.READER)
    assert {first: "x"}[later] == "x"
    assert repr(first).startswith("HostInfo(host='db-1', port=5432, role=<HostRole.WRITER")
    assert hash(RdsHost(RdsUrlType.RDS_INSTANCE, "i")) == hash(RdsHost(RdsUrlType.RDS_INSTANCE, "i"))
    assert {PinnedAddress("10.0.0.1", 5432)} == {PinnedAddress("10.0.0.1", 5432)}


def test_specs_profiles_and_infos_compare_by_value() -> None:
    spec = PropertySpec("x", int, 1, "doc")
    assert spec == PropertySpec("x", int, 1, "doc", normalize=str.lower)  # normalize is not compared
    assert spec != PropertySpec("x", int, 2, "doc")
    assert Profile("p", {"a": 1}) == Profile("p", {"a": 1})
    assert PluginInfo("c", 10) == PluginInfo("c", 10) != PluginInfo("c", 11)
    with pytest.raises(TypeError):
        hash(PluginInfo("c"))  # a dict field: unhashable, as the dataclass was
