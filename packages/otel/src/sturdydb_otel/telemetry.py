"""The OpenTelemetry side of the ``otel`` plugin: providers, instruments and their names.

One :class:`Telemetry` is built per process (lazily, at the first connection that selects the
plugin, or by :func:`configure`). It decides *once* whether anything records: a tracer or
meter provider that is OpenTelemetry API's proxy (no SDK installed yet) or its no-op class
records nothing, and then the plugin takes no part in any chain (its ``enabled`` answers
false), so an application without an SDK pays nothing. The names of every span, metric and
attribute the plugin emits live here, so the README, the tests and the code agree.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from sturdydb.plugin_api import on_release, register_process_state
from sturdydb_otel._sdk_histogram import Handover

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from opentelemetry.metrics import CallbackOptions, Histogram, MeterProvider, Observation
    from opentelemetry.trace import TracerProvider

__all__ = ["SCOPE", "Telemetry", "configure", "current"]

#: The instrumentation scope of every span and metric.
SCOPE = "sturdydb_otel"
VERSION = "0.1.0"

# Span names.
SPAN_CONNECT = "sturdydb.connect"
SPAN_FAILOVER = "sturdydb.failover"
SPAN_HOST_STATE = "sturdydb.host_state"
SPAN_TOPOLOGY = "sturdydb.topology_change"
SPAN_CREDENTIALS = "sturdydb.credentials"

# Metric names (OpenTelemetry's database conventions where one applies).
METRIC_EXECUTE = "db.client.operation.duration"
METRIC_CONNECT = "db.client.connection.create_time"
METRIC_FAILOVERS = "sturdydb.failover.count"
METRIC_FAILOVER_DURATION = "sturdydb.failover.duration"
METRIC_HOST_STATE = "sturdydb.host.state_changes"
METRIC_ABORTS = "sturdydb.monitoring.aborts"
METRIC_TOPOLOGY_CHANGES = "sturdydb.topology.changes"
METRIC_TOPOLOGY_REFRESHES = "sturdydb.topology.refreshes"
METRIC_MONITOR_THREADS = "sturdydb.monitor.threads"
METRIC_CREDENTIALS = "sturdydb.credentials.requests"


#: Bucket boundaries (seconds) suggested to the SDK: the SDK's defaults (0, 5, 10, 25, ... in
#: the metric's unit) would put every call and connect in the first bucket.
CALL_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONNECT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FAILOVER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


def _records_spans(provider: Any) -> bool:
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def _records_metrics(provider: Any) -> bool:
    # The API's proxy class is private; it is the provider until an SDK is set globally.
    return not isinstance(provider, metrics.NoOpMeterProvider) and type(provider).__name__ != "_ProxyMeterProvider"


#: Pending samples that make the flusher record at once instead of at its next tick.
_FLUSH_AT = 4096
#: How often the flusher hands pending samples to the SDK when nobody collects.
_FLUSH_EVERY_S = 0.5
#: Beyond this many waiting samples (a few MB) the application's thread hands them over itself
#: before queueing more: if the flusher cannot keep up (an SDK this package cannot batch for,
#: in a CPU-bound loop of calls), the cost moves to the caller instead of memory growing.
#: Nothing is ever dropped.
_PENDING_MAX = 100_000
#: Samples taken off the queue per batch (bounds the flusher's working memory).
_BATCH = 16_384


class DeferredHistogram:
    """A histogram whose samples reach the SDK off the application's thread, in batches.

    The SDK's ``Histogram.record`` costs 6 to 20 µs per sample on a small machine (see
    :mod:`sturdydb_otel._sdk_histogram` for the profile): too much for the hot path. ``record_ns``
    here only appends to a queue (well under a microsecond). The samples are handed to the
    SDK, each exactly once, when a metric reader collects (the plugin's observable callbacks run
    first) and by a named daemon thread every half second (sooner when many wait), started at
    the first sample; each batch is grouped by attribute set and handed over by
    :class:`~sturdydb_otel._sdk_histogram.Handover`, which adds a whole group to the SDK's
    aggregation at once where that is exact. Count, sum, min, max and bucket counts are the
    same as with direct recording; only the moment the SDK sees them is later (at most one
    collection interval), and no exemplar points at a call's span (it is over by then).
    """

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self.handover = Handover(histogram)
        self.pending: deque[tuple[int, Mapping[str, Any]]] = deque()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def record_ns(self, elapsed_ns: int, attributes: Mapping[str, Any]) -> None:
        """Queue one sample of ``elapsed_ns`` nanoseconds (recorded in seconds)."""
        pending = self.pending
        pending.append((elapsed_ns, attributes))
        if self._thread is None:
            self._start()
        elif len(pending) > _FLUSH_AT:
            if len(pending) > _PENDING_MAX:
                # On the application's thread, after its call succeeded: an SDK error here must
                # never turn an acknowledged write into an exception (an invitation to retry),
                # and other threads' samples must not keep this one handing over.
                try:
                    self.flush(len(pending))
                except Exception:
                    pass
            else:
                self._wake.set()

    def flush(self, at_most: int | None = None) -> None:
        """Hand the queued samples (``at_most`` of them, else all) to the SDK, on the calling thread."""
        pending = self.pending
        handover = self.handover.record
        left = len(pending) if at_most is None else at_most
        while pending and left > 0:
            # Group by attribute set (the plugin reuses one mapping per connection, method
            # and statement keyword), keeping each group's samples in their order.
            groups: dict[int, tuple[Mapping[str, Any], list[int]]] = {}
            for _ in range(min(_BATCH, left)):
                left -= 1
                try:
                    elapsed_ns, attributes = pending.popleft()
                except IndexError:
                    break
                group = groups.get(id(attributes))
                if group is None:
                    groups[id(attributes)] = (attributes, [elapsed_ns])
                else:
                    group[1].append(elapsed_ns)
            for attributes, samples in groups.values():
                handover([ns / 1e9 for ns in samples], attributes)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(stop,), name="sturdydb-otel-flush", daemon=True)
            self._thread = thread
            self._stop = stop
        thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(_FLUSH_EVERY_S)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # an exporter's problem must not end the flusher
                pass

    def stop(self) -> None:
        """Stop the flusher after handing over what is queued (never joins; a later sample
        starts a new one)."""
        with self._lock:
            self._stop.set()
            self._thread = None
        self._wake.set()
        try:
            self.flush()
        except Exception:
            pass

    def after_fork(self) -> None:
        """In a forked child the thread is gone: samples start it again."""
        self._thread = None
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.pending.clear()


class Telemetry:
    """The tracer, the meter and the instruments, plus whether each records anything."""

    def __init__(self, tracer_provider: TracerProvider | None = None,
                 meter_provider: MeterProvider | None = None) -> None:
        tp = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        mp = meter_provider if meter_provider is not None else metrics.get_meter_provider()
        self.traces = _records_spans(tp)
        self.metrics = _records_metrics(mp)
        self.tracer = tp.get_tracer(SCOPE, VERSION)
        meter = mp.get_meter(SCOPE, VERSION)
        self.meter = meter
        self.execute_duration = DeferredHistogram(meter.create_histogram(
            METRIC_EXECUTE, unit="s",
            description="Duration of DB-API calls through sturdydb (execute, fetch, commit, ...), by host role",
            explicit_bucket_boundaries_advisory=CALL_BUCKETS))
        self.connect_duration = meter.create_histogram(
            METRIC_CONNECT, unit="s", description="Time to open one physical connection through the plugin chain",
            explicit_bucket_boundaries_advisory=CONNECT_BUCKETS)
        self.failovers = meter.create_counter(
            METRIC_FAILOVERS, unit="{failover}", description="Failovers seen by the application, by outcome")
        self.failover_duration = meter.create_histogram(
            METRIC_FAILOVER_DURATION, unit="s",
            description="From the first host declared down during a call to the failover error reaching the application",
            explicit_bucket_boundaries_advisory=FAILOVER_BUCKETS)
        self.host_states = meter.create_counter(
            METRIC_HOST_STATE, unit="{report}", description="Host (un)availability reports (monitoring verdicts, failed connects)")
        self.aborts = meter.create_counter(
            METRIC_ABORTS, unit="{verdict}",
            description="Host monitoring verdicts that a host is down (each aborts the calls in flight to it)")
        self.topology_changes = meter.create_counter(
            METRIC_TOPOLOGY_CHANGES, unit="{event}", description="Changes seen in cluster topologies, by kind")
        self.credentials = meter.create_counter(
            METRIC_CREDENTIALS, unit="{request}",
            description="Credentials auth plugins obtained for connects, by source and cache hit or miss")
        self.clusters: set[str] = set()
        self._lock = threading.Lock()
        meter.create_observable_counter(
            METRIC_TOPOLOGY_REFRESHES, callbacks=[self._observe_refreshes], unit="{refresh}",
            description="Topology reads stored by the process (changed or not), per cluster")
        meter.create_observable_gauge(
            METRIC_MONITOR_THREADS, callbacks=[_observe_monitor_threads], unit="{thread}",
            description="Live sturdydb background threads, by kind (efm, topology, ...)")

    @property
    def active(self) -> bool:
        return self.traces or self.metrics

    def remember_cluster(self, cluster_id: str) -> None:
        if cluster_id not in self.clusters:
            with self._lock:
                self.clusters.add(cluster_id)

    def _observe_refreshes(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation

        from sturdydb.plugin_api import cluster_topology

        # Collection is starting: the queued call durations go in first.
        self.execute_duration.flush()
        with self._lock:
            clusters = sorted(self.clusters)
        return [Observation(cluster_topology(cid).version, {"sturdydb.cluster_id": cid}) for cid in clusters]


def _observe_monitor_threads(options: CallbackOptions) -> Iterable[Observation]:
    from opentelemetry.metrics import Observation

    counts: dict[str, int] = {}
    for thread in threading.enumerate():
        parts = thread.name.split("-")
        if len(parts) < 2 or parts[0] != "sturdydb" or parts[1] == "testing":
            continue  # not sturdydb's own (sturdydb-testing's cluster threads are a test harness)
        kind = f"{parts[1]}-probe" if len(parts) > 2 and parts[2] == "probe" else parts[1]
        counts[kind] = counts.get(kind, 0) + 1
    return [Observation(n, {"sturdydb.monitor.kind": kind}) for kind, n in sorted(counts.items())]


_current: Telemetry | None = None
_current_lock = threading.Lock()


def current() -> Telemetry:
    """The process's :class:`Telemetry` (built from the global providers on first use)."""
    found = _current
    if found is None:
        with _current_lock:
            found = _current
            if found is None:
                found = _set(Telemetry())
    return found


