"""Plugins that the core itself adds to a chain when properties ask for them.

``socket_timeout``: when the property is set, every network-bound call registers a deadline
with the process-wide :mod:`~sturdydb._watchdog`. A slow statement on a healthy host is not a
failed host, so when the deadline passes the statement is *cancelled* on the server (the
driver dialect's :meth:`~sturdydb._drivers.base.DriverDialect.cancel_statement`: libpq's cancel
request, mysql-connector's ``KILL QUERY`` on a short-lived auxiliary connection) and the call
raises ``QueryTimeoutError`` with ``cancelled=True``: the connection stays usable, the
statement was not applied (the server rolled it back) and the topology is left alone.

Only when the host does not answer within ``auxiliary_query_timeout_sec`` (the cancel is not
acknowledged, or the call does not return after it) is the connection aborted (its socket
shut down): the call then raises ``QueryTimeoutError`` with ``cancelled=False``, which
failover and monitoring, outside this innermost plugin, handle as a lost connection.

The cancel runs on its own short-lived daemon thread (``sturdydb-cancel``), so a host that
does not answer never delays other connections' deadlines on the watchdog thread, and the
call does not return to the application before the cancel finished: a late cancel request
can never hit the connection's next statement.

Before it sends the cancel, that thread reports the connection's host as *suspected*
(:meth:`ClusterTopology.report_host_suspected
<sturdydb._topology.ClusterTopology.report_host_suspected>`, broadcast as
``sturdydb_host_suspected``): a frozen host answers the cancel no sooner than the call, so
this is the first moment anything is known, ``auxiliary_query_timeout_sec`` before the
connection is given up. Nothing is recorded (a slow statement on a healthy host fires the
deadline too); the failover plugin's topology monitor checks the writer and probes the other
hosts at once.

Async connections use the same deadline and cancel (``sturdydb_execute_async``); the wait for
a fired cancel to end runs off the event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._errors import QueryTimeoutError
from sturdydb._offloop import run_off_loop
from sturdydb._plugin import Plugin
from sturdydb._watchdog import Deadline, watchdog
from sturdydb.hookspecs import hookimpl

if TYPE_CHECKING:
    from sturdydb._context import Call, ConnectionContext
    from sturdydb._properties import Properties

__all__ = ["SocketTimeoutPlugin"]

log = logging.getLogger("sturdydb.socket_timeout")

#: ``plugin_state`` key: until when a driver cancel error is the late effect of our own cancel.
_LATE_CANCEL = "socket_timeout:late_cancel"
#: Used when ``auxiliary_query_timeout_sec`` is 0 (unset): the cancel still needs some bound.
_DEFAULT_CANCEL_BOUND = 5.0


class _Cancel:
    """The cancellation of one timed-out call, created by the watchdog only when it fires."""

    __slots__ = ("aborted", "acknowledged", "bound", "conn", "context", "give_up", "host", "started",
                 "thread")

    def __init__(self, context: ConnectionContext, conn: Any, bound: float) -> None:
        self.context = context
        self.conn = conn
        self.bound = bound
        self.host = context.host  # the call still runs on ``conn``, the connection to this host
        self.started = 0.0
        self.thread: threading.Thread | None = None
        self.give_up: Deadline | None = None
        self.acknowledged = False
        self.aborted = False

    @classmethod
    def start(cls, context: ConnectionContext, conn: Any, found: list[_Cancel]) -> None:
        """On the watchdog thread, when the deadline passed: start the cancel, never block."""
        try:
            bound = float(context.props.get("auxiliary_query_timeout_sec") or _DEFAULT_CANCEL_BOUND)
            cancel = cls(context, conn, bound)
            found.append(cancel)
            cancel.fire()
        except BaseException:
            # No cancel under way (no thread could start...): the call must still end.
            context.driver.abort_connection(conn)
            raise

    def fire(self) -> None:
        self.started = time.monotonic()
        # If the call has not returned within the bound (the host took the cancel but the
        # statement goes on, or nothing answers at all), the host counts as failed.
        self.give_up = watchdog.register(self.bound, self.abort, exclusive=True)
        self.thread = threading.Thread(target=self._run, name="sturdydb-cancel", daemon=True)
        self.thread.start()

    def abort(self) -> None:
        self.aborted = True
        self.context.driver.abort_connection(self.conn)

    def _run(self) -> None:
        ctx = self.context
        driver = ctx.driver
        self._report_suspected()
        props = ctx.props.copy(connect_timeout=self.bound, socket_timeout=None)

        def open_auxiliary() -> Any:
            return ctx.open(ctx.host, purpose="auxiliary", props=props)

        if driver.cancel_statement(self.conn, self.bound, open_auxiliary):
            self.acknowledged = True
        else:
            self.abort()

    def _report_suspected(self) -> None:
        """Tell the cluster's subscribers that the host may not answer; never raises."""
        ctx = self.context
        try:
            seconds = float(ctx.props.get("socket_timeout"))
            ctx.topology.report_host_suspected(self.host, f"a call exceeded socket_timeout={seconds:g}s")
        except Exception as exc:  # a suspicion must never keep the cancel from going out
            log.debug("could not report %s as suspected: %s", self.host.url, exc)

    def finish(self, *, connection_lost: bool = False) -> None:
        """In the calling thread, once the driver call returned: wait for the cancel to end.

        ``connection_lost``: the call failed with a network error, so the connection is gone
        (aborted by another thread, say ``aurora_connection_tracker`` once a new writer was
        verified, or host monitoring). A late cancel can then hit no later statement on it:
        the cancel is abandoned and the call ends now, as it would when the bound passed
        (aborted, outcome unknown) rather than up to ``auxiliary_query_timeout_sec`` later
        while the cancel thread still waits on a frozen host.
        """
        give_up = self.give_up
        if give_up is not None:
            watchdog.unregister(give_up)  # from now on only this thread may abort
        thread = self.thread
        if thread is not None:
            if connection_lost and thread.is_alive():
                self.abort()
                return
            thread.join(max(0.0, self.started + self.bound - time.monotonic()))
            if thread.is_alive():
                # The cancel request is still under way and could hit the next statement.
                self.abort()


