"""Turning ``(conninfo, **kwargs)`` into validated :class:`~sturdydb._properties.Properties`.

Order of precedence, lowest first: the profile's preset values, the connection string, the
keyword arguments. Every known property is coerced to its declared type here, before anything
connects, so a bad value fails fast with a message that says what is accepted. A key that is
neither sturdydb's nor the driver's gets a warning naming the nearest known property (it is
still passed to the driver, which has the final say). A name of the AWS Advanced Python Wrapper
that sturdydb does not implement (a spec with ``no_effect``) is accepted with a warning saying
what to do instead, and never reaches the driver.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from sturdydb._conninfo import parse_conninfo
from sturdydb._errors import ConfigurationError
from sturdydb._properties import Properties

if TYPE_CHECKING:
    from sturdydb._discovery import PluginCatalog
    from sturdydb._drivers.base import DriverDialect

__all__ = ["NoEffectPropertyWarning", "UnknownPropertyWarning", "build_properties"]

log = logging.getLogger("sturdydb.config")


class UnknownPropertyWarning(UserWarning):
    """A property that neither sturdydb, its plugins nor the driver declares."""


class NoEffectPropertyWarning(UserWarning):
    """A property of the AWS Advanced Python Wrapper that sturdydb accepts but does not implement."""


#: Names already warned about as having no effect: a pool that opens many connections with
#: the reference's configuration gets one warning per name, not one per connect.
_warned_no_effect: set[str] = set()


def _warn_no_effect(key: str, why: str) -> None:
    if key in _warned_no_effect:
        return
    _warned_no_effect.add(key)
    message = (f"property {key!r} (an AWS Advanced Python Wrapper setting) has no effect in "
               f"sturdydb and is not passed to the driver: {why}")
    log.warning(message)
    warnings.warn(message, NoEffectPropertyWarning, stacklevel=5)


def build_properties(
    cat: PluginCatalog,
    driver: DriverDialect | None,
    conninfo: str,
    kwargs: dict[str, Any],
) -> Properties:
    raw: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in parse_conninfo(conninfo).items():
        raw[key] = value
        sources[key] = "string"
    for key, value in kwargs.items():
        raw[key] = value
        sources[key] = "keyword"
    if "dbname" in raw and "database" not in raw:
        raw["database"] = raw.pop("dbname")
        sources["database"] = sources.pop("dbname")

    profile_name = raw.get("profile_name")
    if profile_name:
        profile = cat.profile(str(profile_name))
        if profile.plugins is not None and "plugins" not in raw:
            cat.check_profile_plugins(profile)  # every plugin it names must be installed
            raw["plugins"] = profile.plugins
            sources["plugins"] = f"profile:{profile.name}"
        for key, value in profile.properties.items():
            if key not in raw:
                raw[key] = value
                sources[key] = f"profile:{profile.name}"

    selected = raw.get("plugins")
    if isinstance(selected, str):
        # Read the selected plugins' declarations first, so that their properties are known
        # without reading every installed plugin (see PluginCatalog.complete).
        cat.read_selected(selected)
    registry = cat.registry
    values: dict[str, Any] = {}
    driver_names = driver.property_names() if driver is not None else frozenset()
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"property names must be strings, got {key!r}")
        spec = registry.get(key)
        if spec is not None and spec.no_effect is not None:
            values[key] = value  # kept for diagnostics; a spec that is not passthrough stays here
            _warn_no_effect(key, spec.no_effect)
            continue
        if spec is not None:
            try:
                values[key] = spec.coerce(value)
            except ConfigurationError as exc:
                where = sources.get(key, "")
                raise ConfigurationError(f"{exc} (from the {where.replace(':', ' ')})") from None
            continue
        values[key] = value
        prefix = registry.prefix_of(key)
        if prefix is not None and prefix.no_effect is not None:
            _warn_no_effect(prefix.name + "*", prefix.no_effect)
            continue
        if prefix is not None or key in driver_names or (driver is not None and driver.accepts_any_property):
            continue
        nearest = registry.nearest(key, driver_names)
        hint = f" Did you mean {nearest!r}?" if nearest else ""
        message = (
            f"unknown property {key!r} is passed to the "
            f"{driver.name if driver else 'target'} driver as given: neither sturdydb, its "
            f"installed plugins nor the driver declare it.{hint}"
        )
        log.warning(message)
        warnings.warn(message, UnknownPropertyWarning, stacklevel=4)
    return Properties(values, sources, registry)
