"""Plugin discovery: what is installed, what each code means, and what it contributes.

The catalog lists the entry-point group ``sturdydb.plugins`` once per process (and again after
:func:`reload_catalog`), calls the contribution hooks on every installed plugin class, and
answers "which class is code X" with errors that help: the installed codes, the closest one,
and the distribution to ``pip install`` when the code belongs to one of ours.
"""

from __future__ import annotations

import difflib
import logging
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from sturdydb import hookspecs
from sturdydb.errors import ConfigurationError
from sturdydb.plugin import Plugin
from sturdydb.profiles import BUILTIN_PROFILES, Profile, user_profiles
from sturdydb.properties import CORE_PROPERTIES, PropertyRegistry

if TYPE_CHECKING:
    from sturdydb.dialects.base import DatabaseDialect

__all__ = ["OUR_DISTRIBUTIONS", "PluginCatalog", "catalog", "register_plugin", "reload_catalog"]

log = logging.getLogger("sturdydb.discovery")

ENTRY_POINT_GROUP = "sturdydb.plugins"

#: Plugin codes published by sturdydb's own distributions, for "pip install X" hints.
OUR_DISTRIBUTIONS: dict[str, str] = {
    "failover": "sturdydb-failover",
    "failover_v2": "sturdydb-failover",
    "aurora_connection_tracker": "sturdydb-failover",
    "host_monitoring": "sturdydb-efm",
    "host_monitoring_v2": "sturdydb-efm",
    "efm": "sturdydb-efm",
    "iam": "sturdydb-iam",
    "aws_secrets_manager": "sturdydb-secrets-manager",
    "federated_auth": "sturdydb-federated",
    "okta": "sturdydb-federated",
}


@dataclass
class PluginEntry:
    """One installed plugin: its class and where it comes from."""

    code: str
    cls: type[Plugin]
    distribution: str
    version: str


@dataclass
class PluginCatalog:
    """Everything installed: plugins by code (and alias), properties, profiles, dialects."""

    entries: dict[str, PluginEntry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    registry: PropertyRegistry = field(default_factory=lambda: PropertyRegistry(CORE_PROPERTIES))
    contributed_profiles: dict[str, Profile] = field(default_factory=dict)
    dialects: list[DatabaseDialect] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def codes(self) -> list[str]:
        return sorted(self.entries)

    def resolve(self, code: str) -> PluginEntry:
        """The installed plugin for ``code`` (or one of its aliases), else a helpful error."""
        canonical = self.aliases.get(code, code)
        entry = self.entries.get(canonical)
        if entry is not None:
            return entry
        installed = self.codes()
        known = installed + list(self.aliases) + list(OUR_DISTRIBUTIONS)
        parts = [f"unknown plugin code {code!r}"]
        dist = OUR_DISTRIBUTIONS.get(code)
        if dist is not None:
            parts.append(f"it is provided by the distribution {dist!r}: pip install {dist}")
        else:
            close = difflib.get_close_matches(code, known, n=1, cutoff=0.6)
            if close:
                parts.append(f"did you mean {close[0]!r}?")
        parts.append(
            "installed plugins: " + (", ".join(installed) if installed else "none")
        )
        raise ConfigurationError("; ".join(parts))

    def profile(self, name: str) -> Profile:
        """The profile called ``name``: application ones first, then plugins', then built-in."""
        found = user_profiles().get(name) or self.contributed_profiles.get(name)
        if found is None:
            found = next((p for p in BUILTIN_PROFILES if p.name == name), None)
        if found is None:
            names = sorted(
                {*user_profiles(), *self.contributed_profiles, *(p.name for p in BUILTIN_PROFILES)}
            )
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigurationError(
                f"unknown profile_name {name!r}.{hint} Known profiles: {', '.join(names)}; "
                "register your own with sturdydb.register_profile()"
            )
        return found

    def all_profiles(self) -> dict[str, Profile]:
        out = {p.name: p for p in BUILTIN_PROFILES}
        out.update(self.contributed_profiles)
        out.update(user_profiles())
        return out


_catalog: PluginCatalog | None = None
_manual: dict[str, tuple[type[Plugin], str]] = {}
_lock = threading.RLock()


def _contribution_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _build() -> PluginCatalog:
    cat = PluginCatalog()
    found: list[tuple[type[Plugin], str, str]] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "?"
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break every connect
            msg = f"plugin {ep.name!r} from {dist} failed to load: {type(exc).__name__}: {exc}"
            log.warning(msg)
            cat.errors.append(msg)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Plugin)):
            msg = f"entry point {ep.name!r} of {dist} is not a sturdydb.Plugin subclass"
            log.warning(msg)
            cat.errors.append(msg)
            continue
        if cls.code and cls.code != ep.name:
            log.debug("entry point %s names class with code %s", ep.name, cls.code)
        found.append((cls, dist, version))
    for cls, dist in _manual.values():
        found.append((cls, dist, "local"))

    pm = _contribution_manager()
    for cls, dist, version in found:
        code = cls.code
        if not code:
            cat.errors.append(f"plugin class {cls.__qualname__} from {dist} has no code")
            continue
        cat.entries[code] = PluginEntry(code, cls, dist, version)
        for alias in cls.aliases:
            cat.aliases[alias] = code
        try:
            pm.register(cls, name=f"{dist}:{code}")
        except ValueError:  # the same class registered under two entry points
            continue
    for specs in pm.hook.sturdydb_add_properties():
        cat.registry.add(specs or ())
    for profiles in pm.hook.sturdydb_add_profiles():
        for profile in profiles or ():
            cat.contributed_profiles[profile.name] = profile
    for dialects in pm.hook.sturdydb_add_dialects():
        cat.dialects.extend(dialects or ())
    return cat


def catalog() -> PluginCatalog:
    """The process-wide catalog, built on first use."""
    global _catalog
    cat = _catalog
    if cat is None:
        with _lock:
            if _catalog is None:
                _catalog = _build()
            cat = _catalog
    return cat


def reload_catalog() -> PluginCatalog:
    """Forget the catalog (and every cached plugin chain) and list the entry points again."""
    global _catalog
    from sturdydb import pipeline  # local import: pipeline imports this module

    with _lock:
        _catalog = None
        pipeline.clear_pipelines()
    return catalog()


def register_plugin(cls: type[Plugin], *, distribution: str = "application") -> None:
    """Make ``cls`` available under ``cls.code`` without publishing an entry point.

    Meant for applications and tests that define a plugin in their own code.
    """
    if not (isinstance(cls, type) and issubclass(cls, Plugin)) or not cls.code:
        raise ConfigurationError("register_plugin() needs a sturdydb.Plugin subclass with a code")
    with _lock:
        _manual[cls.code] = (cls, distribution)
    reload_catalog()


def unregister_plugin(code: str) -> None:
    with _lock:
        _manual.pop(code, None)
    reload_catalog()


def describe(cat: PluginCatalog) -> dict[str, Any]:
    """A JSON-friendly summary of the installed plugins (used by ``sturdydb doctor``)."""
    return {
        code: {
            "weight": e.cls.weight,
            "distribution": e.distribution,
            "version": e.version,
            "aliases": list(e.cls.aliases),
        }
        for code, e in sorted(cat.entries.items())
    }