def _set(telemetry: Telemetry | None) -> Telemetry:
    global _current
    if _current is not None and _current is not telemetry:
        _current.execute_duration.stop()
    _current = telemetry
    return telemetry  # type: ignore[return-value]


def configure(tracer_provider: TracerProvider | None = None,
              meter_provider: MeterProvider | None = None) -> Telemetry:
    """Use these providers (default: the global ones, looked up again now) from now on.

    Call it after setting up the OpenTelemetry SDK when connections were already opened
    before (the plugin checked once, then, whether anything records), or to send sturdydb's
    telemetry to providers of its own (tests). It drops sturdydb's cached plugin chains so the
    next connections take part with the new setting; open connections keep their chain.
    """
    import sturdydb

    with _current_lock:
        telemetry = _set(Telemetry(tracer_provider, meter_provider))
    sturdydb.reload_catalog()
    return telemetry


def reset() -> None:
    """Forget the providers (``sturdydb.reset_process_state``): the next use looks again."""
    with _current_lock:
        _set(None)


def release() -> None:
    """Hand queued samples over and stop the flusher (``sturdydb.release_resources``)."""
    found = _current
    if found is not None:
        found.execute_duration.stop()


def after_fork() -> None:
    found = _current
    if found is not None:
        found.execute_duration.after_fork()


def _reset_process_state() -> None:
    reset()
    from sturdydb_otel.plugin import reset_state  # local: the plugin module imports this one

    reset_state()


# Registered when this module is first imported (by the plugin or by configure()), not when
# the package is: the catalog reads the package's cheap PluginInfo without importing this.
register_process_state("sturdydb_otel", _reset_process_state, after_fork=after_fork)
on_release(release)
