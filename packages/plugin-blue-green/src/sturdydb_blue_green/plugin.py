"""The ``bg`` plugin: connects and calls routed, held or moved by the switchover's phase.

What it does to a connection whose host is an endpoint of the deployment (a name the status
metadata lists; an IP address or a name of your own is not recognised):

- **before the switchover** (created, preparation): nothing; the call goes through.
- **in progress**: every call is held *before it is sent* until the switchover is past
  (``bg_switchover_timeout_ms``); new connects to green, and to blue with
  ``bg_suspend_new_blue_connections``, are held too (``bg_connect_timeout_ms``).
- **after it** (post, completed): RDS dropped every connection of both sides and blue is read
  only, so a connection opened before the switchover is moved to green *before its next call
  is sent*: to the green endpoint that took its blue endpoint's place, by the address green had
  before the rename (no waiting for DNS). New connects to blue names go there directly.

What the application sees when its connection is moved (nothing was sent to blue, so nothing
can have been applied twice or on the wrong node):

- ``Cursor.execute`` outside a transaction: nothing; sturdydb's cursor runs the statement on
  the green connection (the core's ``retry_read`` path, here for any statement: it was never
  sent).
- another call outside a transaction: ``Connection.*`` calls (commit, rollback, setters) run on
  the green connection; a cursor call other than ``execute`` raises ``FailoverSuccessError``
  (not run; run it again).
- inside a transaction: ``TransactionResolutionUnknownError``: the switchover ended the
  transaction, which was never committed (its commit had not been sent); run it again.
  ``rollback()`` simply succeeds.
- a statement that *was* sent and was interrupted by the switchover (it was in flight when RDS
  dropped the connection): ``StatementOutcomeUnknownError`` (it may have been applied; green
  has it if it was) or, in a transaction, ``TransactionResolutionUnknownError``; one that blue
  refused as read only: moved and re-run as above (refused means not applied). If blue refused
  or dropped it before the monitor saw the switchover begin (RDS blocks blue at once), the
  status is read right then (off the loop for async connections), so it is handled the same.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import (
    FailoverSuccessError,
    Plugin,
    StatementOutcomeUnknownError,
    TransactionResolutionUnknownError,
    hookimpl,
)
from sturdydb.plugin_api import run_off_loop
from sturdydb_blue_green._info import BG
from sturdydb_blue_green.errors import SwitchoverInProgressError
from sturdydb_blue_green.monitor import Deployment, StatusSource, deployment
from sturdydb_blue_green.settings import Settings
from sturdydb_blue_green.status import Phase, Role

if TYPE_CHECKING:
    from sturdydb import HostInfo
    from sturdydb.plugin_api import AsyncProceed, Call, ConnectionContext, ConnectRequest

__all__ = ["BlueGreenPlugin"]

log = logging.getLogger("sturdydb.bg")

CODE = BG.code

# Calls that only read a result the driver already holds, or end an object: never held.
_NOT_HELD = frozenset({
    "Cursor.fetchone", "Cursor.fetchmany", "Cursor.fetchall", "Cursor.__next__", "Cursor.scroll",
    "Cursor.nextset", "Cursor.close", "Connection.close",
})
_EXECUTE = "Cursor.execute"


class _ConnState:
    """This plugin's view of one application connection."""

    __slots__ = ("deployment", "epoch", "name", "role", "settings")

    def __init__(self, dep: Deployment, settings: Settings, name: str, role: Role | None, epoch: int) -> None:
        self.deployment = dep
        self.settings = settings
        self.name = name  # the host name the application (or failover) asked for
        self.role = role  # None until the metadata names it
        self.epoch = epoch  # the deployment's switch epoch the connection belongs to


