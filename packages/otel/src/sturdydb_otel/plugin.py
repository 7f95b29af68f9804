"""The ``otel`` plugin: what sturdydb does, as OpenTelemetry spans and metrics.

It observes only through the public hooks, from the outermost position of the chain
(``weight = 10``), so it sees every physical connect (the application's, failover's
reconnects, the monitors' auxiliary connections), every failover error on its way to the
application, and the core's broadcasts:

- ``sturdydb_connect``: a ``sturdydb.connect`` span (host asked for, host reached, plugins of
  the chain) and the connect latency histogram;
- ``sturdydb_execute``: the call latency histogram by host role; when the call ends in a
  failover error, a ``sturdydb.failover`` span and the failover metrics. The failover's start
  is the first host that this thread reported down during the call (failover marks the
  failed host through the core before it reconnects), its end the moment the error passes;
- ``sturdydb_host_state_changed``: a ``sturdydb.host_state`` span per verdict (monitoring's
  "host down", failover's failed connects, hosts back up) and the abort counter;
- ``sturdydb_host_list_changed``: a ``sturdydb.topology_change`` span and counters;
- ``sturdydb_credentials_obtained`` (reported by the auth plugins): the credential requests
  counter by source and cache hit/miss, and for a miss (a fetch from IAM, Secrets Manager or
  an identity provider) a ``sturdydb.credentials`` span lasting the fetch, a child of the
  ``sturdydb.connect`` span that needed it.

Nothing here reads or records SQL text beyond its first keyword (``db.operation.name``), nor
any property value other than host, port and the database system: no user, no password, no
driver error message (only the error's class). When no SDK records anything the plugin
leaves itself out of every chain (``enabled``), so it costs nothing.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from sturdydb import (
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    Plugin,
    StatementOutcomeUnknownError,
    TransactionResolutionUnknownError,
    hookimpl,
)
from sturdydb.plugin_api import HostRole
from sturdydb_otel import telemetry as _telemetry
from sturdydb_otel._info import OTEL
from sturdydb_otel.telemetry import (
    SPAN_CONNECT,
    SPAN_CREDENTIALS,
    SPAN_FAILOVER,
    SPAN_HOST_STATE,
    SPAN_TOPOLOGY,
    Telemetry,
)

if TYPE_CHECKING:
    from sturdydb import Call, ConnectionContext, ConnectRequest, HostInfo
    from sturdydb.plugin_api import ClusterTopology, HostEvent, Properties

__all__ = ["CODE", "OtelPlugin", "operation_name"]

CODE = OTEL.code

#: The calls whose first argument is a statement of the application's.
_STATEMENT_CALLS = frozenset({"Cursor.execute", "Cursor.executemany", "Connection.execute", "Cursor.stream"})

#: driver dialect name -> ``db.system``
_DB_SYSTEMS = {"psycopg": "postgresql", "mysql-connector-python": "mysql"}

#: statement -> its first keyword. Bounded: applications run a few hundred distinct statements.
_keywords: dict[str, str | None] = {}
_KEYWORDS_MAX = 2048


def operation_name(statement: object) -> str | None:
    """The first SQL keyword of ``statement`` upper-cased (``"SELECT"``), or ``None``.

    Only a keyword of letters counts, so no literal, identifier or comment can leak into an
    attribute; a composed statement object (``psycopg.sql.Composed``) gives ``None``.
    """
    if not isinstance(statement, str):
        return None
    found = _keywords.get(statement, "")
    if found != "":
        return found
    head = statement.lstrip()[:32].split(None, 1)
    word = head[0].rstrip(";").upper() if head else ""
    keyword = word if word.isascii() and word.isalpha() else None
    if len(_keywords) >= _KEYWORDS_MAX:
        _keywords.clear()
    _keywords[statement] = keyword
    return keyword


def db_system(ctx: ConnectionContext) -> str:
    name = ctx.driver.name
    return _DB_SYSTEMS.get(name, name)


def _host_attributes(host: HostInfo, default_port: int | None = None) -> dict[str, Any]:
    attrs: dict[str, Any] = {"server.address": host.host}
    port = host.port if host.port is not None else default_port
    if port:
        attrs["server.port"] = port
    return attrs


def _outcome(exc: FailoverError) -> str:
    if isinstance(exc, FailoverSuccessError):
        return "success"
    if isinstance(exc, StatementOutcomeUnknownError):  # before its base class
        return "statement_outcome_unknown"
    if isinstance(exc, TransactionResolutionUnknownError):
        return "transaction_resolution_unknown"
    if isinstance(exc, FailoverFailedError):
        return "failed"
    return "error"


def _error_type(exc: BaseException) -> str:
    cls = type(exc)
    # sturdydb's failover errors are built as subclasses of the driver's OperationalError:
    # name the sturdydb class the application catches.
    for base in cls.__mro__:
        if base.__module__.startswith("sturdydb"):
            return base.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class _ConnState:
    """Per application connection (``plugin_state['otel']``): attributes built once per host."""

    __slots__ = ("attrs", "base", "generation", "host_url", "system")

    def __init__(self, ctx: ConnectionContext) -> None:
        self.generation = ctx.generation
        host = ctx.host
        self.host_url = host.url
        self.system = db_system(ctx)
        role = host.role
        if role is HostRole.UNKNOWN:
            known = ctx.topology.find(host.host)
            if known is not None:
                role = known.role
        self.base: dict[str, Any] = {"db.system": self.system, **_host_attributes(host, ctx.driver.default_port),
                                     "sturdydb.host.role": role.value}
        self.attrs: dict[tuple[str, str | None], dict[str, Any]] = {}

    def attributes(self, method: str, operation: str | None) -> dict[str, Any]:
        key = (method, operation)
        found = self.attrs.get(key)
        if found is None:
            found = dict(self.base)
            found["sturdydb.method"] = method
            if operation is not None:
                found["db.operation.name"] = operation
            self.attrs[key] = found
        return found


class _Marks(threading.local):
    """Hosts this thread reported down recently: (perf_counter_ns, time_ns, reason)."""

    def __init__(self) -> None:
        self.recent: deque[tuple[int, int, str]] = deque(maxlen=16)


_marks = _Marks()


class _ConnectSpans(threading.local):
    """The ``sturdydb.connect`` span this thread is inside: the parent of credential fetches."""

    def __init__(self) -> None:
        self.current: Any = None


_connect_spans = _ConnectSpans()
#: The last host report seen: the core hands the same object to every chain, so a report is
#: recorded once even when several chains of this process contain the plugin.
_last_report: list[Any] = [None]
#: cluster id -> the last topology version recorded (same reason).
_topology_versions: dict[str, int] = {}


def reset_state() -> None:
    _last_report[0] = None
    _topology_versions.clear()
    _keywords.clear()


class OtelPlugin(Plugin):
    """OpenTelemetry spans and metrics for connects, failovers, monitoring and topology."""

    # From the published PluginInfo (sturdydb_otel._info), so the two cannot disagree.
    code: ClassVar[str] = OTEL.code
    #: Outermost of the usual chain: it sees failover's errors and every reconnect.
    weight: ClassVar[int] = OTEL.weight
    #: Spans and metrics are bookkeeping: async connections drive the same wrapper.
    async_safe_execute: ClassVar[bool] = True

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        # Decided when the chain is planned (cached per connection arguments): without an
        # SDK the plugin is left out of the chain entirely.
        return _telemetry.current().active

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound and _telemetry.current().active

    # -- connect -------------------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        t = _telemetry.current()
        if not t.active:
            return (yield)
        ctx = request.context
        asked = request.host
        purpose = request.purpose
        system = db_system(ctx)
        port = ctx.driver.default_port
        span = None
        # Monitoring's own connects (purpose "auxiliary") only reach the metric: a monitor
        # probing a dead host every 100 ms would bury the application's spans.
        if t.traces and purpose != "auxiliary":
            attrs: dict[str, Any] = {
                "db.system": system, "sturdydb.connect.purpose": purpose,
                "sturdydb.connect.requested": asked.url, "sturdydb.plugins": list(ctx.pipeline.codes),
                **_host_attributes(asked, port),
            }
            span = t.tracer.start_span(SPAN_CONNECT, kind=SpanKind.CLIENT, attributes=attrs)
        start = time.perf_counter_ns()
        outer_span = _connect_spans.current
        if span is not None:
            _connect_spans.current = span
        try:
            conn = yield
        except BaseException as exc:
            _connect_spans.current = outer_span
            elapsed = (time.perf_counter_ns() - start) / 1e9
            if t.metrics:
                t.connect_duration.record(elapsed, {
                    "db.system": system, "sturdydb.connect.purpose": purpose,
                    "error.type": _error_type(exc), **_host_attributes(asked, port)})
            if span is not None:
                span.set_attribute("error.type", _error_type(exc))
                # The class only: a driver's message may quote connection parameters.
                span.set_status(Status(StatusCode.ERROR, _error_type(exc)))
                span.end()
            raise
        _connect_spans.current = outer_span
        elapsed = (time.perf_counter_ns() - start) / 1e9
        # The application's connect may have been routed elsewhere (failover sets ctx.host);
        # reconnects and auxiliary connections go where they asked.
        reached = ctx.host if purpose == "connect" else request.host
        if purpose == "connect":
            t.remember_cluster(ctx.cluster_id)
        if t.metrics:
            t.connect_duration.record(elapsed, {"db.system": system, "sturdydb.connect.purpose": purpose,
                                                **_host_attributes(reached, port)})
        if span is not None:
            span.set_attributes(_host_attributes(reached, port))
            span.set_attribute("sturdydb.host.role", reached.role.value)
            span.end()
        return conn

    # -- execute (the hot path) ------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        ctx = call.context
        state: _ConnState | None = ctx.plugin_state.get(CODE)
        if state is None or state.generation != ctx.generation:
            state = ctx.plugin_state[CODE] = _ConnState(ctx)
        start = time.perf_counter_ns()
        try:
            result = yield
        except BaseException as exc:
            self._call_failed(call, state, start, exc)
            raise
        t = _telemetry._current
        if t is not None and t.metrics:
            method = call.method
            op = operation_name(call.args[0]) if method in _STATEMENT_CALLS and call.args else None
            t.execute_duration.record_ns(time.perf_counter_ns() - start, state.attributes(method, op))
        return result

    def _call_failed(self, call: Call, state: _ConnState, start: int, exc: BaseException) -> None:
        end = time.perf_counter_ns()
        t = _telemetry.current()
        method = call.method
        op = operation_name(call.args[0]) if method in _STATEMENT_CALLS and call.args else None
        if t.metrics:
            attrs = dict(state.attributes(method, op))
            attrs["error.type"] = _error_type(exc)
            t.execute_duration.record_ns(end - start, attrs)
        if isinstance(exc, FailoverError):
            self._failover(t, call.context, state, start, end, exc, method, op)

    @staticmethod
    def _failover(t: Telemetry, ctx: ConnectionContext, state: _ConnState, start: int, end: int,
                  exc: FailoverError, method: str, op: str | None) -> None:
        # The failover began when this thread first reported a host down during the call.
        began, began_wall, reason = start, 0, ""
        for perf, wall, why in _marks.recent:
            if perf >= start:
                began, began_wall, reason = perf, wall, why
                break
        _marks.recent.clear()
        duration = (end - began) / 1e9
        outcome = _outcome(exc)
        cause = exc.__cause__
        attrs: dict[str, Any] = {
            "db.system": state.system,
            "sturdydb.failover.outcome": outcome,
            "sturdydb.failover.old_host": state.host_url,
            "sturdydb.failover.new_host": ctx.host.url if outcome != "failed" else "",
            "sturdydb.failover.cause": _error_type(cause) if cause is not None else "",
            "sturdydb.failover.reason": reason,
            "sturdydb.method": method,
            "error.type": _error_type(exc),
        }
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate:
            attrs["db.response.status_code"] = str(sqlstate)
        if op is not None:
            attrs["db.operation.name"] = op
        if t.metrics:
            small = {"db.system": state.system, "sturdydb.failover.outcome": outcome}
            t.failovers.add(1, small)
            t.failover_duration.record(duration, small)
        if t.traces:
            now_wall = time.time_ns()
            start_wall = began_wall or now_wall - (end - start)
            span = t.tracer.start_span(SPAN_FAILOVER, start_time=start_wall, attributes=attrs)
            span.set_attribute("sturdydb.failover.duration_s", duration)
            if outcome == "failed":
                span.set_status(Status(StatusCode.ERROR, "no host could be reached"))
            span.end(end_time=max(now_wall, start_wall))

    # -- broadcasts --------------------------------------------------------------------------
    @hookimpl
    def sturdydb_host_state_changed(self, host: HostInfo, available: bool, reason: str) -> None:
        if not available:
            _marks.recent.append((time.perf_counter_ns(), time.time_ns(), reason))
        if host is _last_report[0]:
            return  # already recorded through another chain
        _last_report[0] = host
        t = _telemetry.current()
        by_failover = reason.startswith("failover:")
        source = "failover" if by_failover else "monitoring"
        attrs = {**_host_attributes(host), "sturdydb.host.available": available, "sturdydb.host.reporter": source}
        if t.metrics:
            t.host_states.add(1, attrs)
            if not available and not by_failover:
                t.aborts.add(1, _host_attributes(host))
        if t.traces:
            span = t.tracer.start_span(SPAN_HOST_STATE, attributes={**attrs, "sturdydb.host.reason": reason})
            span.end()

    @hookimpl
    def sturdydb_host_list_changed(self, topology: ClusterTopology,
                                   changes: Mapping[str, frozenset[HostEvent]]) -> None:
        cid = topology.cluster_id
        version = topology.version
        if _topology_versions.get(cid) == version:
            return  # already recorded through another chain
        _topology_versions[cid] = version
        t = _telemetry.current()
        if t.metrics:
            for events in changes.values():
                for event in events:
                    t.topology_changes.add(1, {"sturdydb.cluster_id": cid, "sturdydb.topology.event": event.value})
        if t.traces:
            writer = topology.writer
            described = sorted(f"{url} {event.value}" for url, events in changes.items() for event in events)
            span = t.tracer.start_span(SPAN_TOPOLOGY, attributes={
                "sturdydb.cluster_id": cid,
                "sturdydb.topology.changes": described,
                "sturdydb.topology.writer": writer.url if writer is not None else "",
                "sturdydb.topology.hosts": len(topology.hosts),
            })
            span.end()

    @hookimpl
    def sturdydb_credentials_obtained(self, context: ConnectionContext, host: HostInfo, source: str,
                                      cached: bool, seconds: float) -> None:
        # Only where the credential came from: the hook never carries the credential, and the
        # user name stays out too (like every other span of this plugin).
        t = _telemetry.current()
        if t.metrics:
            t.credentials.add(1, {"sturdydb.credentials.source": source, "sturdydb.credentials.cached": cached})
        if t.traces and not cached:
            end = time.time_ns()
            parent = _connect_spans.current
            span = t.tracer.start_span(
                SPAN_CREDENTIALS, context=set_span_in_context(parent) if parent is not None else None,
                start_time=end - int(seconds * 1e9), attributes={
                    "sturdydb.credentials.source": source, "sturdydb.credentials.cached": False,
                    "sturdydb.credentials.duration_s": seconds, "db.system": db_system(context),
                    **_host_attributes(host, context.driver.default_port)})
            span.end(end_time=end)
