"""Without an OpenTelemetry SDK the otel plugin leaves every chain: it costs nothing."""

from __future__ import annotations

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
