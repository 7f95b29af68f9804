"""Turning ``(conninfo, **kwargs)`` into validated :class:`~sturdydb._properties.Properties`.

Order of precedence, lowest first: the profile's preset values, the connection string, the
keyword arguments. Every known property is coerced to its declared type here, before anything
connects, so a bad value fails fast with a message that says what is accepted. A key that is
neither sturdydb's nor the driver's gets a warning naming the nearest known property (it is
still passed to the driver, which has the final say).
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

__all__ = ["UnknownPropertyWarning", "build_properties"]

log = logging.getLogger("sturdydb.config")


class UnknownPropertyWarning(UserWarning):
    """A property that neither sturdydb, its plugins nor the driver declares."""


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

    registry = cat.registry
    values: dict[str, Any] = {}
    driver_names = driver.property_names() if driver is not None else frozenset()
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ConfigurationError(f"property names must be strings, got {key!r}")
        spec = registry.get(key)
        if spec is not None:
            try:
                values[key] = spec.coerce(value)
            except ConfigurationError as exc:
                where = sources.get(key, "")
                raise ConfigurationError(f"{exc} (from the {where.replace(':', ' ')})") from None
            continue
        values[key] = value
        if registry.prefix_of(key) is not None or key in driver_names:
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
