"""The ``host_monitoring`` plugin: registers network-bound calls with their host's monitor.

The execute wrapper is on the hot path of every network-bound call, so it does the least
possible: one dict read for the connection's :class:`~sturdydb_efm.slots.CallSlot`, one clock
read, two attribute stores and one attribute read (see :mod:`sturdydb_efm.slots`). Everything
else happens once per connection: the connect wrapper builds the slot and, for a cluster
endpoint, identifies the instance behind it (a monitor must probe the instance the connection
reached, not whatever the endpoint points to later); the connection-changed broadcast moves
the slot to the new host after a failover. When a switching plugin keeps the old connection
(read/write splitting), its slot stays registered and the connection keeps one slot per host
it used, so switching back and forth re-registers nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import ConfigurationError, Plugin, hookimpl, on_release
from sturdydb.plugin_api import bounded, classify_host, host_from_topology_row
from sturdydb_efm._info import HOST_MONITORING
from sturdydb_efm.monitor import HostMonitor, MonitorService, service
from sturdydb_efm.settings import CODE, PROPERTIES, DetectionRule, monitoring_properties
from sturdydb_efm.slots import CallSlot

if TYPE_CHECKING:
    from sturdydb import Call, ConnectionContext, ConnectRequest, HostInfo, PropertySpec
    from sturdydb.plugin_api import AsyncProceed, Proceed, Properties

__all__ = ["HostMonitoringPlugin", "identify_instance", "open_monitoring_connection"]

log = logging.getLogger("sturdydb.efm")

#: ``plugin_state`` key of a connection's slots by host url: one registration per host the
#: connection used (read/write splitting moves between a writer and readers and keeps both).
_HOST_SLOTS = f"{CODE}.hosts"
#: ``Properties.derived`` key of the settings computed from a connection's properties.
_SETTINGS = f"{CODE}.settings"


def _findable(asked: HostInfo, monitored: HostInfo) -> bool:
    """Whether a slot monitoring ``monitored`` may serve a later switch to the host named like
    ``asked``: yes for an instance, not for a cluster endpoint whose instance was not
    identified (the endpoint may point elsewhere by then; that connection identifies again)."""
    return monitored is not asked or not classify_host(asked.host).is_rds_cluster

_now = time.monotonic


class HostMonitoringPlugin(Plugin):
    """Enhanced failure monitoring: abort calls blocked on a host that stopped answering."""

    # From the published PluginInfo (sturdydb_efm._info), so the two cannot disagree.
    code: ClassVar[str] = HOST_MONITORING.code
    aliases: ClassVar[tuple[str, ...]] = HOST_MONITORING.aliases
    weight: ClassVar[int] = HOST_MONITORING.weight
    in_default_chain: ClassVar[bool] = HOST_MONITORING.in_default_chain
    #: The service the plugin registers calls with (tests substitute their own).
    service: ClassVar[MonitorService] = service

    @classmethod
    def configuration_risks(cls, props: Properties, codes: Sequence[str], host: str) -> list[str]:
        detection = props.get("failure_detection_time_ms")
        if detection is not None and int(detection) >= 60000:
            return [f"failure_detection_time_ms={detection}: a dead host is noticed only after a minute or more"]
        return []

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        return bool(props.get("failure_detection_enabled"))

    def __init__(self) -> None:
        # Also stop the monitors at interpreter exit (never blocking: nothing is joined).
        on_release(self.service.release)

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    def release_resources(self) -> None:
        self.service.release()

    # -- hot path ----------------------------------------------------------------------------
    @hookimpl
    def sturdydb_execute_around(self, call: Call, proceed: Proceed) -> Any:
        # The fast form (a plain call, not a generator): this runs around every network-bound
        # call. ``sturdydb_execute_async`` does the same around an awaited call.
        ctx = call.context
        slot = ctx.plugin_state.get(CODE)
        if slot is None:
            slot = self._new_slot(ctx, ctx.connection, ctx.host)
        started = _now()
        slot.started = started
        # Read after the store: a monitor being disposed either sees this call or we see the
        # slot detached and attach it again (see MonitorService._dispose).
        if slot.monitor is None:
            self.service.attach(slot)
        try:
            return proceed(call)
        finally:
            # Another thread may have started a call on the same connection meanwhile; only
            # the call that wrote ``started`` clears it.
            if slot.started == started:
                slot.started = -started

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: AsyncProceed) -> Any:
        """The same bookkeeping around an awaited call (never blocks: attaching a slot starts
        its monitor thread without waiting for it)."""
        slot, started = self._call_started(call.context)
        try:
            return await proceed(call)
        finally:
            if slot.started == started:
                slot.started = -started

    def _call_started(self, ctx: ConnectionContext) -> tuple[CallSlot, float]:
        """What :meth:`sturdydb_execute_around` does before the call (inlined there)."""
        slot = ctx.plugin_state.get(CODE)
        if slot is None:
            slot = self._new_slot(ctx, ctx.connection, ctx.host)
        started = _now()
        slot.started = started
        if slot.monitor is None:
            self.service.attach(slot)
        return slot, started

    # -- once per connection -------------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose == "connect":
            # Fail on a bad setting now, not in the monitor thread later.
            _settings(request.props)
        conn = yield
        if request.purpose == "connect":
            ctx = request.context
            try:
                host = identify_instance(ctx, conn, request.host)
                slot = ctx.plugin_state[CODE] = self._make_slot(ctx, conn, host)
                ctx.plugin_state[_HOST_SLOTS] = {host.url: slot} if _findable(request.host, host) else {}
            except BaseException:
                ctx.driver.close_quietly(conn)  # the caller never receives it: close it here
                raise
        return conn

    @hookimpl
    def sturdydb_connection_changed(self, context: ConnectionContext, old: Any, new: Any, kept: bool) -> None:
        slot = context.plugin_state.get(CODE)
        if slot is None:
            return
        hosts: dict[str, CallSlot] = context.plugin_state.setdefault(_HOST_SLOTS, {})
        registered = hosts.get(slot.host.url) is slot
        if not kept or not registered:
            # Failover closed ``old``; or its slot could never be found again: unregister it.
            self.service.detach(slot)
            if registered:
                del hosts[slot.host.url]
        # Otherwise ``old`` stays open, kept or pooled by a switching plugin (read/write
        # splitting), and so does its slot's registration with its host's monitor. That costs
        # the monitor nothing (an idle slot is never probed for nor aborted: a slot is in
        # flight only while it is the connection's current one, and it becomes current again
        # only after its ``conn`` was replaced below), and it makes a switch back to that host
        # two stores instead of a detach, an attach and an instance identification.
        again = hosts.get(context.host.url)
        if again is not None:
            again.conn = new
            context.plugin_state[CODE] = again
            return
        try:
            host = identify_instance(context, new, context.host)
        except Exception:  # a broadcast must not raise; the next call will report the failure
            host = context.host
        if kept:
            slot = CallSlot(context, new, host, slot.rule, slot.monitoring_props)
            context.plugin_state[CODE] = slot
        else:  # the failed-over slot moves (it is unregistered, the next call attaches it)
            slot.conn, slot.host, slot.started = new, host, 0.0
        if _findable(context.host, host):
            hosts[host.url] = slot

    def _make_slot(self, ctx: ConnectionContext, conn: Any, host: HostInfo) -> CallSlot:
        rule, monitoring_props = _settings(ctx.props)
        slot = CallSlot(ctx, conn, host, rule, monitoring_props)
        _warn_if_unabortable(ctx, conn)
        return slot

    def _new_slot(self, ctx: ConnectionContext, conn: Any, host: HostInfo) -> CallSlot:
        # A context that did not come through our connect wrapper (a plugin swapped the
        # connection in some other way): monitor the host the context names.
        slot = self._make_slot(ctx, conn, host)
        ctx.plugin_state[CODE] = slot
        return slot

    # -- contributions --------------------------------------------------------------------------
    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return PROPERTIES


_warned_unabortable: set[str] = set()


def _warn_if_unabortable(ctx: ConnectionContext, conn: Any) -> None:
    try:
        fd = ctx.driver.socket_fd(conn)
    except Exception:
        fd = None
    if fd is None and ctx.driver.name not in _warned_unabortable:
        _warned_unabortable.add(ctx.driver.name)
        hint = ctx.driver.abort_unsupported_hint
        log.warning(
            "host_monitoring cannot abort %s connections whose socket it cannot reach%s; "
            "a hung call will not be interrupted", ctx.driver.name, hint,
        )


def _settings(props: Properties) -> tuple[DetectionRule, dict[str, Any]]:
    """The detection rule and the validated ``monitoring-`` properties of ``props``.

    Computed once per properties object (connections opened with the same arguments share
    it), not at every connect. Both are only read afterwards: the rule is immutable and the
    monitoring properties are copied by whoever adds to them.
    """
    def build() -> tuple[DetectionRule, dict[str, Any]]:
        rule = DetectionRule.from_props(props)
        _validate_monitoring_props(props)
        return rule, monitoring_properties(props)

    return props.derived(_SETTINGS, build)


def _validate_monitoring_props(props: Properties) -> None:
    registry = props.registry
    for name, value in monitoring_properties(props).items():
        if not name:
            raise ConfigurationError("property 'monitoring-' needs a name after the prefix, "
                                     "for example monitoring-connect_timeout=2")
        spec = registry.get(name)
        if spec is not None:
            try:
                spec.coerce(value)
            except ConfigurationError as exc:
                raise ConfigurationError(f"monitoring-{name}: {exc}") from None


def open_monitoring_connection(
    context: ConnectionContext, host: HostInfo, rule: DetectionRule, monitoring_props: dict[str, Any]
) -> Any:
    """Open a monitoring connection to ``host`` through ``context``'s connect chain.

    ``monitoring-`` properties override the application's: sturdydb properties (such as
    ``connect_timeout``) through a copy of the properties, driver keywords directly. Without
    ``monitoring-connect_timeout`` the connect timeout is the probe timeout (at least 1 s,
    libpq's own floor is 2 s): a connect to a frozen host then frees the prober soon, while the
    verdict never waits for it anyway. The connection is in autocommit so a probe is one
    round trip.
    """
    return context.open_auxiliary(host, monitoring_props, max(1.0, rule.probe_timeout))


def identify_instance(ctx: ConnectionContext, conn: Any, host: HostInfo) -> HostInfo:
    """The instance ``conn`` reached when ``host`` is a cluster endpoint, else ``host``.

    A monitor of a cluster endpoint would follow the endpoint to the new writer after a
    failover while the connection stays on the old one, and call a dead host healthy. The
    instance id query runs once per connection, bounded by ``auxiliary_query_timeout_sec``;
    when it fails on a healthy connection the endpoint itself is monitored.
    """
    if not classify_host(host.host).is_rds_cluster:
        return host
    pattern = ctx.instance_host_pattern()
    if not pattern:
        return host
    driver = ctx.driver
    seconds = float(ctx.props.get("auxiliary_query_timeout_sec") or 5.0)

    def ask() -> str | None:
        dialect = ctx.detect_dialect(conn, host)
        if not dialect.instance_id_query:
            return None
        return dialect.instance_id(driver, conn)

    try:
        instance_id = bounded(driver, conn, seconds, ask)
    except Exception as exc:
        # A broken connection (the deadline aborted it, or the host went away) is the
        # caller's to handle; any other failure leaves the endpoint monitored instead.
        if driver.is_network_error(exc) or driver.is_closed(conn):
            raise
        log.debug("could not identify the instance behind %s: %s", host.url, exc)
        return host
    if not instance_id:
        return host
    return host_from_topology_row(instance_id, False, pattern, host.port)


def report_unhealthy(monitor: HostMonitor, reason: str) -> None:
    """Report the host unavailable to the core, which broadcasts ``sturdydb_host_state_changed``.

    Through the topology of the cluster of a connection to the host: the core delivers the
    hook to every chain that uses that cluster.
    """
    for slot in list(monitor.slots):
        context = slot.context_ref()
        if context is not None:
            context.topology.report_host_state(monitor.host, False, reason)
            return


service.opener = open_monitoring_connection
service.on_unhealthy = report_unhealthy
