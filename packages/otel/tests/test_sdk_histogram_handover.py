"""Handing a batch of call durations to the SDK at once gives the points one ``record`` per
sample gives: the same count, sum (to the last bit), min, max, bucket counts and attributes.

Each scenario builds two identical SDK setups (readers, temporalities, views, exemplar filter):
one receives every sample through the public ``Histogram.record``, the other through
:class:`~sturdydb_otel._sdk_histogram.Handover`. Both are collected after each batch and their
points compared field by field. Setups the batch path does not cover (an exponential histogram
view, an exemplar filter that keeps exemplars, an attribute value the SDK would clean) must
fall back to one ``record`` per sample, and still agree.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.metrics import AlwaysOnExemplarFilter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.version import __version__ as sdk_version

from sturdydb_otel._sdk_histogram import VERIFIED_SDK, Handover
from sturdydb_otel.telemetry import CALL_BUCKETS, METRIC_EXECUTE

ATTRS = [
    {"db.system": "postgresql", "server.address": "127.0.0.1", "server.port": 5432,
     "sturdydb.host.role": "writer", "sturdydb.method": "Cursor.execute", "db.operation.name": "SELECT"},
    {"db.system": "postgresql", "server.address": "127.0.0.2", "server.port": 5432,
     "sturdydb.host.role": "reader", "sturdydb.method": "Cursor.fetchone"},
    {"db.system": "mysql", "server.address": "127.0.0.3", "server.port": 3306,
     "sturdydb.host.role": "writer", "sturdydb.method": "Connection.commit", "error.type": "FailoverSuccessError"},
]


def _values(rng: random.Random, n: int) -> list[float]:
    """Call durations from 10 µs to tens of seconds, and every bucket boundary exactly."""
    found = [rng.lognormvariate(-8.5, 2.5) for _ in range(n)]
    found[::7] = [rng.choice(CALL_BUCKETS) for _ in found[::7]]
    found.append(0.0)
    return found


Setup = Callable[[], tuple[MeterProvider, list[InMemoryMetricReader]]]


def _readers() -> list[InMemoryMetricReader]:
    return [InMemoryMetricReader(),
            InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})]


def _plain() -> tuple[MeterProvider, list[InMemoryMetricReader]]:
    readers = _readers()
    return MeterProvider(metric_readers=readers), readers


def _views(*views: View) -> Setup:
    def setup() -> tuple[MeterProvider, list[InMemoryMetricReader]]:
        readers = _readers()
        return MeterProvider(metric_readers=readers, views=list(views)), readers
    return setup


def _always_on_exemplars() -> tuple[MeterProvider, list[InMemoryMetricReader]]:
    readers = _readers()
    return MeterProvider(metric_readers=readers, exemplar_filter=AlwaysOnExemplarFilter()), readers


BATCHED: dict[str, Setup] = {
    "default view, cumulative and delta readers": _plain,
    "a view keeping some attributes": _views(View(instrument_name=METRIC_EXECUTE,
                                                  attribute_keys={"server.address", "sturdydb.method"})),
    "a view with its own boundaries": _views(View(instrument_name=METRIC_EXECUTE,
                                                  aggregation=ExplicitBucketHistogramAggregation((0.001, 0.5)))),
    "two views of one instrument": _views(
        View(instrument_name=METRIC_EXECUTE),
        View(instrument_name=METRIC_EXECUTE, name="by_role", attribute_keys={"sturdydb.host.role"},
             aggregation=ExplicitBucketHistogramAggregation((0.01,), record_min_max=False))),
}
PER_SAMPLE: dict[str, Setup] = {
    "an exponential histogram view": _views(View(instrument_name=METRIC_EXECUTE,
                                                 aggregation=ExponentialBucketHistogramAggregation())),
    "exemplars kept for every sample": _always_on_exemplars,
}


def _histogram(provider: MeterProvider) -> Any:
    return provider.get_meter("sturdydb_otel").create_histogram(
        METRIC_EXECUTE, unit="s", explicit_bucket_boundaries_advisory=CALL_BUCKETS)


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    """Every histogram point as comparable data, without timestamps and exemplars."""
    data = reader.get_metrics_data()
    found = []
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    attrs = tuple(sorted(dict(p.attributes or {}).items()))
                    if hasattr(p, "bucket_counts"):
                        fields: tuple[Any, ...] = (p.count, p.sum, p.min, p.max, tuple(p.bucket_counts),
                                                   tuple(p.explicit_bounds))
                    else:  # exponential
                        fields = (p.count, p.sum, p.min, p.max, p.scale, p.zero_count,
                                  p.positive.offset, tuple(p.positive.bucket_counts))
                    found.append((metric.name, attrs, fields))
    return sorted(found, key=repr)


def _compare(setup: Setup, *, batched: bool, attributes: list[dict[str, Any]] = ATTRS) -> None:
    direct_provider, direct_readers = setup()
    handed_provider, handed_readers = setup()
    direct, handover = _histogram(direct_provider), Handover(_histogram(handed_provider))
    rng = random.Random(18)
    try:
        for round_ in range(3):
            for attrs in attributes:
                values = _values(rng, 500 + 97 * round_)
                for value in values:
                    direct.record(value, attrs)
                assert handover.record(values, attrs) is batched
            for direct_reader, handed_reader in zip(direct_readers, handed_readers, strict=True):
                expected = _points(direct_reader)
                assert expected, "the scenario recorded nothing"
                assert _points(handed_reader) == expected
    finally:
        direct_provider.shutdown()
        handed_provider.shutdown()


def test_the_installed_sdk_is_one_the_batch_path_was_checked_against() -> None:
    # The test extra pins the SDK to a verified minor, so the comparisons above exercise the
    # batch path; raising that pin means running this module against the new SDK, then
    # listing its version (an application's newer SDK meanwhile gets one record per sample).
    major, minor = (int(part) for part in sdk_version.split(".")[:2])
    assert (major, minor) in VERIFIED_SDK, f"opentelemetry-sdk {sdk_version}: check the batch path, then add it"


@pytest.mark.parametrize("name", sorted(BATCHED))
def test_a_batch_gives_the_points_of_one_record_per_sample(name: str) -> None:
    _compare(BATCHED[name], batched=True)


@pytest.mark.parametrize("name", sorted(PER_SAMPLE))
def test_setups_the_batch_path_does_not_cover_record_each_sample(name: str) -> None:
    _compare(PER_SAMPLE[name], batched=False)


def test_attribute_values_the_sdk_would_clean_record_each_sample() -> None:
    _compare(_plain, batched=False, attributes=[{"db.system": "postgresql", "sturdydb.plugins": ["otel", "failover"]}])

