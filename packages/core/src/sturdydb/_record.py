"""``ImmutableRecord``: a frozen value class that costs nothing to define.

``@dataclass(frozen=True)`` generates its methods as source text and compiles them when the
class is defined: about a millisecond for a dozen fields, a third of a raw PostgreSQL connect,
paid by every fresh process that imports the module (CLIs, serverless functions). A plugin's
settings class that is imported on the first connect uses this base instead: the fields are
the subclass's ``__slots__``, its own typed ``__init__`` assigns them through :meth:`_set`, and
the base provides what the dataclass did (immutability, ``==``, ``repr``, ``replace``).
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["ImmutableRecord"]

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
