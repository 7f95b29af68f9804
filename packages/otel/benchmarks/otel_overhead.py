"""What the ``otel`` plugin adds to execute+fetchone, without and with an OpenTelemetry SDK; prints JSON.

In one process, interleaved round by round so that machine noise hits every variant alike,
against the machine's own PostgreSQL and MariaDB: sturdydb with no plugins; with
``plugins="otel"`` and no SDK configured (the plugin must then leave the chain: zero cost);
with one pass-through wrapper plugin (the price of any plugin in the chain, for reference);
and with ``plugins="otel"`` and the SDK's tracer and meter providers (spans go to an exporter
that drops them, metrics to an in-memory reader that nobody reads), where the target is under
3 µs per call. The client and the server backend are pinned to one core as in the core's
benchmark. Because a loaded machine blurs microsecond differences between round trips, the
execute chain is also timed alone (``isolated_chain_us``: the plugin's wrapper around a call
that does nothing), and so is what the SDK then spends per sample on the plugin's flusher
thread, which is off the application's thread but not free: ``sdk_us_per_sample`` as the
plugin hands samples over (in batches per attribute set), ``sdk_record_us_per_sample`` for the
same samples through one public ``Histogram.record`` each (the plugin's previous way), both in
this run. ``cpu_us_per_call`` is the whole CPU one call costs, wherever it is spent: the
process's CPU time (every thread, so the flusher too) over a loop of calls through the chain
and the hand-over of their samples, divided by the calls. CPU time, unlike the wall-clock
figures, does not count the time other processes of a shared machine hold the cores.

Run: ``.nox/integration/bin/python packages/otel/benchmarks/otel_overhead.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import mysql.connector
import psycopg
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import NoOpTracerProvider

import sturdydb
import sturdydb_otel
from sturdydb import Call, Plugin, hookimpl, register_plugin

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": "", "database": "test"}


class _DropSpans(SpanExporter):  # type: ignore[misc]  # opentelemetry is Any to mypy (see pyproject)
    """The no-op exporter: every span is built and handed over, then dropped."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class PassThrough(Plugin):
    """A plugin that wraps every network-bound call and does nothing: the chain's own price."""

    code: ClassVar[str] = "bench_pass_through"
    weight: ClassVar[int] = 10

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Any:
        return (yield)


def _pin(pids: list[int]) -> None:
    core = {min(os.sched_getaffinity(0))}
    for pid in pids:
        try:
            os.sched_setaffinity(pid, core)
        except OSError:
            pass  # not ours to pin: results are noisier, not wrong


def _summary(samples_ns: list[int]) -> dict[str, float]:
    us = sorted(s / 1000 for s in samples_ns)
    return {"median_us": round(statistics.median(us), 2), "p99_us": round(us[int(len(us) * 0.99) - 1], 2),
            "samples": len(us)}


def _exec_fetch(cur: Any) -> Callable[[], None]:
    execute, fetchone = cur.execute, cur.fetchone

    def run() -> None:
        execute("SELECT 1")
        fetchone()

    return run


def _interleaved(variants: dict[str, Callable[[], None]], rounds: int, batch: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    for fn in variants.values():
        for _ in range(200):
            fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            for _ in range(batch):
                start = time.perf_counter_ns()
                fn()
                samples[name].append(time.perf_counter_ns() - start)
    return {name: _summary(s) for name, s in samples.items()}


def _connections(open_: Callable[[str], Any]) -> tuple[Any, Any, Any, Any]:
    """(no plugins, otel without SDK, a pass-through plugin, otel with SDK)."""
    sturdydb_otel.configure(NoOpTracerProvider(), NoOpMeterProvider())
    bare = open_("")
    off = open_("otel")
    assert off.context.pipeline.codes == (), "without an SDK the otel plugin must leave the chain"
    passing = open_("bench_pass_through")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_DropSpans()))
    sturdydb_otel.configure(provider, MeterProvider(metric_readers=[InMemoryMetricReader()]))
    on = open_("otel")
    assert on.context.pipeline.codes == ("otel",)
    return bare, off, passing, on


def _chain_and_call(conn: Any) -> tuple[Callable[[Call], Any], Call]:
    """``conn``'s execute chain and a call through it to a driver method that does nothing."""
    ctx = conn.context
    chain = ctx.chain("Cursor.execute")
    assert chain is not None
    return chain, Call(ctx, "Cursor.execute", None, lambda *a: None, ("SELECT 1",), {})


def _isolated_chain_us(conn: Any, calls: int = 50_000) -> float:
    """The execute chain alone, around a call that does nothing (µs per call, best of 5)."""
    chain, call = _chain_and_call(conn)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(calls):
            chain(call)
        best = min(best, (time.perf_counter_ns() - start) / calls / 1000)
        _flush()
    return round(best, 2)


