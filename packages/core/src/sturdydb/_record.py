"""``ImmutableRecord``: a frozen value class that costs nothing to define; ``value_methods``.

``@dataclass(frozen=True)`` generates its methods as source text and compiles them when the
class is defined: about a millisecond for a dozen fields, a third of a raw PostgreSQL connect,
paid by every fresh process that imports the module (CLIs, serverless functions). A plugin's
settings class that is imported on the first connect uses this base instead: the fields are
the subclass's ``__slots__``, its own typed ``__init__`` assigns them through :meth:`_set`, and
the base provides what the dataclass did (immutability, ``==``, ``repr``, ``replace``).
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, TypeVar

__all__ = ["ImmutableRecord", "value_methods"]

_C = TypeVar("_C", bound=type)

R = TypeVar("R", bound="ImmutableRecord")


class ImmutableRecord:
    """Base of a frozen record whose fields are the subclass's ``__slots__``."""

    __slots__ = ()

    def _set(self, **values: Any) -> None:
        """Assign fields from ``__init__`` (the only way to set them)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _fields(self) -> tuple[str, ...]:
        return tuple(n for cls in reversed(type(self).__mro__) for n in getattr(cls, "__slots__", ()))

    def replace(self: R, **changes: Any) -> R:
        """A copy with ``changes`` applied (what ``dataclasses.replace`` does)."""
        values = {name: getattr(self, name) for name in self._fields()}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        values.update(changes)
        return type(self)(**values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: use replace({name}=...)")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self._fields())

    __hash__ = None  # type: ignore[assignment]  # values may be dicts, as in a dataclass with eq

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields())
        return f"{type(self).__name__}({inner})"


def value_methods(cls: _C) -> _C:
    """Give a dataclass declared with ``repr=False, eq=False`` the ``repr``, ``==`` and hash of ``eq=True``.

    For the core's public frozen dataclasses (``HostInfo``, ``PropertySpec``...), which
    ``import sturdydb`` defines: ``@dataclass`` compiles each generated method from source
    text (about 0.15 ms each), and these three need no per-class code. They follow the
    dataclass rules exactly: ``==`` compares the ``compare`` fields of two instances of the
    same class (else ``NotImplemented``), the hash is that of the tuple of the fields that
    ``hash`` (or, when unset, ``compare``) selects, and ``repr`` lists the ``repr`` fields as
    ``Class(name=value, ...)``. The class stays a dataclass (``fields``, ``replace``,
    ``FrozenInstanceError``); ``__init__`` stays generated, for speed.
    """
    fields = dataclasses.fields(cls)
    compared = [f.name for f in fields if f.compare]
    hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
    shown = [f.name for f in fields if f.repr]

    def getter(names: list[str]) -> Any:
        if not names:
            return lambda obj: ()
        if len(names) == 1:
            one = operator.attrgetter(names[0])
            return lambda obj: (one(obj),)
        return operator.attrgetter(*names)  # a tuple, as the generated methods build

    compare_key, hash_key = getter(compared), getter(hashed)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return bool(compare_key(self) == compare_key(other))
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hash_key(self))

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({inner})"

    for method in (__eq__, __hash__, __repr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(cls, method.__name__, method)
    return cls
