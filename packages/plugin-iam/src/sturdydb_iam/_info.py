"""The cheap metadata of ``iam`` (entry-point group ``sturdydb.plugin_info``).

The catalog reads this module, not the plugin's: a connection that does not select ``iam``
never imports it (nor boto3). The plugin class takes its attributes from here.
"""

from __future__ import annotations

from sturdydb import PluginInfo
from sturdydb_iam.properties import PROPERTIES

__all__ = ["IAM"]

IAM = PluginInfo(code="iam", weight=700, properties=PROPERTIES)