def _calling_thread_us(conn: Any) -> float:
    """As :func:`_isolated_chain_us` with the flusher held off: the application thread's own cost."""
    deferred = sturdydb_otel.telemetry.current().execute_duration
    deferred.stop()
    # A benchmark may poke at the recorder: a thread object in the slot keeps a new one from starting.
    deferred._thread = threading.current_thread()
    try:
        return _isolated_chain_us(conn, calls=20_000)
    finally:
        deferred._thread = None
        deferred.flush()


def _cpu_per_call(conn: Any, calls: int = 50_000) -> float:
    """Process CPU time (all threads) per call through the chain, samples handed over (µs, best of 5)."""
    chain, call = _chain_and_call(conn)
    best = float("inf")
    for _ in range(5):
        _flush()
        start = time.process_time_ns()
        for _ in range(calls):
            chain(call)
        _flush()
        best = min(best, (time.process_time_ns() - start) / calls / 1000)
    return round(best, 2)


def _queue(conn: Any, calls: int) -> None:
    chain, call = _chain_and_call(conn)
    _flush()
    deferred = sturdydb_otel.telemetry.current().execute_duration
    deferred.stop()
    deferred._thread = threading.current_thread()  # the flusher held off: the queue fills
    try:
        for _ in range(calls):
            chain(call)
    finally:
        deferred._thread = None


def _sdk_cost(conn: Any, calls: int = 20_000) -> tuple[float, float]:
    """What handing queued samples to the SDK costs per sample (µs), from a full queue: as the
    plugin does it (batched), and with one public ``record`` per sample, best of 3 each."""
    batched = per_sample = float("inf")
    for _ in range(3):
        _queue(conn, calls)
        batched = min(batched, _flush())
        _queue(conn, calls)
        deferred = sturdydb_otel.telemetry.current().execute_duration
        pending = list(deferred.pending)
        deferred.pending.clear()
        record = deferred.histogram.record
        start = time.perf_counter_ns()
        for elapsed_ns, attributes in pending:
            record(elapsed_ns / 1e9, attributes)
        per_sample = min(per_sample, (time.perf_counter_ns() - start) / len(pending) / 1000)
    return batched, per_sample


def _flush() -> float:
    """Hand the queued samples to the SDK now; µs per sample."""
    deferred = sturdydb_otel.telemetry.current().execute_duration
    n = len(deferred.pending)
    start = time.perf_counter_ns()
    deferred.flush()
    return (time.perf_counter_ns() - start) / max(n, 1) / 1000


def bench(engine: str, rounds: int, batch: int) -> dict[str, Any]:
    if engine == "psycopg":
        bare, off, passing, on = _connections(lambda p: sturdydb.connect(psycopg.Connection.connect, PG, plugins=p))
        pids = [os.getpid()]
        for conn in (bare, off, passing, on):
            cur = conn.cursor()
            cur.execute("SELECT pg_backend_pid()")
            pids.append(int(cur.fetchone()[0]))
        _pin(pids)
        cursors = [c.cursor() for c in (bare, off, passing, on)]
    else:
        bare, off, passing, on = _connections(lambda p: sturdydb.connect(mysql.connector.connect, plugins=p, **MYSQL))
        _pin([os.getpid()])
        cursors = [c.cursor(buffered=True) for c in (bare, off, passing, on)]
    results = _interleaved({
        "sturdydb, no plugins": _exec_fetch(cursors[0]),
        "otel, no SDK configured": _exec_fetch(cursors[1]),
        "one pass-through plugin": _exec_fetch(cursors[2]),
        "otel, SDK + no-op exporter": _exec_fetch(cursors[3]),
    }, rounds, batch)
    isolated = {"one pass-through plugin": _isolated_chain_us(passing),
                "otel, SDK + no-op exporter": _isolated_chain_us(on),
                "otel, SDK, flusher held off": _calling_thread_us(on)}
    sdk_batched, sdk_per_record = _sdk_cost(on)
    cpu_per_call = _cpu_per_call(on)
    for conn in (bare, off, passing, on):
        conn.close()
    base = results["sturdydb, no plugins"]["median_us"]
    return {"execute+fetchone": results,
            "overhead_us_vs_no_plugins": {k: round(v["median_us"] - base, 2) for k, v in results.items()
                                          if k != "sturdydb, no plugins"},
            "isolated_chain_us": isolated,
            "sdk_us_per_sample": round(sdk_batched, 2),
            "sdk_record_us_per_sample": round(sdk_per_record, 2),
            "cpu_us_per_call": cpu_per_call}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 5
    register_plugin(PassThrough, distribution="benchmark")
    out = {
        "title": "otel plugin overhead (execute+fetchone of SELECT 1)",
        "command": "python packages/otel/benchmarks/otel_overhead.py",
        "targets": "no SDK: within noise of no plugin (the plugin leaves the chain); SDK + no-op exporter: < 3 us per call",
        "psycopg": bench("psycopg", args.rounds, args.batch),
        "mysql-connector": bench("mysql", args.rounds, args.batch),
    }
    print(json.dumps(out, indent=2))
    sturdydb.release_resources()


if __name__ == "__main__":
    main()
