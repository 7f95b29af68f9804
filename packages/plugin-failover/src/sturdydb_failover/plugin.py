"""The ``failover`` plugin: connect-time routing and failover on connection failures.

At connect it reads the connection's failover settings once, joins the cluster's shared
:class:`~sturdydb_failover.monitor.TopologyMonitor`, and routes: a cluster (writer) endpoint
goes to the writer the monitor verified (DNS is never trusted: a connection that still lands
on a reader is replaced), a reader endpoint goes to a reader chosen by
``reader_host_selector_strategy``.

Its execute wrapper sees only network-bound calls. It costs one dict read and, for drivers
that forget the transaction status once the connection breaks (libpq), one C-level read of
that status before the call (the dialect's ``transaction_status_reader``), interpreted only
if the call fails; no query, no allocation. On a network
error (or a read-only error in ``strict_writer`` mode when the writer was demoted), it replaces
the connection through the whole plugin chain (``purpose="reconnect"``, so auth plugins run
again), verifies the role, carries the session state over (the core's ``set_connection``), and
raises, chained to the driver's error, by the at-most-once rule (see the README):

- ``TransactionResolutionUnknownError`` when a transaction was open;
- ``FailoverSuccessError`` only when the interrupted call cannot have changed data
  (:func:`call_outcome`);
- ``StatementOutcomeUnknownError`` for any other statement (it may have been applied);
- ``FailoverFailedError`` after ``failover_timeout_sec``.

A statement is never replayed, except a read under ``failover_retry_reads``: then the
``FailoverSuccessError`` is marked ``retry_read`` and the core cursor runs it again once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import (
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    HostAvailability,
    HostInfo,
    HostRole,
    Plugin,
    PropertySpec,
    StatementOutcomeUnknownError,
    TransactionResolutionUnknownError,
    hookimpl,
    register_process_state,
)
from sturdydb.plugin_api import RdsUrlType, bounded, classify_host, run_off_loop, select_host, select_reader
from sturdydb_failover._info import FAILOVER
from sturdydb_failover.global_modes import GlobalSettings, plan
from sturdydb_failover.session import (
    SESSION_BLANK,
    SESSION_PREFIXES,
    SESSION_THIRD,
    is_session_statement,
    note_session_statement,
)
from sturdydb_failover.settings import FailoverMode, FailoverSettings

if TYPE_CHECKING:
    from sturdydb import Call, ConnectionContext, ConnectRequest, Profile
    from sturdydb.plugin_api import AsyncProceed, ClusterTopology, DatabaseDialect, Proceed, Properties
    from sturdydb_failover.monitor import MonitorRegistry, TopologyMonitor

# Imported when first needed, not with this module: the topology monitor only for a cluster
# (a connection to one plain server never needs it) and the statement rule only on the error
# path. A short-lived process that connects to one server pays for neither.

__all__ = ["FailoverPlugin", "Outcome", "call_outcome"]

log = logging.getLogger("sturdydb.failover")

CODE = "failover"
#: The one call that carries SQL the application wrote (Connection.execute goes through a cursor).
_EXECUTE = "Cursor.execute"
#: When no ``connect_timeout`` is set, reconnects during failover use at most this long.
_RECONNECT_TIMEOUT_CAP = 30.0


#: Calls that send one statement of the application's (its text is ``args[0]``).
_STATEMENT_CALLS = frozenset({
    "Cursor.execute", "Cursor.executemany", "Cursor.stream", "Connection.execute", "Connection.cmd_query",
})
#: Calls that read the result of a statement sent earlier on the same cursor.
_FETCH_CALLS = frozenset({
    "Cursor.fetchone", "Cursor.fetchmany", "Cursor.fetchall", "Cursor.__next__", "Cursor.scroll",
    "Cursor.nextset",
})
#: Calls that may change data but carry no statement text to classify.
_OPAQUE_CALLS = frozenset({
    "Cursor.callproc", "Cursor.copy", "Cursor.copy_from", "Cursor.copy_to", "Cursor.copy_expert",
    # Two-phase commit: COMMIT/ROLLBACK PREPARED run outside any transaction and do apply data.
    "Connection.tpc_prepare", "Connection.tpc_commit", "Connection.tpc_rollback",
})


class Outcome:
    """What an interrupted call (outside a transaction) can have done to the data."""

    #: Nothing can have been applied: safe to run again (``FailoverSuccessError``).
    NOT_APPLIED = "not applied"
    #: A read by the documented rule: nothing applied, and ``failover_retry_reads`` may re-run it.
    READ = "read"
    #: It may have been applied (``StatementOutcomeUnknownError``).
    UNKNOWN = "unknown"


def call_outcome(call: Call, exc: BaseException, autocommit: bool | None, read_only: bool) -> str:
    """Classify an interrupted call that ran outside a transaction (see the README's rule).

    ``autocommit`` is the connection's mode as the driver knew it (``None``: unknown) and
    ``read_only`` whether the application made the session read only through sturdydb. Runs
    only on the error path.
    """
    from sturdydb_failover.statements import is_read_statement, is_transactional_dml

    driver = call.context.driver
    if autocommit is True:
        # psycopg applies read_only to the transactions it opens, so not in autocommit; for
        # mysql-connector the driver only knows autocommit when the server reported it, and
        # ignoring read_only there is merely conservative.
        read_only = False
    if driver.is_unsent_error(exc):
        return Outcome.NOT_APPLIED  # the driver raised before writing anything
    method = call.method
    if method in _STATEMENT_CALLS:
        statement = call.args[0] if call.args else None
        if method != "Cursor.executemany" and is_read_statement(statement):
            return Outcome.READ
        if read_only:
            return Outcome.NOT_APPLIED
        if autocommit is False and is_transactional_dml(statement):
            # It ran in the transaction it opened, which died uncommitted with the connection.
            return Outcome.NOT_APPLIED
        return Outcome.UNKNOWN
    if method in _FETCH_CALLS:
        if driver.fetch_result_is_complete(call.target) or read_only:
            return Outcome.NOT_APPLIED
        try:
            statement = driver.cursor_statement(call.target)
        except Exception:
            statement = None
        return Outcome.NOT_APPLIED if is_read_statement(statement) else Outcome.UNKNOWN
    if method in _OPAQUE_CALLS:
        return Outcome.NOT_APPLIED if read_only else Outcome.UNKNOWN
    # commit/rollback outside a transaction, session setters, cursor(), ping, close: these
    # apply no data of their own.
    return Outcome.NOT_APPLIED


#: cluster id -> (dialect, instance host pattern, port): enough to restart a stopped monitor.
_cluster_dialects: dict[str, tuple[DatabaseDialect, str | None, int | None]] = {}
register_process_state("sturdydb_failover.cluster_dialects", _cluster_dialects.clear)

#: (cluster id, host name in lower case, port) -> True for a writer-like endpoint, False for a
#: reader-like one: names that are not RDS-shaped (a CNAME, an IP address, a local name) and
#: turned out not to be one of the cluster's instances. Later connects through them are routed
#: by the shared topology as RDS cluster endpoints are.
_endpoints: dict[tuple[str, str, int], bool] = {}
register_process_state("sturdydb_failover.endpoints", _endpoints.clear)
_ROUTED_BY_SHAPE = (RdsUrlType.RDS_WRITER_CLUSTER, RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER,
                    RdsUrlType.RDS_READER_CLUSTER)


def _endpoint_key(ctx: ConnectionContext, host: HostInfo) -> tuple[str, str, int]:
    return (ctx.cluster_id, host.host.lower(), host.port or ctx.driver.default_port)


def remembered_endpoints() -> dict[tuple[str, str, int], str]:
    """The endpoints learnt in this process: (cluster id, host, port) -> ``writer``/``reader``."""
    return {key: "writer" if writer else "reader" for key, writer in list(_endpoints.items())}


def _mode_for(ctx: ConnectionContext, configured: FailoverMode) -> FailoverMode:
    """The mode of this failover: the configured one, unless a plugin said which role the
    connection's work needs (read/write splitting: a reader while ``read_only`` is true)."""
    wanted = ctx.wanted_role
    if wanted is HostRole.WRITER:
        return FailoverMode.STRICT_WRITER
    if wanted is HostRole.READER and configured is FailoverMode.STRICT_WRITER:
        # Reads are served by any reader, and by the writer when no reader answers.
        return FailoverMode.READER_OR_WRITER
    return configured


def _settings(props: Properties, initial_host: str) -> tuple[FailoverSettings, GlobalSettings]:
    """The failover and global settings of a connection with ``props`` and ``initial_host``.

    Computed once per properties object and initial host (connections opened with the same
    arguments share the properties), not at every connect. Both are immutable records; a
    connection that needs other settings derives a new record (``replace``).
    """
    def build() -> tuple[FailoverSettings, GlobalSettings]:
        return (FailoverSettings.from_props(props, initial_host),
                GlobalSettings.from_props(props, initial_host))

    return props.derived((CODE, "settings", initial_host), build)


class _Unreachable(Exception):
    """No suitable host could be reached before the failover deadline."""


class MonitorSpec:
    """What a connection needs to (re)start its cluster's monitor; holds no reference to it."""

    __slots__ = ("dialect", "pattern", "port", "seeds")

    def __init__(self, dialect: DatabaseDialect, pattern: str | None, port: int | None, seeds: list[HostInfo]) -> None:
        self.dialect = dialect
        self.pattern = pattern
        self.port = port
        self.seeds = seeds


class ConnectionState:
    """What the failover plugin keeps per application connection (``plugin_state['failover']``)."""

    __slots__ = ("active", "failovers", "gdb", "monitor", "monitor_spec", "settings", "tx_status")

    def __init__(self, settings: FailoverSettings, gdb: GlobalSettings | None = None) -> None:
        self.settings = settings
        #: The global database modes (used only when the topology reports regions).
        self.gdb = gdb
        self.monitor: TopologyMonitor | None = None
        self.monitor_spec: MonitorSpec | None = None
        self.active = False
        #: The driver dialect's transaction status reader, called before each call, for
        #: drivers that forget the status once the connection breaks (None for the others).
        self.tx_status: Callable[[Any], Any] | None = None
        self.failovers = 0


def _started_monitors() -> MonitorRegistry | None:
    """The topology monitors' registry, or ``None`` when its module was never imported (then
    no monitor was ever started, and nothing needs to be imported to say so)."""
    module = sys.modules.get("sturdydb_failover.monitor")
    return None if module is None else module.monitors


class FailoverPlugin(Plugin):
    """Writer/reader failover for Aurora-style clusters (reference code ``failover``)."""

    # From the published PluginInfo (sturdydb_failover._info), so the two cannot disagree.
    code: ClassVar[str] = FAILOVER.code
    weight: ClassVar[int] = FAILOVER.weight
    aliases: ClassVar[tuple[str, ...]] = FAILOVER.aliases
    refused_codes: ClassVar[Mapping[str, str]] = FAILOVER.refused_codes
    #: The plugin detects the dialect itself when it can use it (not for one plain host).
    requires_dialect: ClassVar[bool] = False
    in_default_chain: ClassVar[bool] = FAILOVER.in_default_chain

    @classmethod
    def configuration_risks(cls, props: Properties, codes: Sequence[str], host: str) -> list[str]:
        risks: list[str] = []
        if "host_monitoring" not in codes and not props.get("socket_timeout"):
            risks.append("failover without host_monitoring or socket_timeout: a call on a frozen or "
                         "partitioned host can wait for minutes before failover starts")
        kind = classify_host(host)
        if kind in (RdsUrlType.IP_ADDRESS, RdsUrlType.OTHER) and not props.get("cluster_instance_host_pattern"):
            risks.append("the host is not an RDS name and cluster_instance_host_pattern is not set: "
                         "failover cannot name the cluster's instances")
        if kind is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER and not props.get("global_cluster_instance_host_patterns"):
            risks.append("the host is an Aurora Global Database writer endpoint and "
                         "global_cluster_instance_host_patterns is not set: failover cannot name "
                         "the instances of any region (set region:host-pattern,... for every region)")
        if kind is RdsUrlType.RDS_PROXY:
            risks.append("the host is an RDS Proxy endpoint: the proxy handles failover, disable the failover plugin")
        return risks

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        return bool(props.get("enable_failover", True))

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    def release_resources(self) -> None:
        registry = _started_monitors()
        if registry is not None:
            registry.release_all()

    @staticmethod
    @hookimpl
    def sturdydb_host_state_changed(host: HostInfo, available: bool, reason: str) -> None:
        """A plugin (host monitoring, say) found ``host`` unavailable: if it is a monitor's
        writer, that monitor probes the other hosts at once (it keeps the writer until a probe
        verifies another one; see ``TopologyMonitor.doubt``). Never blocks."""
        registry = _started_monitors()
        if available or registry is None:
            return
        for monitor in registry.all():
            monitor.doubt(host, f"reported unavailable: {reason}" if reason else "reported unavailable")

    @staticmethod
    @hookimpl
    def sturdydb_host_suspected(topology: ClusterTopology, host: HostInfo, reason: str) -> None:
        """A call on ``host`` passed its ``socket_timeout`` (the core reports it before it sends
        the cancel): if ``host`` is (or may be) the writer of that cluster, its monitor queries
        the writer and probes the other hosts at once, the writer kept until a probe verifies
        another one (``TopologyMonitor.doubt``). Between two polls of a steady-state monitor
        this is the first sign of a frozen writer. Never blocks."""
        registry = _started_monitors()
        monitor = registry.get(topology.cluster_id) if registry is not None else None
        if monitor is not None:
            monitor.doubt(host, reason)

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return FAILOVER.properties

    @staticmethod
    @hookimpl
    def sturdydb_add_profiles() -> Sequence[Profile]:
        return FAILOVER.profiles

    # -- connect ---------------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose != "connect":
            # Our own reconnects skip this plugin; other plugins' auxiliary connections
            # (monitoring, topology) must pass untouched.
            return (yield)
        ctx = request.context
        settings, global_settings = _settings(request.props, ctx.initial_host.host)
        state = ConnectionState(settings, global_settings)
        ctx.plugin_state[CODE] = state
        kind = classify_host(request.host.host)
        if kind is RdsUrlType.RDS_PROXY:
            return (yield)  # RDS Proxy fails over by itself, as in the reference
        declared = settings.endpoint_kind
        wants_writer = kind in (RdsUrlType.RDS_WRITER_CLUSTER, RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER)
        wants_reader = kind is RdsUrlType.RDS_READER_CLUSTER
        if declared == "auto" and kind in (RdsUrlType.IP_ADDRESS, RdsUrlType.OTHER):
            remembered = _endpoints.get(_endpoint_key(ctx, request.host))
            if remembered is not None:
                declared = "writer" if remembered else "reader"
        if declared == "writer":
            wants_writer, wants_reader = True, False
        elif declared == "reader":
            wants_writer, wants_reader = False, True
        elif declared == "instance":
            wants_writer = wants_reader = False
        if wants_reader and not settings.mode_given and kind not in _ROUTED_BY_SHAPE:
            # As for a cluster-ro- name: a reader endpoint fails over to any instance.
            settings = settings.replace(mode=FailoverMode.READER_OR_WRITER)
            state.settings = settings
        monitor: TopologyMonitor | None = None
        if wants_writer or wants_reader:
            # Join the cluster's monitor now (so it keeps running for us while we wait), or
            # restart it from the topology this process already knows instead of trusting DNS.
            monitor = self._join_monitor(ctx, state)
        routed: HostInfo | None = None
        if monitor is not None and (wants_writer or wants_reader):
            routed = self._route(ctx, state, monitor, wants_writer)
            if routed is not None:
                request.host = routed
        try:
            raw = yield
        except Exception as exc:
            if not self._connects_elsewhere_after(ctx, settings, monitor, routed, exc):
                raise
            log.info("connect to %s failed (%s); connecting through the topology instead",
                     request.host.url, exc)
            return self._connect_elsewhere_after(ctx, state, monitor, request.host, wants_reader, exc)
        host = request.host
        ctx.host = host
        try:
            return self._after_connect(ctx, state, raw, host, wants_writer, routed is not None, wants_reader)
        except BaseException as exc:
            ctx.driver.close_quietly(raw)  # nobody else would close it
            # The host died between accepting the connection and answering the role or
            # topology queries that verify it (a writer killed just then): the same network
            # failure as a refused connect, so the same rule; no statement of the
            # application has run. sturdydb's own outcome (a connect-time failover that
            # already ran out of time) is final.
            monitor = monitor or state.monitor
            if not (isinstance(exc, Exception) and not isinstance(exc, FailoverError)
                    and self._connects_elsewhere_after(ctx, settings, monitor, routed, exc)):
                raise
            log.info("connection to %s failed while it was verified (%s); connecting through the "
                     "topology instead", host.url, exc)
            return self._connect_elsewhere_after(ctx, state, monitor, host, wants_reader, exc)

    @staticmethod
    def _connects_elsewhere_after(
        ctx: ConnectionContext, settings: FailoverSettings, monitor: TopologyMonitor | None,
        routed: HostInfo | None, exc: Exception,
    ) -> bool:
        """Whether a first connect that failed with ``exc`` goes on through the topology: a
        network error, on a connect the topology routed (or with enable_connect_failover), once
        something is known about the cluster (a monitor)."""
        return (ctx.driver.is_network_error(exc) and (routed is not None or settings.connect_failover)
                and monitor is not None)

    def _connect_elsewhere_after(
        self, ctx: ConnectionContext, state: ConnectionState, monitor: TopologyMonitor | None,
        failed: HostInfo, reader: bool, exc: Exception,
    ) -> Any:
        assert monitor is not None
        monitor.suspect(failed)
        self._mark(ctx, failed)
        return self._connect_elsewhere(ctx, state, monitor, reader, exc)

    @staticmethod
    def _join_monitor(ctx: ConnectionContext, state: ConnectionState) -> TopologyMonitor | None:
        known = _cluster_dialects.get(ctx.cluster_id)
        topology = ctx.topology
        if known is None or not topology.hosts:
            return None
        dialect, pattern, port = known
        state.monitor_spec = MonitorSpec(dialect, pattern, port, list(topology.hosts))
        return FailoverPlugin._attach(ctx, state)

    @staticmethod
    def _attach(ctx: ConnectionContext, state: ConnectionState) -> TopologyMonitor | None:
        """Join the cluster's running monitor, or start one from ``state.monitor_spec``."""
        spec = state.monitor_spec
        if spec is None:
            return None
        from sturdydb_failover.monitor import TopologyMonitor, monitors

        cluster_id, topology, driver, settings = ctx.cluster_id, ctx.topology, ctx.driver, state.settings
        state.monitor = monitors.attach(ctx, lambda: TopologyMonitor(
            cluster_id, topology, driver, spec.dialect, spec.pattern, spec.port, settings, spec.seeds,
        ))
        return state.monitor

    @classmethod
    def _live_monitor(cls, ctx: ConnectionContext, state: ConnectionState) -> TopologyMonitor | None:
        """This connection's monitor, re-attached if it stopped meanwhile.

        A monitor stops for good when it was released (``sturdydb.release_resources()``, a
        catalog reload), after an unexpected error, or when idle; a long-lived (pooled)
        connection must then join a fresh one, or every later failover would find no writer.
        """
        monitor = state.monitor
        if monitor is not None and not monitor.retired:
            return monitor
        return cls._attach(ctx, state)

    def _route(
        self, ctx: ConnectionContext, state: ConnectionState, monitor: TopologyMonitor, writer: bool
    ) -> HostInfo | None:
        """The instance an endpoint connect should go to, by the shared topology."""
        if writer:
            found = monitor.writer
            if found is None:
                found = monitor.wait_for_writer(self._route_wait(ctx, state))
            return found
        return self._pick_reader(ctx, monitor.topology.hosts)

    @staticmethod
    def _pick_reader(ctx: ConnectionContext, hosts: Sequence[HostInfo]) -> HostInfo | None:
        """A reader by the initial-connection strategy (lag limit and host restriction honoured).

        The writer when no reader qualifies (as a reader endpoint of a cluster without readers
        does); ``None`` when nothing is known or allowed.
        """
        strategy = (ctx.props.get("reader_initial_connection_host_selector_strategy")
                    or ctx.props.get("reader_host_selector_strategy"))
        return select_reader(hosts, ctx.props, strategy=str(strategy), context=ctx)

    @staticmethod
    def _route_wait(ctx: ConnectionContext, state: ConnectionState) -> float:
        if state.settings.connect_failover:
            return state.settings.timeout
        timeout = ctx.props.get("connect_timeout")
        return min(state.settings.timeout, float(timeout) if timeout else _RECONNECT_TIMEOUT_CAP)

    def _after_connect(
        self, ctx: ConnectionContext, state: ConnectionState, raw: Any, host: HostInfo,
        wants_writer: bool, routed: bool, wants_reader: bool = False,
    ) -> Any:
        driver = ctx.driver
        self._watch_transactions(ctx, state)
        pattern = ctx.instance_host_pattern()
        if pattern is None and len(ctx.hosts) == 1:
            # One host and no way to name a cluster's instances: whatever the server is, there
            # is nothing to fail over to, so the dialect is not needed (and its detection
            # queries would only delay the connect). ctx.dialect still detects it on demand.
            state.active = False
            return raw
        dialect = ctx.detect_dialect(raw, host)
        has_topology = dialect.has_topology and pattern is not None
        state.active = has_topology or len(ctx.hosts) > 1
        if not state.active:
            return raw  # a single plain server: nothing to fail over to
        topology = ctx.topology
        aux = float(ctx.props.get("auxiliary_query_timeout_sec"))
        if has_topology and not topology.hosts:
            # First connection of this cluster in the process: seed the shared topology
            # through it, so the monitor probes the instances rather than the endpoint.
            try:
                hosts = bounded(driver, raw, aux,
                                lambda: dialect.topology(driver, raw, pattern or "", host.port or driver.default_port))
                if hosts:
                    topology.instance_host_pattern = pattern
                    topology.update(hosts)
            except Exception as exc:
                if driver.is_network_error(exc):
                    raise
                log.debug("could not read the topology of %s at connect: %s", ctx.cluster_id, exc)
        seeds = list(topology.hosts) or list(ctx.hosts)
        port = host.port or driver.default_port
        if has_topology:
            _cluster_dialects[ctx.cluster_id] = (dialect, pattern, port)
        state.monitor_spec = MonitorSpec(dialect, pattern, port, seeds)
        monitor = self._attach(ctx, state)
        assert monitor is not None
        # Several plain hosts in strict_writer mode (libpq-style host=a,b): the first host
        # that accepts the connection may be a replica or a demoted writer, so verify too.
        plain_writer = len(ctx.hosts) > 1 and state.settings.mode is FailoverMode.STRICT_WRITER
        if (has_topology and not wants_writer and not routed and len(ctx.hosts) == 1
                and state.settings.endpoint_kind == "auto"
                and classify_host(host.host) in (RdsUrlType.IP_ADDRESS, RdsUrlType.OTHER)
                and topology.hosts and not self._is_instance(host, topology.hosts, port)):
            self._remember_endpoint(ctx, raw, host, dialect, aux)
        if wants_reader and not routed and has_topology and topology.hosts:
            # The first connection of this cluster learned the topology just now: pick the
            # reader by strategy, as every later connect will, instead of keeping DNS's choice.
            return self._reroute_to_reader(ctx, state, raw, host, dialect, aux)
        if not wants_writer and not plain_writer:
            return raw
        # A writer endpoint: verify, because DNS may still point at the old writer.
        is_writer = bounded(driver, raw, aux, lambda: dialect.is_writer(driver, raw))
        if is_writer:
            if wants_writer and not routed:
                found = topology.writer
                if found is not None:
                    ctx.host = found
            return raw
        log.info("%s is not the writer (stale DNS or a demoted writer); connecting to the verified writer",
                 host.url)
        driver.close_quietly(raw)
        monitor.suspect(host)
        return self._connect_elsewhere(ctx, state, monitor, False, None)

    def _reroute_to_reader(
        self, ctx: ConnectionContext, state: ConnectionState, raw: Any, host: HostInfo,
        dialect: DatabaseDialect, aux: float,
    ) -> Any:
        """Keep ``raw`` if it reached the reader the strategy picks, else connect to that reader."""
        driver = ctx.driver
        chosen = self._pick_reader(ctx, ctx.topology.hosts)
        if chosen is None:
            return raw
        try:
            landed_id = bounded(driver, raw, aux, lambda: dialect.instance_id(driver, raw))
        except Exception as exc:
            if driver.is_network_error(exc):
                raise
            landed_id = None
        landed = ctx.topology.find(landed_id) if landed_id else None
        if landed is not None and landed.url == chosen.url:
            ctx.host = landed
            return raw
        outcome = self._try_host(ctx, state, chosen, time.monotonic() + self._route_wait(ctx, state),
                                 "connect", want=None)
        if isinstance(outcome, str):
            log.info("could not move the first reader-endpoint connection to %s (%s); keeping %s",
                     chosen.url, outcome, landed.url if landed is not None else host.url)
            if landed is not None:
                ctx.host = landed
            return raw
        driver.close_quietly(raw)
        new, ctx.host = outcome
        return new

    @staticmethod
    def _is_instance(host: HostInfo, instances: Sequence[HostInfo], port: int) -> bool:
        name = host.host.lower()
        return any(h.host.lower() == name and (h.port or port) == port for h in instances)

    @staticmethod
    def _remember_endpoint(
        ctx: ConnectionContext, raw: Any, host: HostInfo, dialect: DatabaseDialect, aux: float,
    ) -> None:
        """Remember ``host`` (no instance of the cluster) as a writer- or reader-like endpoint.

        Judged by the role this first connection reached: one role query, once per name and
        process. Later connects through the name are routed by the shared topology.
        """
        key = _endpoint_key(ctx, host)
        if key in _endpoints:
            return  # a reader-like endpoint connect that was not routed (no reader known)
        driver = ctx.driver
        try:
            is_writer = bool(bounded(driver, raw, aux, lambda: dialect.is_writer(driver, raw)))
        except Exception as exc:
            if driver.is_network_error(exc):
                raise
            log.debug("could not read the role behind %s: %s", host.url, exc)
            return
        _endpoints[key] = is_writer
        log.info("%s is not an instance of cluster %s: remembered as a %s endpoint, routed by "
                 "the cluster's topology from now on", host.url, ctx.cluster_id,
                 "writer" if is_writer else "reader")

    def _connect_elsewhere(
        self, ctx: ConnectionContext, state: ConnectionState, monitor: TopologyMonitor,
        reader: bool, cause: BaseException | None,
    ) -> Any:
        """Open the connection on the instance the topology names (connect-time failover)."""
        start = time.monotonic()
        timeout = self._route_wait(ctx, state)
        mode = FailoverMode.READER_OR_WRITER if reader else FailoverMode.STRICT_WRITER
        try:
            new, host = self._replacement(ctx, state, mode, start, start + timeout, ctx.host, purpose="connect")
        except _Unreachable as exc:
            err = ctx.error(FailoverFailedError, f"could not connect to the cluster: {exc}")
            raise err from (cause or exc)
        ctx.host = host
        self._watch_transactions(ctx, state)
        state.active = True
        return new

    @staticmethod
    def _watch_transactions(ctx: ConnectionContext, state: ConnectionState) -> None:
        state.tx_status = ctx.driver.transaction_status_reader()

    # -- execute ---------------------------------------------------------------------
    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        # The fast form (a plain call, not a generator): this runs around every network-bound
        # call of every connection.
        ctx = call.context
        state: ConnectionState = ctx.plugin_state[CODE]
        read_status = state.tx_status
        # Some drivers (libpq) forget the status once the connection broke: read it before.
        status = read_status(ctx.connection) if read_status is not None else None
        try:
            result = proceed(call)
        except Exception as exc:
            if not state.active:
                raise
            err = self._on_error(call, state, exc, status)
            if err is None:
                raise
            raise err from exc
        if call.method == _EXECUTE:
            args = call.args
            # is_session_statement, inlined: this runs after every execute.
            if (args and (query := args[0]).__class__ is str and len(query) > 2
                    and (query[2] in SESSION_THIRD or query[0] in SESSION_BLANK)
                    and query.startswith(SESSION_PREFIXES)):
                note_session_statement(ctx, query.lstrip())
        return result

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: AsyncProceed) -> Any:
        """The same as :meth:`sturdydb_execute_around` for async connections.

        The failover itself (waits for the verified writer, the reconnect through the connect
        chain, the role check, the session transfer) is the sync code, run off the event loop;
        the driver calls it makes on the new async connection are scheduled back on the loop.
        A cancellation is no ``Exception``: it never starts a failover.
        """
        ctx = call.context
        state: ConnectionState = ctx.plugin_state[CODE]
        read_status = state.tx_status
        status = read_status(ctx.connection) if read_status is not None else None
        try:
            result = await proceed(call)
        except Exception as exc:
            if not state.active:
                raise
            err = await run_off_loop(self._on_error, call, state, exc, status)
            if err is None:
                raise
            raise err from exc
        if call.method == _EXECUTE:
            self._note_session(call)
        return result

    @staticmethod
    def _note_session(call: Call) -> None:
        """The session-statement check of the sync path (inlined there to save a frame)."""
        args = call.args
        if args and is_session_statement(query := args[0]):
            note_session_statement(call.context, query.lstrip())

    def _on_error(self, call: Call, state: ConnectionState, exc: Exception, status: Any) -> Exception | None:
        ctx = call.context
        driver = ctx.driver
        if isinstance(exc, FailoverError):
            return None
        # The driver knew the connection was gone and refused before sending anything (its
        # is_unsent_error says so, which makes the outcome "not applied" below).
        refused = driver.is_closed_connection_error(exc, ctx.connection)
        if not refused and not driver.is_network_error(exc) and not (
            _mode_for(ctx, state.settings.mode) is FailoverMode.STRICT_WRITER and not ctx.session.read_only
            and driver.is_read_only_error(exc) and self._writer_moved(ctx, state)
        ):
            return None
        try:
            if state.tx_status is not None:
                in_tx = driver.in_transaction_before(ctx.connection, status)
            else:
                # mysql-connector keeps the last server status, so it still knows.
                in_tx = driver.in_transaction(ctx.connection)
        except Exception:
            in_tx = True  # unknown: the more careful answer
        outcome = Outcome.UNKNOWN
        if not refused and not driver.is_network_error(exc):
            outcome = Outcome.NOT_APPLIED  # the server answered with a read-only error
        elif not in_tx:
            # Classified before the failover replaces the connection: the old one's mode counts.
            try:
                autocommit = driver.autocommit_state(ctx.connection)
            except Exception:
                autocommit = None
            outcome = call_outcome(call, exc, autocommit, bool(ctx.session.read_only))
        return self._failover(ctx, state, exc, in_tx, outcome, call.method)

    def _writer_moved(self, ctx: ConnectionContext, state: ConnectionState) -> bool:
        """After a read-only error: does the topology say this host is no longer the writer?

        The application may have made its own transaction read only (``SET TRANSACTION READ
        ONLY`` sent as SQL), so the host is not suspected: that would drop the monitor's
        verified writer, probe every host and keep this thread waiting. Instead the monitor
        re-reads the topology on its writer connection now, and this thread waits at most
        for one bounded topology query. Without a verified answer by then, only a monitor
        that lost the writer as well counts as a move.
        """
        monitor = self._live_monitor(ctx, state)
        if monitor is None:
            return False
        started = time.monotonic()
        monitor.request_refresh()
        wait = monitor.aux_timeout + 2 * state.settings.high_refresh
        writer = monitor.wait_for_writer(wait, since=started) or monitor.writer
        return writer is None or writer.url != ctx.host.url

    # -- failover --------------------------------------------------------------------
    def _failover(
        self, ctx: ConnectionContext, state: ConnectionState, exc: Exception, in_tx: bool,
        outcome: str = Outcome.UNKNOWN, method: str = "",
    ) -> Exception:
        settings = state.settings
        mode = _mode_for(ctx, settings.mode)
        start = time.monotonic()
        old_host = ctx.host
        driver = ctx.driver
        old = ctx.connection
        # Make sure nothing can block on the old connection again (a frozen host).
        driver.abort_connection(old)
        monitor = self._live_monitor(ctx, state)
        if monitor is not None:
            monitor.suspect(old_host)
        self._mark(ctx, old_host)
        reader_ok: Callable[[HostInfo], bool] | None = None
        if ctx.wanted_role is None and state.gdb is not None and any(h.region for h in ctx.topology.hosts):
            mode, reader_ok = self._global_plan(ctx, state, monitor, start + settings.timeout)
        log.info("connection to %s failed (%s: %s); failing over (%s)",
                 old_host.url, type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc) else "",
                 mode.value,
                 extra={"sturdydb_event": "failover_start", "sturdydb_cluster_id": ctx.cluster_id,
                        "sturdydb_old_host": old_host.url, "sturdydb_mode": mode.value,
                        "sturdydb_error": type(exc).__name__})
        try:
            _, host = self._replacement(ctx, state, mode, start, start + settings.timeout, old_host,
                                          purpose="reconnect", reader_ok=reader_ok)
        except _Unreachable as why:
            elapsed = time.monotonic() - start
            log.warning("failover from %s failed after %.3f s: %s", old_host.url, elapsed, why,
                        extra={"sturdydb_event": "failover_end", "sturdydb_outcome": "failed",
                               "sturdydb_cluster_id": ctx.cluster_id, "sturdydb_old_host": old_host.url,
                               "sturdydb_new_host": None, "sturdydb_duration_s": elapsed})
            return ctx.error(
                FailoverFailedError,
                f"the connection to {old_host.url} failed and no {mode.value.replace('_', ' ')} "
                f"host could be reached within failover_timeout_sec={settings.timeout:g}: {why}. "
                "The connection is unusable until a later call fails over successfully.",
            )
        state.failovers += 1
        elapsed = time.monotonic() - start
        log.info("failed over from %s to %s in %.3f s", old_host.url, host.url, elapsed,
                 extra={"sturdydb_event": "failover_end", "sturdydb_outcome": "success",
                        "sturdydb_cluster_id": ctx.cluster_id, "sturdydb_old_host": old_host.url,
                        "sturdydb_new_host": host.url, "sturdydb_duration_s": elapsed})
        if in_tx:
            return ctx.error(
                TransactionResolutionUnknownError,
                f"the connection to {old_host.url} failed inside a transaction and was replaced by one "
                f"to {host.url}; the transaction's outcome is unknown: restart it",
            )
        if outcome == Outcome.UNKNOWN:
            return ctx.error(
                StatementOutcomeUnknownError,
                f"the connection to {old_host.url} failed after a statement that may change data "
                f"was sent and before its reply came; the connection was replaced by one to "
                f"{host.url}. The statement may or may not have been applied: check (for example "
                "by the idempotency key it wrote) before doing anything that depends on it",
            )
        err = ctx.error(
            FailoverSuccessError,
            f"the connection to {old_host.url} failed and was replaced by one to {host.url}; "
            "session state was carried over; the interrupted call did not change data "
            f"({outcome}), so it is safe to run it again",
        )
        if outcome == Outcome.READ and method == _EXECUTE and state.settings.retry_reads:
            err.retry_read = True  # the core cursor runs the read once more, on the new connection
        return err

    @staticmethod
    def _global_plan(
        ctx: ConnectionContext, state: ConnectionState, monitor: TopologyMonitor | None, deadline: float,
    ) -> tuple[FailoverMode, Callable[[HostInfo], bool] | None]:
        """The mode of a global database's failover: by the region of the (new) writer.

        As the reference does, the writer is verified first (a failed writer means waiting
        for the promoted one, up to the failover deadline); without one the writer counts as
        outside the home region.
        """
        gdb = state.gdb
        assert gdb is not None
        writer = None
        if monitor is not None:
            writer = monitor.wait_for_writer(max(0.0, deadline - time.monotonic()))
        writer = writer or ctx.topology.writer
        found = ctx.topology.find(writer.host) if writer is not None else None
        region = (found or writer).region if writer is not None else None
        chosen = gdb.mode_for(region)
        home = gdb.home_region
        assert home is not None
        steps = plan(chosen, home)
        log.info("global database failover: writer in %s, home region %s: %s", region, home, chosen.value)
        return steps.mode, steps.reader_ok

    def _replacement(
        self, ctx: ConnectionContext, state: ConnectionState, mode: FailoverMode,
        start: float, deadline: float, old_host: HostInfo, *, purpose: str,
        reader_ok: Callable[[HostInfo], bool] | None = None,
    ) -> tuple[Any, HostInfo]:
        """A verified connection for ``mode``, installed in ``ctx`` when ``purpose`` is reconnect."""
        if mode is FailoverMode.STRICT_WRITER:
            return self._writer_connection(ctx, state, start, deadline, old_host, purpose)
        return self._reader_connection(ctx, state, mode, deadline, old_host, purpose, reader_ok)

    def _writer_connection(
        self, ctx: ConnectionContext, state: ConnectionState, start: float, deadline: float,
        old_host: HostInfo, purpose: str,
    ) -> tuple[Any, HostInfo]:
        monitor = state.monitor
        settings = state.settings
        last_problem = "no writer was verified"
        since = start
        plain_hosts = list(ctx.hosts)
        # failover_timeout_sec=0 means exactly one attempt, at the best writer known right now.
        one_shot = deadline <= start
        attempted = False
        while True:
            remaining = deadline - time.monotonic()
            if monitor is not None:
                host = monitor.wait_for_writer(max(0.0, remaining), since=since)
                if host is None and one_shot and not attempted:
                    host = monitor.writer or ctx.topology.writer or (plain_hosts[0] if plain_hosts else None)
            else:
                host = plain_hosts[0] if plain_hosts else None
                plain_hosts = plain_hosts[1:] + plain_hosts[:1]
            if host is None or (one_shot and attempted):
                raise _Unreachable(last_problem)
            if not ctx.usable_hosts([host]):
                raise _Unreachable(f"the writer {host.url} is not among this connection's allowed "
                                   "hosts (the members of its custom endpoint)")
            attempted = True
            outcome = self._try_host(ctx, state, host, deadline, purpose, want=HostRole.WRITER)
            if isinstance(outcome, tuple):
                return outcome
            last_problem = f"{host.url}: {outcome}"
            if time.monotonic() >= deadline:
                raise _Unreachable(last_problem)
            pause_from = time.monotonic()
            if monitor is not None:
                monitor.suspect(host)
                # A writer verified after this attempt ends the pause early.
                monitor.wait_for_writer(min(settings.writer_reconnect_interval, max(0.0, deadline - pause_from)),
                                        since=pause_from)
                since = pause_from
            else:
                time.sleep(min(settings.writer_reconnect_interval, max(0.0, deadline - pause_from)))

    def _reader_connection(
        self, ctx: ConnectionContext, state: ConnectionState, mode: FailoverMode, deadline: float,
        old_host: HostInfo, purpose: str, reader_ok: Callable[[HostInfo], bool] | None = None,
    ) -> tuple[Any, HostInfo]:
        settings = state.settings
        monitor = state.monitor
        last_problem = "no reader was reachable"
        attempted = False  # failover_timeout_sec=0 still makes one attempt
        while True:
            hosts = ctx.usable_hosts(ctx.topology.hosts or ctx.hosts)
            readers = [h for h in hosts if h.role is not HostRole.WRITER and h.url != old_host.url
                       and (reader_ok is None or reader_ok(h))]
            up = [h for h in readers if h.availability is HostAvailability.AVAILABLE]
            limit = ctx.props.get("max_replica_lag_ms")
            fresh = [h for h in up if limit is None or h.replica_lag_ms is None
                     or h.replica_lag_ms <= float(limit)]
            ordered: list[HostInfo] = []
            pool = fresh if limit is not None else (up or readers)
            while pool:
                pick = select_host(pool, settings.reader_strategy, ctx.props, context=ctx)
                ordered.append(pick)
                pool = [h for h in pool if h is not pick]
            writer = (monitor.writer if monitor is not None else None) or ctx.topology.writer
            if writer is not None and not ctx.usable_hosts([writer]):
                writer = None  # outside this connection's allowed hosts (a custom endpoint)
            if limit is not None and writer is not None and mode is not FailoverMode.STRICT_READER:
                # Readers over max_replica_lag_ms come after the writer, which has no lag.
                ordered.append(writer)
            ordered += [h for h in readers if h not in ordered]
            if (old_host.role is not HostRole.WRITER and old_host not in ordered
                    and ctx.usable_hosts([old_host]) and (reader_ok is None or reader_ok(old_host))):
                ordered.append(old_host)  # the failed reader itself, last
            if ((mode is not FailoverMode.STRICT_READER or not readers)
                    and writer is not None and all(h.url != writer.url for h in ordered)):
                ordered.append(writer)
            for host in ordered:
                if attempted and time.monotonic() >= deadline:
                    raise _Unreachable(last_problem)
                attempted = True
                want = HostRole.READER if mode is FailoverMode.STRICT_READER else None
                outcome = self._try_host(ctx, state, host, deadline, purpose, want=want,
                                         connect_timeout=settings.reader_connect_timeout)
                if isinstance(outcome, tuple):
                    return outcome
                last_problem = f"{host.url}: {outcome}"
            if time.monotonic() >= deadline:
                raise _Unreachable(last_problem)
            if monitor is not None:
                monitor.request_refresh()
            time.sleep(min(settings.high_refresh, max(0.0, deadline - time.monotonic())))

    def _try_host(
        self, ctx: ConnectionContext, state: ConnectionState, host: HostInfo, deadline: float,
        purpose: str, *, want: HostRole | None, connect_timeout: float | None = None,
    ) -> tuple[Any, HostInfo] | str:
        """Open, verify and (for reconnects) install a connection to ``host``; or say why not."""
        driver = ctx.driver
        remaining = max(0.1, deadline - time.monotonic())
        configured = ctx.props.get("connect_timeout")
        limit = connect_timeout if connect_timeout is not None else (
            float(configured) if configured else _RECONNECT_TIMEOUT_CAP)
        props = ctx.props.copy(connect_timeout=max(1.0, min(limit, remaining)))
        try:
            new = ctx.open(host, purpose=purpose, skip=self, props=props)
        except Exception as exc:
            if not driver.is_network_error(exc) and not driver.is_login_error(exc):
                log.debug("connect to %s during failover failed: %r", host.url, exc)
            self._mark(ctx, host)
            return f"connect failed: {exc}"
        try:
            aux = float(ctx.props.get("auxiliary_query_timeout_sec"))
            dialect = ctx.detect_dialect(new, host)
            if want is not None:
                is_writer = bounded(driver, new, aux, lambda: dialect.is_writer(driver, new))
                if is_writer != (want is HostRole.WRITER):
                    driver.close_quietly(new)
                    return f"it is not a {want.value}"
            if purpose == "reconnect":
                ctx.set_connection(new, host)
        except Exception as exc:
            driver.abort_connection(new)
            driver.close_quietly(new)
            return f"verification failed: {exc}"
        return new, host

    @staticmethod
    def _mark(ctx: ConnectionContext, host: HostInfo) -> None:
        try:
            # The core records it and broadcasts sturdydb_host_state_changed.
            ctx.topology.mark(host.host, HostAvailability.UNAVAILABLE,
                              reason=f"failover: a connection to {host.url} failed")
        except Exception:
            pass
