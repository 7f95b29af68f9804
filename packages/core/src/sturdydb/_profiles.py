"""Configuration profiles: named presets of plugins and property values.

``profile_name=<name>`` applies a preset; properties given explicitly (in the connection string
or as keywords) override the preset's values. The core ships only ``passthrough`` (it names no
plugin); plugin distributions contribute their presets through ``sturdydb_add_profiles``, and
applications register their own with :func:`register_profile`.

Where a preset that combines several plugins lives: in the distribution of the plugin it is
built around, which is the first code of its ``plugins`` (``aurora-fast`` names
``aurora_connection_tracker,failover,host_monitoring`` and ships with sturdydb-failover). A
preset can only be applied when every plugin code it names is installed; otherwise applying it
raises a :class:`~sturdydb._errors.ConfigurationError` naming the missing codes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sturdydb._errors import ConfigurationError
from sturdydb._record import value_methods

__all__ = ["BUILTIN_PROFILES", "Profile", "register_profile", "unregister_profile"]


@value_methods  # repr, == and hash without compiling them (import sturdydb stays cheap)
@dataclass(frozen=True, repr=False, eq=False)
class Profile:
    """A named preset. ``plugins=None`` leaves the plugin selection to the user/default."""

    name: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    plugins: str | None = None
    doc: str = ""
    source: str = "core"

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigurationError("a profile needs a non-empty name")
        object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))


#: The presets of the core itself: only those that name no plugin. Presets built on plugins
#: come from the plugins' distributions (``sturdydb_add_profiles``): the core knows no plugin
#: by name.
BUILTIN_PROFILES: tuple[Profile, ...] = (
    Profile(
        "passthrough",
        plugins="",
        properties={},
        doc="No plugins: sturdydb behaves exactly like the raw driver.",
    ),
)

_user_profiles: dict[str, Profile] = {}
_lock = threading.Lock()
#: Bumped on every change, so caches of resolved configurations know they are stale.
version = 0


def register_profile(
    name: str,
    *,
    plugins: str | None = None,
    properties: Mapping[str, Any] | None = None,
    doc: str = "",
) -> Profile:
    """Register (or replace) the application profile ``name`` and return it."""
    global version
    profile = Profile(name, dict(properties or {}), plugins, doc, source="application")
    with _lock:
        _user_profiles[name] = profile
        version += 1
    return profile


def unregister_profile(name: str) -> None:
    """Remove an application profile (no error when there is none)."""
    global version
    with _lock:
        _user_profiles.pop(name, None)
        version += 1


def user_profiles() -> dict[str, Profile]:
    with _lock:
        return dict(_user_profiles)
