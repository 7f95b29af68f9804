"""The cheap metadata of ``connect_time`` and ``execute_time`` (group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugins', to learn their codes, weights and
properties; a connection that selects neither never imports them. The plugin classes take
their class attributes and properties from here, so the two cannot disagree. Data only: it
imports nothing heavy.
"""

from __future__ import annotations

import logging

from sturdydb import PluginInfo, PropertySpec
from sturdydb.plugin_api import normalize_choice

__all__ = ["CONNECT_TIME", "EXECUTE_TIME", "LEVELS"]

#: ``*_log_level`` value -> logging level (``None``: do not log).
LEVELS: dict[str, int | None] = {
    "debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR, "off": None,
}


def _level_property(code: str, what: str) -> PropertySpec:
    return PropertySpec(
        f"{code}_log_level", str, "debug",
        f"The level at which {code} logs each {what} on the logger 'sturdydb.{code}' "
        "(debug, info, warning, error; off logs nothing). The totals are kept either way.",
        owner=code, choices=tuple(LEVELS), normalize=normalize_choice,
    )


# Inside otel (10), outside failover (400): a figure includes what the plugins inside do.
CONNECT_TIME = PluginInfo(code="connect_time", weight=55,
                          properties=(_level_property("connect_time", "connect"),))
EXECUTE_TIME = PluginInfo(code="execute_time", weight=50,
                          properties=(_level_property("execute_time", "network-bound call"),))
