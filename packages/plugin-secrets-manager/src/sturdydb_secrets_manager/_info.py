"""The cheap metadata of ``aws_secrets_manager`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's: a connection that does not select
``aws_secrets_manager`` never imports it (nor boto3). The plugin class takes its attributes
from here.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_secrets_manager.properties import PROPERTIES

__all__ = ["SECRETS_MANAGER"]

SECRETS_MANAGER = PluginInfo(code="aws_secrets_manager", weight=800, properties=PROPERTIES)
