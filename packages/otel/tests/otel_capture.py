"""An OpenTelemetry SDK set up with in-memory exporters, for the otel plugin's tests.

:class:`Capture` holds the SDK's ``InMemorySpanExporter`` and ``InMemoryMetricReader`` and
reads them back as plain data (spans by name, metric points by name), plus every string an
attribute, event or status carries (for the no-leak checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import sturdydb_otel


class Capture:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self._metrics: list[tuple[str, dict[str, Any], Any]] = []

    def install(self) -> None:
        sturdydb_otel.configure(self.tracer_provider, self.meter_provider)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def collect(self) -> list[tuple[str, dict[str, Any], Any]]:
        """Every metric point so far (cumulative): (name, attributes, point)."""
        data = self.reader.get_metrics_data()
        points = []
        if data is not None:
            for rm in data.resource_metrics:
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        for point in metric.data.data_points:
                            points.append((metric.name, dict(point.attributes or {}), point))
        self._metrics = points
        return points

    def points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        return [(attrs, point) for n, attrs, point in self.collect() if n == name]

    def strings(self) -> Iterator[str]:
        """Every string the captured telemetry carries (names, attributes, events, statuses)."""
        for span in self.spans():
            yield span.name
            yield from _flatten(span.attributes)
            for event in span.events:
                yield event.name
                yield from _flatten(event.attributes)
            if span.status.description:
                yield span.status.description
        for name, attrs, _ in self.collect():
            yield name
            yield from _flatten(attrs)


def _flatten(attrs: Any) -> Iterator[str]:
    for key, value in dict(attrs or {}).items():
        yield str(key)
        if isinstance(value, (list, tuple)):
            yield from (str(v) for v in value)
        else:
            yield str(value)