class SocketTimeoutPlugin(Plugin):
    code: ClassVar[str] = "socket_timeout"
    weight: ClassVar[int] = 100_000  # innermost: the timeout applies to the driver call itself

    @classmethod
    def enabled(cls, props: Properties) -> bool:
        return bool(props.get("socket_timeout"))

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return network_bound

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        ctx = call.context
        conn = ctx.connection
        seconds = float(ctx.props.get("socket_timeout"))
        # The hot path allocates only this list and the closure; the cancel's own state is
        # created by the watchdog if the deadline ever fires.
        fired: list[_Cancel] = []
        deadline = watchdog.register(seconds, lambda: _Cancel.start(ctx, conn, fired), exclusive=True)
        try:
            result = yield
        except BaseException as exc:
            watchdog.unregister(deadline)
            if fired:
                fired[0].finish(connection_lost=ctx.driver.is_network_error(exc))
            err = _timeout_error(call, conn, seconds, deadline, fired, exc)
            if err is None:
                raise
            raise err from exc
        watchdog.unregister(deadline)
        if fired:
            fired[0].finish()
            _note_late_cancel(ctx, fired[0])
        return result

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: Callable[[Call], Awaitable[Any]]) -> Any:
        """The same for async connections; waiting for a fired cancel to end happens off-loop."""
        ctx = call.context
        conn = ctx.connection
        seconds = float(ctx.props.get("socket_timeout"))
        fired: list[_Cancel] = []
        deadline = watchdog.register(seconds, lambda: _Cancel.start(ctx, conn, fired), exclusive=True)
        try:
            result = await proceed(call)
        except BaseException as exc:
            watchdog.unregister(deadline)
            if fired:
                lost = ctx.driver.is_network_error(exc)
                await run_off_loop(lambda: fired[0].finish(connection_lost=lost))
            err = _timeout_error(call, conn, seconds, deadline, fired, exc)
            if err is None:
                raise
            raise err from exc
        watchdog.unregister(deadline)
        if fired:
            await run_off_loop(fired[0].finish)
            _note_late_cancel(ctx, fired[0])
        return result


def _timeout_error(
    call: Call, conn: Any, seconds: float, deadline: Deadline, fired: list[_Cancel], exc: BaseException,
) -> QueryTimeoutError | None:
    """What a call that failed with ``exc`` raises (``None``: ``exc`` itself); the cancel ended."""
    ctx = call.context
    driver = ctx.driver
    if not deadline.fired:
        late = ctx.plugin_state.pop(_LATE_CANCEL, None)
        if late is not None and time.monotonic() < late and driver.is_cancel_error(exc):
            return _cancelled(ctx, call, seconds)
        return None
    cancel = fired[0] if fired else None
    if cancel is not None and not cancel.aborted and cancel.acknowledged and driver.is_cancel_error(exc):
        return _cancelled(ctx, call, seconds)
    if cancel is None or cancel.aborted or driver.is_network_error(exc) or driver.is_closed(conn):
        bound = f"{cancel.bound:g}s " if cancel is not None else ""
        return ctx.error(
            QueryTimeoutError,
            f"{call.method} did not complete within socket_timeout={seconds:g}s and the host "
            f"did not answer a cancel request within {bound}(auxiliary_query_timeout_sec); "
            "the connection was aborted",
        )
    return None  # an ordinary error that came back just as the deadline passed


def _note_late_cancel(ctx: ConnectionContext, cancel: _Cancel) -> None:
    """The call returned just as the cancel went out: its result is kept (the cancel ended).

    The cancel may still end the statement this call began (a COPY or a stream returns from
    its first call before the rows come): the next call on this connection that fails with
    the driver's cancel error soon after is that statement's timeout, not a cancel of the
    application's own.
    """
    if cancel.acknowledged and not cancel.aborted:
        ctx.plugin_state[_LATE_CANCEL] = time.monotonic() + cancel.bound


def _cancelled(ctx: ConnectionContext, call: Call, seconds: float) -> QueryTimeoutError:
    err = ctx.error(
        QueryTimeoutError,
        f"{call.method} did not complete within socket_timeout={seconds:g}s and was "
        "cancelled on the server: it was not applied (inside a transaction, roll the "
        "transaction back); the connection is still usable",
    )
    err.cancelled = True
    return err
