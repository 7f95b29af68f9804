"""Configuration profiles: named presets of plugins and property values.

``profile_name=<name>`` applies a preset; properties given explicitly (in the connection string
or as keywords) override the preset's values. The core ships a few documented presets, plugin
packages contribute more through ``sturdydb_add_profiles``, and applications register their
own with :func:`register_profile`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sturdydb.errors import ConfigurationError

__all__ = ["BUILTIN_PROFILES", "Profile", "register_profile", "unregister_profile"]


@dataclass(frozen=True)
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


BUILTIN_PROFILES: tuple[Profile, ...] = (
    Profile(
        "aurora-fast",
        plugins="aurora_connection_tracker,failover,host_monitoring",
        properties={
            "failure_detection_time_ms": 1000,
            "failure_detection_interval_ms": 500,
            "failure_detection_count": 2,
            "cluster_topology_high_refresh_rate_ms": 100,
            "topology_refresh_ms": 10000,
            "failover_timeout_sec": 60,
            "connect_timeout": 3,
        },
        doc="Fast detection for latency-sensitive OLTP: a call waiting on a silent host is "
            "aborted at most 1.75 s after it started (1000 ms grace, then 2 probes 500 ms apart, "
            "each given 250 ms to answer).",
    ),
    Profile(
        "aurora-relaxed",
        plugins="aurora_connection_tracker,failover,host_monitoring",
        properties={
            "failure_detection_time_ms": 60000,
            "failure_detection_interval_ms": 15000,
            "failure_detection_count": 5,
            "failover_timeout_sec": 300,
        },
        doc="Relaxed monitoring for long-running analytical queries on busy hosts: monitoring "
            "starts after 60 s and needs five failed probes 15 s apart.",
    ),
    Profile(
        "failover-only",
        plugins="failover",
        properties={},
        doc="Failover without host monitoring: failures are detected by network errors and "
            "the driver's own timeouts (set `socket_timeout`).",
    ),
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
