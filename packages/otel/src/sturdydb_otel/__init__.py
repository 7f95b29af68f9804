"""sturdydb-otel: OpenTelemetry traces and metrics for sturdydb (plugin code ``otel``).

Select it with ``plugins="otel,failover,..."`` once an OpenTelemetry SDK is configured; it
then records spans for connects, failovers, host verdicts and topology changes, and metrics for
call and connect latency, failovers, aborts and topology refreshes (see the README for every
name and attribute). Without an SDK it leaves itself out of the chain and costs nothing.
:func:`configure` points it at providers of your own or re-checks the global ones.
"""

from __future__ import annotations

from sturdydb.plugin_api import on_release, register_process_state
from sturdydb_otel import telemetry as _telemetry
from sturdydb_otel.plugin import CODE, OtelPlugin, operation_name, reset_state
from sturdydb_otel.telemetry import SCOPE, Telemetry, configure

__all__ = ["CODE", "SCOPE", "OtelPlugin", "Telemetry", "configure", "operation_name"]


def _reset() -> None:
    _telemetry.reset()
    reset_state()


register_process_state("sturdydb_otel", _reset, after_fork=_telemetry.after_fork)
on_release(_telemetry.release)
