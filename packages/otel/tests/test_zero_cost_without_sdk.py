"""Without an OpenTelemetry SDK the otel plugin leaves every chain: it costs nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import NoOpTracerProvider

import sturdydb
import sturdydb_otel
from sturdydb_otel.telemetry import Telemetry

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


def test_api_without_sdk_records_nothing() -> None:
    # This test process never sets a global provider: the API's proxies stand in for one.
    telemetry = Telemetry()
    assert not telemetry.traces and not telemetry.metrics and not telemetry.active


def test_plugin_is_left_out_of_the_chain_when_nothing_records() -> None:
    sturdydb_otel.configure(NoOpTracerProvider(), NoOpMeterProvider())
    with sturdydb.connect(psycopg.Connection.connect, PG, plugins="otel") as conn:
        assert conn.context.pipeline.codes == ()
        assert conn.context.chain("Cursor.execute") is None  # the driver is called directly
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)


def test_configure_with_an_sdk_puts_the_plugin_in_new_chains() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    sturdydb_otel.configure(NoOpTracerProvider(), NoOpMeterProvider())
    before = sturdydb.connect(psycopg.Connection.connect, PG, plugins="otel")
    sturdydb_otel.configure(TracerProvider(), MeterProvider())
    after = sturdydb.connect(psycopg.Connection.connect, PG, plugins="otel")
    try:
        assert before.context.pipeline.codes == ()
        assert after.context.pipeline.codes == ("otel",)
        assert after.context.chain("Cursor.execute") is not None
    finally:
        before.close()
        after.close()


def test_traces_only_still_watches_calls_for_failovers() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    telemetry = sturdydb_otel.configure(TracerProvider(), NoOpMeterProvider())
    assert telemetry.traces and not telemetry.metrics
    with sturdydb.connect(psycopg.Connection.connect, PG, plugins="otel") as conn:
        assert conn.context.chain("Cursor.execute") is not None


def test_queued_call_durations_are_bounded_and_none_is_dropped() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from sturdydb_otel.telemetry import _PENDING_MAX

    reader = InMemoryMetricReader()
    telemetry = sturdydb_otel.configure(NoOpTracerProvider(), MeterProvider(metric_readers=[reader]))
    deferred = telemetry.execute_duration
    deferred.stop()
    deferred._thread = threading.current_thread()  # hold the flusher off for this test
    total = 2 * _PENDING_MAX + 10
    longest = 0
    try:
        for i in range(total):
            deferred.record_ns(1000 + i, {"k": "v"})
            longest = max(longest, len(deferred.pending))
    finally:
        deferred._thread = None
    # Past the bound the recording thread handed the queue over itself.
    assert longest == _PENDING_MAX
    assert 0 < len(deferred.pending) < total
    data = reader.get_metrics_data()  # collection hands the rest over first
    points = [p for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
              if m.name == "db.client.operation.duration" for p in m.data.data_points]
    assert [(p.count, p.min, p.max) for p in points] == [(total, 1000 / 1e9, (1000 + total - 1) / 1e9)]
    assert not deferred.pending
