"""sturdydb-blue-green: RDS Blue/Green switchover handling (plugin code ``bg``).

During a switchover RDS blocks writes on blue, drops every connection of both sides, promotes
green and swaps the names; DNS follows later. This plugin watches the deployment's status
metadata (one shared monitor per ``bg_id``), holds calls and connects while the switchover is
in progress, and afterwards moves connections to green by the addresses it learned before
the rename, before anything is sent, so that no write reaches the demoted blue writer and the
application waits only as long as the switchover itself. See the README for what the
application sees.

Modules: :mod:`~sturdydb_blue_green.settings` (properties), :mod:`~sturdydb_blue_green.status`
(the metadata as pure data), :mod:`~sturdydb_blue_green.monitor` (the shared status monitor),
:mod:`~sturdydb_blue_green.plugin` (the plugin), :mod:`~sturdydb_blue_green.errors`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_blue_green.errors import SwitchoverInProgressError
    from sturdydb_blue_green.monitor import Deployment, deployment
    from sturdydb_blue_green.plugin import BlueGreenPlugin
    from sturdydb_blue_green.settings import CODE, PROPERTIES
    from sturdydb_blue_green.status import Phase, Role

#: What this package exports, and the module each name lives in (imported on first use: the
#: catalog reads the cheap ``_info`` module, so importing the package must stay cheap).
_LAZY: dict[str, str] = {
    "SwitchoverInProgressError": "sturdydb_blue_green.errors",
    "Deployment": "sturdydb_blue_green.monitor",
    "deployment": "sturdydb_blue_green.monitor",
    "BlueGreenPlugin": "sturdydb_blue_green.plugin",
    "CODE": "sturdydb_blue_green.settings",
    "PROPERTIES": "sturdydb_blue_green.settings",
    "Phase": "sturdydb_blue_green.status",
    "Role": "sturdydb_blue_green.status",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = [
    "CODE",
    "PROPERTIES",
    "BlueGreenPlugin",
    "Deployment",
    "Phase",
    "Role",
    "SwitchoverInProgressError",
    "deployment",
]