class BlueGreenPlugin(Plugin):
    """See the module docs and the package README."""

    code: ClassVar[str] = BG.code
    weight: ClassVar[int] = BG.weight

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound and method not in _NOT_HELD

    # ------------------------------------------------------------------ connect
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        if request.purpose == "auxiliary":
            return (yield)
        ctx = request.context
        settings = Settings.from_props(request.props)
        dep = deployment(settings.bg_id)
        if dep.settings is None or not dep.monitor.running:
            dep.attach(_status_source(ctx, self, request.host, settings), settings)
        name = request.host.host
        role = dep.routes.role_of(name)
        if role is not None:
            held = dep.holding and (role is Role.TARGET or settings.suspend_new_blue)
            if held and not dep.wait_until_released(settings.connect_timeout):
                raise ctx.error(
                    SwitchoverInProgressError,
                    f"the Blue/Green switchover of deployment {settings.bg_id!r} was still in "
                    f"progress after {settings.connect_timeout:g} s (bg_connect_timeout_ms); the "
                    f"connect to {name} was not attempted: try again later",
                )
            if dep.switch_epoch > 0:
                green = dep.routes.green_for(name)
                if green is not None:
                    log.info("Blue/Green: connecting to %s for %s (switched over)", green.url, name)
                    request.host = green
                    role = Role.TARGET
        epoch = dep.switch_epoch
        conn = yield
        ctx.plugin_state[CODE] = _ConnState(dep, settings, name, role, epoch)
        return conn

    # ------------------------------------------------------------------ execute
    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        state: _ConnState | None = call.context.plugin_state.get(CODE)
        if state is None:
            return (yield)
        dep = state.deployment
        if state.epoch != dep.switch_epoch or dep.holding:
            self._before_send(call, state)
        try:
            return (yield)
        except Exception as exc:
            if dep.phase < Phase.PREPARATION and not (self._moves_after(call.context, state, exc) and _began(dep)):
                raise
            replacement = self._after_error(call, state, exc)
            if replacement is None:
                raise
            raise replacement from exc

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: AsyncProceed) -> Any:
        """The same as :meth:`sturdydb_execute` for async connections, never blocking the loop.

        A held call awaits the deployment's release on the loop (:meth:`Deployment.until`:
        the monitor thread wakes it); moving to green (a connect through the chain) runs
        off-loop, as failover does.
        """
        ctx = call.context
        state: _ConnState | None = ctx.plugin_state.get(CODE)
        if state is None:
            return await proceed(call)
        dep = state.deployment
        if (state.epoch != dep.switch_epoch or dep.holding) and self._role(state) is not None:
            if dep.holding and not await dep.until(lambda: not dep.holding, state.settings.switchover_timeout):
                raise _held_too_long(call, state)
            if state.epoch != dep.switch_epoch:
                in_tx = await run_off_loop(self._move, ctx, state)
                self._retarget_or_raise(call, in_tx, sent=False)
        elif state.epoch != dep.switch_epoch:
            state.epoch = dep.switch_epoch  # not part of the deployment: never held or moved
        try:
            return await proceed(call)
        except Exception as exc:
            if not self._moves_after(ctx, state, exc):
                raise
            if dep.phase < Phase.PREPARATION and not await run_off_loop(_began, dep):
                raise
            epoch = state.epoch
            if not await dep.until(lambda: dep.switch_epoch > epoch, state.settings.switchover_timeout):
                raise
            replacement = await run_off_loop(self._moved_after, call, state, exc)
            raise replacement from exc

    def _role(self, state: _ConnState) -> Role | None:
        if state.role is None:
            state.role = state.deployment.routes.role_of(state.name)
        return state.role

    def _before_send(self, call: Call, state: _ConnState) -> None:
        dep = state.deployment
        if self._role(state) is None:
            state.epoch = dep.switch_epoch  # not part of the deployment: never held or moved
            return
        if dep.holding and not dep.wait_until_released(state.settings.switchover_timeout):
            raise _held_too_long(call, state)
        if state.epoch != dep.switch_epoch:
            in_tx = self._move(call.context, state)
            self._retarget_or_raise(call, in_tx, sent=False)

    def _after_error(self, call: Call, state: _ConnState, exc: Exception) -> Exception | None:
        """A call sent to a host that the switchover demoted or dropped: move, then say what happened."""
        if not self._moves_after(call.context, state, exc):
            return None
        if not state.deployment.wait_for_switch(state.epoch, state.settings.switchover_timeout):
            return None
        return self._moved_after(call, state, exc)

    def _moves_after(self, ctx: ConnectionContext, state: _ConnState, exc: Exception) -> bool:
        """Whether ``exc`` on ``ctx`` is blue's refusal or drop that the switchover causes."""
        driver = ctx.driver
        refused = driver.is_read_only_error(exc) and not ctx.session.read_only
        return self._role(state) is Role.SOURCE and (refused or driver.is_network_error(exc))

    def _moved_after(self, call: Call, state: _ConnState, exc: Exception) -> Exception:
        """Move to green after the switchover; the error that says what happened to ``call``."""
        ctx = call.context
        refused = ctx.driver.is_read_only_error(exc) and not ctx.session.read_only
        in_tx = self._move(ctx, state)
        if in_tx:
            return _rolled_back(ctx, call.method)
        if refused or ctx.driver.is_unsent_error(exc):
            return _not_sent(ctx, call.method)
        return ctx.error(
            StatementOutcomeUnknownError,
            f"{call.method} was in flight on blue when the Blue/Green switchover dropped the "
            "connection: it may have been applied (green has it if it was) or not. The connection "
            "now works on green; check before running it again",
        )

    # ------------------------------------------------------------------ moving
    def _move(self, ctx: ConnectionContext, state: _ConnState) -> bool:
        """Put ``ctx`` on green; whether a transaction was open on the old connection."""
        dep = state.deployment
        old = ctx.connection
        try:
            in_tx = ctx.driver.in_transaction(old)
        except Exception:
            in_tx = True  # unknown: the careful answer
        target: HostInfo = dep.routes.green_for(state.name) or ctx.host
        new = ctx.open(target, purpose="reconnect", skip=self)
        ctx.set_connection(new, target)
        state.epoch = dep.switch_epoch
        state.role = Role.TARGET
        log.info("Blue/Green: moved a connection of %s to green at %s", state.name, target.url)
        return in_tx

    def _retarget_or_raise(self, call: Call, in_tx: bool, *, sent: bool) -> None:
        """After a move before sending: make ``call`` run on the new connection, or raise."""
        ctx = call.context
        method = call.method
        if method.startswith("Connection.") and (method == "Connection.rollback" or not in_tx):
            new = ctx.connection
            func = call.func
            old = getattr(func, "__self__", None)
            if old is not None and old is not new and hasattr(new, func.__name__):
                call.func = getattr(new, func.__name__)
            if call.args and call.args[0] is not new and call.target is not new:
                call.args = (new, *call.args[1:])
            call.target = new
            return
        if in_tx:
            raise _rolled_back(ctx, method)
        raise _not_sent(ctx, method)


