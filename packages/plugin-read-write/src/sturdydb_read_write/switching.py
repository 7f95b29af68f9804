"""What ``read_write_splitting`` and ``srw`` share: moving one application connection between
a writer connection and a reader connection when the application sets ``read_only``.

The plugins wrap two calls only (``Connection.read_only_setter`` and ``Connection.close``), so
``execute`` and ``fetch*`` never pass through them. A switch:

1. is refused with :class:`ReadWriteSplittingError` inside a transaction (commit or roll back
   first), leaving the connection as it was;
2. takes the connection of the wanted role that this application connection keeps (one per
   role), or with ``read_write_pools`` an idle one from the pool of the chosen host, or opens
   one through the plugin chain (``purpose="reconnect"``: auth plugins run, failover lets it
   pass);
3. applies to it only the session state (autocommit, read_only, isolation level,
   schema/database) that differs from what it already has, so a warm switch costs no round
   trip;
4. installs it with ``context.set_connection(..., keep_old=True)`` (cursors rebind to it at
   their next ``execute``) and sets ``context.wanted_role``, which failover follows: a failed
   reader is replaced by another reader, a failed writer by the new writer.

When no reader qualifies (see the plugin) or can be reached, the writer serves the reads (``read_only`` is still applied to
it, so writes are refused as the application asked). When failover replaces the current
connection, ``sturdydb_connection_changed`` tells the plugin, which adopts the new one. What
differs between the two plugins is only where the writer and the readers are
(:meth:`SwitchingPlugin.candidates`) and how a new connection is checked.

On async connections (``await conn.set_read_only(True)``: an async setter, since a property
cannot be awaited) the same switch runs through ``sturdydb_execute_async``: the decision and
the refusal inside a transaction on the loop, the move itself (connect, session state) off
the loop. Async connections are pooled apart from sync ones and per event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import HostAvailability, HostInfo, HostRole, Plugin, hookimpl
from sturdydb.plugin_api import HostEvent, run_off_loop
from sturdydb_read_write.errors import ReadWriteSplittingError
from sturdydb_read_write.pools import Tracked, bring_to, connection_pools
from sturdydb_read_write.settings import SplitSettings

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from sturdydb import Call, ConnectionContext
    from sturdydb.plugin_api import AsyncProceed, ClusterTopology, SessionState

__all__ = ["SplitState", "SwitchingPlugin"]

log = logging.getLogger("sturdydb.read_write")

_READ_ONLY = "Connection.read_only_setter"
_CLOSE = "Connection.close"
_WRAPPED = frozenset({_READ_ONLY, _CLOSE})
#: Topology events after which a host's pooled connections must not be reused.
_DROP_POOLS = frozenset({HostEvent.CONVERTED_TO_READER, HostEvent.HOST_DELETED, HostEvent.WENT_DOWN})


def _nothing(*args: Any) -> None:
    """The terminal call of a ``read_only`` switch: the switch already applied it."""


async def _nothing_async(*args: Any) -> None:
    """:func:`_nothing` for the async chain, whose terminal awaits the call."""


def _awaitable(func: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """``func`` (no I/O) as the coroutine function the async chain's terminal awaits."""
    async def run() -> None:
        func()

    return run


class SplitState:
    """What a switching plugin keeps per application connection (``plugin_state[code]``)."""

    __slots__ = ("current", "current_role", "idle", "idle_role", "kwargs_key", "settings", "switching")

    def __init__(self, settings: SplitSettings, current: Tracked, role: HostRole, kwargs_key: Hashable | None) -> None:
        self.settings = settings
        #: The physical connection in use and the role of its host.
        self.current = current
        self.current_role = role
        #: The other role's connection kept for the next switch (never with pools).
        self.idle: Tracked | None = None
        self.idle_role: HostRole | None = None
        self.kwargs_key = kwargs_key
        #: True while this plugin installs a connection (its own connection_changed is ignored).
        self.switching = False


def _freeze(kwargs: Mapping[str, Any]) -> Hashable | None:
    try:
        key = tuple(sorted(kwargs.items()))
        hash(key)
    except TypeError:  # an unhashable driver option (an SSL context): such connections are not pooled
        return None
    return key


