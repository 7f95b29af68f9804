"""sturdydb-otel: OpenTelemetry traces and metrics for sturdydb (plugin code ``otel``).

Select it with ``plugins="otel,failover,..."`` once an OpenTelemetry SDK is configured; it
then records spans for connects, failovers, host verdicts and topology changes, and metrics for
call and connect latency, failovers, aborts and topology refreshes (see the README for every
name and attribute). Without an SDK it leaves itself out of the chain and costs nothing.
:func:`configure` points it at providers of your own or re-checks the global ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sturdydb.plugin_api import lazy_exports

if TYPE_CHECKING:
    from sturdydb_otel.plugin import CODE, OtelPlugin, operation_name
    from sturdydb_otel.telemetry import SCOPE, Telemetry, configure

#: What this package exports, and the module each name lives in. Imported on first use, not
#: here: the plugin catalog reads this distribution's cheap ``_info`` module without importing
#: the plugin or OpenTelemetry (see sturdydb's PluginInfo), so importing the package must stay
#: cheap. The telemetry module registers its process state and release when first imported.
_LAZY: dict[str, str] = {
    "CODE": "sturdydb_otel.plugin",
    "OtelPlugin": "sturdydb_otel.plugin",
    "operation_name": "sturdydb_otel.plugin",
    "SCOPE": "sturdydb_otel.telemetry",
    "Telemetry": "sturdydb_otel.telemetry",
    "configure": "sturdydb_otel.telemetry",
}

__getattr__ = lazy_exports(globals(), _LAZY)

__all__ = ["CODE", "SCOPE", "OtelPlugin", "Telemetry", "configure", "operation_name"]