def _began(dep: Deployment) -> bool:
    """Whether a switchover has begun, read now: blue refused or dropped a call before a poll.

    RDS blocks writes on blue as soon as the switchover is in progress, and the monitor polls
    only every ``bg_interval_increased_ms`` before it: without this read, such a refusal or drop
    would reach the application as the driver's own error.
    """
    dep.refresh()
    return dep.phase >= Phase.PREPARATION


def _held_too_long(call: Call, state: _ConnState) -> SwitchoverInProgressError:
    return call.context.error(
        SwitchoverInProgressError,
        f"the Blue/Green switchover of deployment {state.settings.bg_id!r} was still in progress "
        f"after {state.settings.switchover_timeout:g} s (bg_switchover_timeout_ms); the call "
        f"{call.method} was held and not sent: run it again later",
    )


def _rolled_back(ctx: ConnectionContext, method: str) -> TransactionResolutionUnknownError:
    return ctx.error(
        TransactionResolutionUnknownError,
        f"a Blue/Green switchover ended the transaction before {method} ran: it was never "
        "committed (rolled back). The connection now works on green; run the whole transaction again",
    )


def _not_sent(ctx: ConnectionContext, method: str) -> FailoverSuccessError:
    err = ctx.error(
        FailoverSuccessError,
        f"a Blue/Green switchover moved the connection to green; {method} was not applied and "
        "may be run again",
    )
    # The core cursor re-runs an execute marked this way once, on the new connection: safe,
    # because nothing of it was applied anywhere.
    err.retry_read = method == _EXECUTE
    return err


def _status_source(ctx: ConnectionContext, plugin: Plugin, host: HostInfo, settings: Settings) -> StatusSource:
    """How the deployment's monitor opens its connections: through ``ctx``'s chain without ``bg``.

    ``blue-green-monitoring-`` properties override the application's (sturdydb properties
    through a copy of the properties, driver keywords directly); the defaults are the
    reference's: a 10 s connect timeout and 10 s per status query.
    """
    registry = ctx.props.registry
    known: dict[str, Any] = {}
    overrides: dict[str, Any] = {"autocommit": True}
    for name, value in settings.monitoring:
        spec = registry.get(name)
        if spec is None:
            overrides[name] = value
            continue
        known[name] = value
        if spec.passthrough:
            overrides[name] = spec.coerce(value)
    query_timeout = float(known.pop("socket_timeout", None) or 10.0)
    known.setdefault("connect_timeout", 10)
    props = ctx.props.copy(**known)

    def opener(target: HostInfo) -> Any:
        return ctx.open(target, purpose="auxiliary", overrides=overrides, props=props, skip=plugin)

    return StatusSource(opener, ctx.driver, host, query_timeout)