def _pool_key(ctx: ConnectionContext) -> Hashable | None:
    """The per-host part of a pool key: the driver keywords, and whose connections these are.

    The dialect class keeps psycopg and psycopg2 (or sync and async) connections apart, and
    an async connection belongs to its event loop, so async pools are per loop.
    """
    frozen = _freeze(ctx.driver_kwargs())
    return None if frozen is None else (type(ctx.driver), ctx.loop, frozen)


def _merge(applied: SessionState, session: SessionState) -> SessionState:
    """What a connection that served ``session`` has applied: ``session``'s fields over ``applied``'s."""
    return replace(applied, **session.changed())


class SwitchingPlugin(Plugin):
    """Base of ``read_write_splitting`` and ``srw`` (see the module docstring)."""

    code: ClassVar[str] = ""

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return method in _WRAPPED

    # -- what the two plugins define ---------------------------------------------------------
    def initial_role(self, ctx: ConnectionContext) -> HostRole:
        """The role of the application's connection before its first switch."""
        raise NotImplementedError

    def candidates(self, ctx: ConnectionContext, state: SplitState, role: HostRole) -> Iterable[HostInfo]:
        """The hosts to try for ``role``, best first (empty: none known); may be lazy, so a
        later host is chosen only when the earlier ones could not be opened."""
        raise NotImplementedError

    def still_valid(self, ctx: ConnectionContext, tracked: Tracked, role: HostRole) -> bool:
        """Whether a kept connection may still serve ``role`` (the topology may have moved)."""
        return True

    def open(self, ctx: ConnectionContext, state: SplitState, host: HostInfo, role: HostRole) -> Any:
        """A new physical connection to ``host`` for ``role`` (raises when it cannot be had)."""
        return ctx.open(host, purpose="reconnect")

    def host_for(self, ctx: ConnectionContext, state: SplitState | None, url: str, role: HostRole) -> HostInfo | None:
        """The host at ``url`` among the places ``role`` goes to (``None``: not among them)."""
        if state is None:
            return None
        return next((h for h in self.candidates(ctx, state, role) if h.url == url), None)

    def role_of(self, ctx: ConnectionContext, host: HostInfo, wanted: HostRole) -> HostRole:
        """The role of ``host`` after failover installed a connection to it."""
        return wanted

    # -- the wrapped calls -------------------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        ctx = call.context
        if call.method == _CLOSE:
            give = self._closing(ctx)
            if give is not None:
                call.func = give
            return (yield)
        if ctx.closed:
            return (yield)  # the driver answers as it does for a closed connection
        value = call.args[-1]  # the core passes (connection, value)
        state, want = self._state_and_role(ctx, value)
        switched = self._needs_switch(ctx, state, want) and self._switch(ctx, state, want, value)
        if self._applied(call, switched, value):
            call.func = _nothing
        return (yield)

    @hookimpl
    async def sturdydb_execute_async(self, call: Call, proceed: AsyncProceed) -> Any:
        """The same as :meth:`sturdydb_execute` for ``await conn.set_read_only(...)``.

        Deciding needs no I/O and runs on the loop (so does the refusal inside a
        transaction); a switch that must move (open a connection through the connect chain,
        bring its session state over) is the sync :meth:`_switch`, run off-loop: its driver
        calls on the async connections are scheduled back on the loop.
        """
        ctx = call.context
        if call.method == _CLOSE:
            give = self._closing(ctx)  # no I/O: on the loop, close_quietly closes without awaiting
            if give is not None:
                call.func = _awaitable(give)
            return await proceed(call)
        if ctx.closed:
            return await proceed(call)
        value = call.args[-1]
        state, want = self._state_and_role(ctx, value)
        switched = False
        if self._needs_switch(ctx, state, want):
            if state.current_role is want:
                ctx.wanted_role = want
            else:
                self._refuse_in_transaction(ctx, state, want, value)
                switched = await run_off_loop(self._switch, ctx, state, want, value)
        if self._applied(call, switched, value):
            call.func = _nothing_async
        return await proceed(call)

    def _state_and_role(self, ctx: ConnectionContext, value: Any) -> tuple[SplitState, HostRole]:
        want = HostRole.READER if value else HostRole.WRITER
        state: SplitState | None = ctx.plugin_state.get(self.code)
        if state is None:
            state = self._start(ctx)
        return state, want

    @staticmethod
    def _needs_switch(ctx: ConnectionContext, state: SplitState, want: HostRole) -> bool:
        return ctx.wanted_role is not want or state.current_role is not want

    @staticmethod
    def _applied(call: Call, switched: bool, value: Any) -> bool:
        """Whether ``read_only`` is already in place, so the driver call must be skipped."""
        ctx = call.context
        if switched:
            call.target = ctx.connection
            call.args = (ctx.connection, value)
            return True  # read_only was applied with the rest of the session
        # The current connection has it already: setting it again would cost MySQL a
        # statement on every read_only assignment of an application that sets it per request.
        return value is not None and ctx.session.read_only is bool(value)

    def _start(self, ctx: ConnectionContext) -> SplitState:
        settings = SplitSettings.from_props(ctx.props)
        kwargs_key = _pool_key(ctx) if settings.pools else None
        role = self.initial_role(ctx)
        current = Tracked(ctx.connection, ctx.host.url, replace(ctx.session), self._key(ctx.host, kwargs_key))
        state = SplitState(settings, current, role, kwargs_key)
        ctx.plugin_state[self.code] = state
        return state

    @staticmethod
    def _key(host: HostInfo, kwargs_key: Hashable | None) -> Hashable | None:
        return None if kwargs_key is None else (host.url, kwargs_key)

    def _switch(self, ctx: ConnectionContext, state: SplitState, want: HostRole, value: Any) -> bool:
        """Move to a connection of role ``want``; False when the current one keeps serving."""
        if state.current_role is want:
            ctx.wanted_role = want
            return False
        self._refuse_in_transaction(ctx, state, want, value)
        session = ctx.session
        before = session.read_only
        session.read_only = bool(value)
        try:
            found = self._acquire(ctx, state, want)
            if found is None:
                # No reader qualifies or answers: the writer serves the reads, read_only
                # applied to it.
                session.read_only = before
                ctx.wanted_role = want
                log.info("no reader of %s qualifies or could be reached; reads stay on %s",
                         ctx.cluster_id, ctx.host.url)
                return False
            tracked, host = found
            try:
                bring_to(ctx.driver, tracked, session)
            except Exception:
                ctx.driver.close_quietly(tracked.conn)
                raise
        except BaseException:
            session.read_only = before
            raise
        old, old_role = state.current, state.current_role
        old.applied = _merge(old.applied, replace(session, read_only=before))
        state.switching = True
        try:
            ctx.set_connection(tracked.conn, host, keep_old=True, carry_session=False)
        finally:
            state.switching = False
        state.current, state.current_role = tracked, want
        ctx.wanted_role = want
        settings = state.settings
        if settings.pools and old.key is not None:
            connection_pools.give(old, ctx.driver, settings.pool_size, settings.pool_idle_timeout)
        else:
            stale, state.idle, state.idle_role = state.idle, old, old_role
            if stale is not None:
                ctx.driver.close_quietly(stale.conn)
        return True

    @staticmethod
    def _refuse_in_transaction(ctx: ConnectionContext, state: SplitState, want: HostRole, value: Any) -> None:
        if ctx.in_transaction():
            raise ReadWriteSplittingError(
                f"cannot set read_only={bool(value)} inside a transaction: it would move the "
                f"connection from the {state.current_role.value} to a {want.value}. Commit or roll "
                "back first (or use autocommit); the connection stays where it was")

    def _acquire(self, ctx: ConnectionContext, state: SplitState, want: HostRole) -> tuple[Tracked, HostInfo] | None:
        idle = state.idle
        if idle is not None and state.idle_role is want:
            # Asked before the kept connection is taken: a plugin may refuse the switch here
            # (gdb_rw's writer outside the home region), and then it stays kept, not leaked.
            valid = self.still_valid(ctx, idle, want)
            state.idle = state.idle_role = None
            if valid:
                return idle, self._host_of(ctx, state, idle, want)
            ctx.driver.close_quietly(idle.conn)
        settings = state.settings
        last: BaseException | None = None
        tried: list[str] = []
        for host in self.candidates(ctx, state, want):
            key = self._key(host, state.kwargs_key)
            if key is not None:
                pooled = connection_pools.take(key, ctx.session, settings.pool_idle_timeout)
                if pooled is not None:
                    return pooled, host
            try:
                conn = self.open(ctx, state, host, want)
            except Exception as exc:
                last = exc
                tried.append(host.url)
                log.info("could not open a %s connection to %s: %s", want.value, host.url, exc)
                self._unreachable(ctx, host)
                continue
            return Tracked(conn, host.url, type(ctx.session)(), key), host
        if want is HostRole.READER:
            return None
        where = f"{', '.join(tried)}: {last}" if tried else "no writer is known"
        raise ReadWriteSplittingError(
            f"cannot set read_only=False: no connection to the writer could be opened ({where}); "
            "the connection stays on the reader, try again later") from last

    def _host_of(self, ctx: ConnectionContext, state: SplitState, tracked: Tracked, want: HostRole) -> HostInfo:
        host = self.host_for(ctx, state, tracked.url, want)
        if host is not None:
            return host
        host_name, _, port = tracked.url.rpartition(":")
        return HostInfo(host_name, int(port) if port.isdigit() else None, want)

    @staticmethod
    def _unreachable(ctx: ConnectionContext, host: HostInfo) -> None:
        try:
            if ctx.topology.find(host.host) is not None:
                ctx.topology.mark(host.host, HostAvailability.UNAVAILABLE,
                                  reason=f"read/write splitting: a connection to {host.url} failed")
        except Exception:
            pass

    def _closing(self, ctx: ConnectionContext) -> Callable[[], None] | None:
        """The application closes: the kept connection goes too; with pools both are returned.

        Returns the call that replaces the driver's close (returning the current connection
        to its pool), or ``None`` when it is closed for real.
        """
        state: SplitState | None = ctx.plugin_state.get(self.code)
        if state is None:
            return None
        settings = state.settings
        driver = ctx.driver
        idle, state.idle, state.idle_role = state.idle, None, None
        if idle is not None:
            if settings.pools and idle.key is not None:
                connection_pools.give(idle, driver, settings.pool_size, settings.pool_idle_timeout)
            else:
                driver.close_quietly(idle.conn)
        current = state.current
        if not settings.pools or current.key is None or current.conn is not ctx.connection:
            return None
        try:
            busy = ctx.in_transaction() or driver.is_closed(current.conn)
        except Exception:
            busy = True
        if busy:
            return None  # closed for real: a transaction's fate is the driver's close semantics
        current.applied = _merge(current.applied, ctx.session)
        size, timeout = settings.pool_size, settings.pool_idle_timeout
        return lambda: connection_pools.give(current, driver, size, timeout)

    # -- what other plugins did ---------------------------------------------------------------
    @hookimpl
    def sturdydb_connection_changed(self, context: ConnectionContext, old: Any, new: Any) -> None:
        state: SplitState | None = context.plugin_state.get(self.code)
        if state is None or state.switching:
            return
        # Failover replaced the connection (and closed the old one): adopt the new one.
        wanted = context.wanted_role or state.current_role
        host = context.host
        state.current = Tracked(new, host.url, replace(context.session), self._key(host, state.kwargs_key))
        state.current_role = self.role_of(context, host, wanted)

    @hookimpl
    def sturdydb_host_state_changed(self, host: HostInfo, available: bool, reason: str) -> None:
        if not available:
            connection_pools.close_host(host.url)

    @hookimpl
    def sturdydb_host_list_changed(self, topology: ClusterTopology, changes: Mapping[str, frozenset[HostEvent]]) -> None:
        for url, events in changes.items():
            if events & _DROP_POOLS:
                connection_pools.close_host(url)
