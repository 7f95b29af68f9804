"""The PEP 249 wrapper classes and ``connect``.

``Connection`` and ``Cursor`` look like the driver's own objects: every attribute they do not
define is read from the current driver object, so driver-specific API keeps working. Calls
that a plugin wraps go down the compiled execute chain; calls that no plugin wraps go straight
to the driver (the hot path costs one generation check and one attribute read). After a
failover the context holds a new physical connection; existing cursors notice the bumped
``generation`` and transparently open a driver cursor on it for their next ``execute``. A
fetch on a cursor whose result lived on the old connection works when the driver holds the
whole result in memory (psycopg's client-side cursors) and otherwise raises
``FailoverSuccessError`` (execute the query again), never a bare driver error or a silent
empty result. When failover marks its error ``retry_read`` (``failover_retry_reads``), the
cursor runs the interrupted read once more, through the whole chain, on the new connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sturdydb import _profiles as profiles
from sturdydb import _selectors as selectors
from sturdydb._config import build_properties
from sturdydb._conninfo import check_conninfo, split_hosts
from sturdydb._context import Call, ConnectionContext, CursorKind
from sturdydb._discovery import PluginCatalog, catalog_for
from sturdydb._drivers import UnknownDriverError, driver_dialect_for, pass_through_dialect
from sturdydb._errors import ConfigurationError, FailoverSuccessError, InterfaceError
from sturdydb._hosts import HostInfo
from sturdydb._pipeline import ChainFn, Pipeline, get_pipeline, select_plugins
from sturdydb._properties import Properties

__all__ = ["AwsWrapperConnection", "Connection", "Cursor", "connect"]

log = logging.getLogger("sturdydb.connection")


def connect(target_connect: Callable[..., Any], conninfo: str = "", **kwargs: Any) -> Connection:
    """Open a connection through sturdydb's plugin pipeline.

    ``target_connect`` is the driver's connect function (``psycopg.Connection.connect``,
    ``mysql.connector.connect``); ``conninfo`` a ``key=value`` string or URL; ``kwargs`` more
    properties (they override the string). sturdydb's own properties are removed before the
    driver sees the rest.
    """
    check_conninfo(conninfo)
    cat = catalog_for(target_connect, conninfo, kwargs)
    plan = _plan(cat, target_connect, conninfo, kwargs)
    driver, props, pipeline, hosts = plan
    if getattr(driver, "is_async", False):
        raise InterfaceError(
            f"{target_connect!r} is an async connect function: use "
            "'await sturdydb.connect_async(...)' for it, or pass the driver's sync connect "
            "function (psycopg.Connection.connect, mysql.connector.connect) to sturdydb.connect"
        )
    ctx = ConnectionContext(
        pipeline=pipeline, driver=driver, props=props, target_connect=target_connect,
        hosts=hosts, catalog=cat,
    )
    open_initial(ctx)
    return Connection(ctx)


def open_initial(ctx: ConnectionContext) -> None:
    """Open ``ctx``'s first physical connection (hosts in order) and detect its dialect.

    Shared by ``connect`` and ``connect_async`` (which runs it off-loop).
    """
    hosts, driver, pipeline = ctx.hosts, ctx.driver, ctx.pipeline
    last_error: BaseException | None = None
    for index, host in enumerate(hosts):
        ctx.initial_host = ctx.host = host
        try:
            raw = ctx.open(host, purpose="connect")
        except Exception as exc:
            # Like libpq with several hosts: a host that cannot be reached is skipped, any
            # other error (bad password, unknown database) is final.
            if index + 1 < len(hosts) and driver.is_network_error(exc):
                last_error = exc
                log.info("connect to %s failed (%s); trying the next host", host.url, exc)
                continue
            raise
        break
    else:  # pragma: no cover - the loop either breaks or raises
        assert last_error is not None
        raise last_error
    ctx.connection = raw
    if pipeline.requires_dialect:
        try:
            ctx.detect_dialect(raw, ctx.host)
        except BaseException:
            driver.close_quietly(raw)
            raise
    selectors.track(ctx)


_Plan = tuple[Any, Properties, Pipeline, list[HostInfo]]
_plans: dict[Any, _Plan] = {}
_PLAN_CACHE_SIZE = 256


def _plan(cat: PluginCatalog, target: Callable[..., Any], conninfo: str, kwargs: dict[str, Any]) -> _Plan:
    """Driver dialect, validated properties, plugin chain and hosts for these arguments.

    Applications open many connections with identical arguments (pools), and resolving them
    costs tens of microseconds, so the result is cached when every argument is hashable. The
    key includes the catalog and the profiles' version, so registering a plugin or a profile
    is seen at once. Nothing in a plan is mutated by a connection.
    """
    try:
        key: Any = (id(cat), profiles.version, target, conninfo, tuple(sorted(kwargs.items())))
        hash(key)
    except TypeError:  # an unhashable value (a row factory instance, an SSL context...)
        key = None
    if key is not None:
        found = _plans.get(key)
        if found is not None:
            return found
    forced = kwargs.get("wrapper_driver_dialect")
    if forced is None and "wrapper_driver_dialect" in conninfo:
        forced = _peek(conninfo, "wrapper_driver_dialect")
    if forced is not None:
        spec = cat.registry.get("wrapper_driver_dialect")
        assert spec is not None
        forced = spec.coerce(forced)
    try:
        driver = driver_dialect_for(target, forced)
    except UnknownDriverError:
        if not _no_plugins_asked(conninfo, kwargs):
            raise
        driver = pass_through_dialect(target)
    props = build_properties(cat, driver, conninfo, kwargs)
    pipeline = get_pipeline(select_plugins(cat, props))
    if pipeline.plugins and not driver.supports_plugins:
        raise ConfigurationError(
            f"{target!r} is no driver sturdydb supports, so it runs only as a pass-through with no "
            f"plugins, but these properties enable {', '.join(pipeline.codes)}: remove them, or use "
            "a supported driver"
        )
    hosts = [HostInfo(h, p) for h, p in split_hosts(props.get("host"), props.get("port"))]
    if not hosts:
        hosts = [HostInfo("localhost", None)]
    plan: _Plan = (driver, props, pipeline, hosts)
    if key is not None:
        if len(_plans) >= _PLAN_CACHE_SIZE:
            _plans.clear()  # simple and bounded; steady-state applications use a handful
        _plans[key] = plan
    return plan


def _no_plugins_asked(conninfo: str, kwargs: dict[str, Any]) -> bool:
    """Whether the application named an empty plugin list itself (``plugins=""``)."""
    value = kwargs["plugins"] if "plugins" in kwargs else (
        _peek(conninfo, "plugins") if "plugins" in conninfo else None)
    return isinstance(value, str) and not value.strip()


def _peek(conninfo: str, key: str) -> str | None:
    from sturdydb._conninfo import parse_conninfo

    return parse_conninfo(conninfo).get(key)


class Connection:
    """A PEP 249 connection that delegates to the driver's connection through the plugins."""

    __slots__ = ("__weakref__", "_ctx", "_hot")

    def __init__(self, context: ConnectionContext) -> None:
        self._ctx = context
        # The calls an ORM makes for every statement or unit of work: their chains are looked
        # up once (they depend only on the plugin chain and the driver, fixed per connection),
        # and kept with the context in one field: this class has ``__getattr__``, which makes
        # each read of a field cost about 360 instructions (see ``_cursor_class``).
        self._hot: tuple[ConnectionContext, ChainFn | None, ChainFn | None, ChainFn | None] = (
            context, context.chain("Connection.cursor"), context.chain("Connection.commit"),
            context.chain("Connection.rollback"))

    @classmethod
    def connect(cls, target: Callable[..., Any], conninfo: str = "", *args: Any, **kwargs: Any) -> Connection:
        """Same as :func:`sturdydb.connect` (the reference wrapper's spelling)."""
        if args:
            raise TypeError("connect() takes the target function and the connection string; pass properties as keywords")
        return connect(target, conninfo, **kwargs)

    # -- sturdydb specifics ------------------------------------------------------
    @property
    def context(self) -> ConnectionContext:
        """sturdydb's state for this connection (plugins, host, session state)."""
        return self._ctx

    @property
    def target_connection(self) -> Any:
        """The driver's current connection object (it changes after a failover)."""
        return self._ctx.connection

    @property
    def host(self) -> HostInfo:
        """The host this connection is currently connected to."""
        return self._ctx.host

    def _call(self, method: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        ctx = self._ctx
        chain = ctx.chain(method)
        if chain is None:
            return func(*args, **kwargs)
        return chain(Call(ctx, method, ctx.connection, func, args, kwargs))

    # -- PEP 249 ---------------------------------------------------------------
    def cursor(self, *args: Any, **kwargs: Any) -> Cursor:
        ctx, chain, _, _ = self._hot
        if ctx.closed:
            raise _closed_error(ctx)
        if chain is None:
            raw = ctx.connection.cursor(*args, **kwargs)
        else:
            raw = chain(Call(ctx, "Connection.cursor", ctx.connection, ctx.connection.cursor, args, kwargs))
        kind = ctx.cursor_kinds.get(raw.__class__) or ctx.cursor_chains(raw)
        if not kind[2]:
            # Not in memory, or fetched through plugins. (psycopg2's in-memory result dies
            # with its connection: after a failover the fetch must say so, which only
            # Cursor's generation check does.)
            cls = _cursor_classes.get(raw.__class__) or _cursor_class(Cursor, raw.__class__)
            return cls(self, raw, args, kwargs, kind)
        # Cursor.__init__ inlined (an ORM opens a cursor per statement; the frame is a visible
        # part of its client cost): the same fields, plus the driver's own fetch methods.
        cur = _new_in_memory(_in_memory_classes.get(raw.__class__)
                             or _cursor_class(_InMemoryCursor, raw.__class__))
        cur._conn = self
        cur._ctx = ctx
        cur._cursor = raw
        cur._args = args
        cur._kwargs = kwargs
        gen = cur._gen = ctx.generation
        cur._server_side = False
        cur._hot = (ctx, raw, gen, kind[1])
        cur.fetchone = raw.fetchone  # type: ignore[method-assign]  # a slot of that class
        cur.fetchall = raw.fetchall  # type: ignore[method-assign]
        return cur

    def commit(self) -> None:
        ctx, _, chain, _ = self._hot
        if chain is None:
            ctx.connection.commit()
        else:
            chain(Call(ctx, "Connection.commit", ctx.connection, ctx.connection.commit, (), {}))

    def rollback(self) -> None:
        ctx, _, _, chain = self._hot
        if chain is None:
            ctx.connection.rollback()
        else:
            chain(Call(ctx, "Connection.rollback", ctx.connection, ctx.connection.rollback, (), {}))

    def close(self) -> None:
        ctx = self._ctx
        if ctx.closed:
            ctx.driver.close_again(ctx.connection)  # the driver's answer: nothing, or an error
            return
        try:
            self._call("Connection.close", ctx.connection.close)
        finally:
            ctx.closed = True
            selectors.untrack(ctx)

    @property
    def closed(self) -> Any:
        ctx = self._ctx
        if ctx.closed:
            return True
        return getattr(ctx.connection, "closed", False)

    # autocommit and database go through the driver dialect: PyMySQL spells them as methods
    # (``autocommit(value)``, ``select_db``), the other drivers as attributes.
    @property
    def autocommit(self) -> Any:
        ctx = self._ctx
        return ctx.driver.get_autocommit(ctx.connection, self._set_autocommit)

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        self._set_autocommit(value)

    def _set_autocommit(self, value: bool) -> None:
        ctx = self._ctx
        self._call("Connection.autocommit_setter", ctx.driver.set_autocommit, ctx.connection, value)
        ctx.session.autocommit = bool(value)

    # read_only and isolation_level go through the driver dialect's own setters (the ones
    # apply_session_state uses when failover carries the session over), so there is one way
    # to change them per driver.
    @property
    def read_only(self) -> Any:
        ctx = self._ctx
        return ctx.driver.get_read_only(ctx.connection, ctx.session)

    @read_only.setter
    def read_only(self, value: bool | None) -> None:
        ctx = self._ctx
        self._call("Connection.read_only_setter", ctx.driver.set_read_only, ctx.connection, value)
        ctx.session.read_only = None if value is None else bool(value)

    @property
    def isolation_level(self) -> Any:
        ctx = self._ctx
        return ctx.driver.get_isolation_level(ctx.connection, ctx.session)

    @isolation_level.setter
    def isolation_level(self, value: Any) -> None:
        ctx = self._ctx
        self._call("Connection.isolation_level_setter", ctx.driver.set_isolation_level, ctx.connection, value)
        ctx.session.isolation_level = value

    @property
    def database(self) -> Any:
        """The MySQL drivers' current database (``USE``); psycopg has no such attribute."""
        ctx = self._ctx
        return ctx.driver.get_database(ctx.connection)

    @database.setter
    def database(self, value: str) -> None:
        ctx = self._ctx
        self._call("Connection.database_setter", ctx.driver.set_database, ctx.connection, value)
        ctx.session.database = value

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Cursor:
        """psycopg's ``Connection.execute`` shortcut: a new cursor, executed."""
        cur = self.cursor()
        return cur.execute(query, params, **kwargs)

    # -- driver-specific network-bound API ----------------------------------------
    # These exist on one driver only; reached through ``__getattr__`` they would bypass the
    # plugins (no socket_timeout, no failover, no host monitoring), so they are spelled out.
    def transaction(self, *args: Any, **kwargs: Any) -> _ChainedBlock:
        """psycopg's ``transaction()`` block; BEGIN/SAVEPOINT and COMMIT/ROLLBACK go through the plugins."""
        ctx = self._ctx
        raw = ctx.connection.transaction(*args, **kwargs)
        return _ChainedBlock(ctx, "Connection.transaction", ctx.connection, raw, None)

    def pipeline(self, *args: Any, **kwargs: Any) -> _ChainedBlock:
        """psycopg's ``pipeline()`` block; entering, ``sync()`` and the final sync go through the plugins."""
        ctx = self._ctx
        raw = ctx.connection.pipeline(*args, **kwargs)
        return _ChainedBlock(ctx, "Connection.pipeline", ctx.connection, raw, ("sync",))

    def start_transaction(self, *args: Any, **kwargs: Any) -> Any:
        """mysql-connector's ``start_transaction()`` through the plugins."""
        return self._call("Connection.start_transaction", self._ctx.connection.start_transaction, *args, **kwargs)

    def ping(self, *args: Any, **kwargs: Any) -> Any:
        """mysql-connector's ``ping()`` through the plugins."""
        return self._call("Connection.ping", self._ctx.connection.ping, *args, **kwargs)

    def cmd_query(self, *args: Any, **kwargs: Any) -> Any:
        """mysql-connector's ``cmd_query()`` through the plugins."""
        return self._call("Connection.cmd_query", self._ctx.connection.cmd_query, *args, **kwargs)

    # PEP 249's two-phase commit extension (psycopg, psycopg2): through the plugins, like commit.
    def tpc_begin(self, xid: Any) -> None:
        self._call("Connection.tpc_begin", self._ctx.connection.tpc_begin, xid)

    def tpc_prepare(self) -> None:
        self._call("Connection.tpc_prepare", self._ctx.connection.tpc_prepare)

    def tpc_commit(self, *xid: Any) -> None:
        self._call("Connection.tpc_commit", self._ctx.connection.tpc_commit, *xid)

    def tpc_rollback(self, *xid: Any) -> None:
        self._call("Connection.tpc_rollback", self._ctx.connection.tpc_rollback, *xid)

    def tpc_recover(self) -> Any:
        return self._call("Connection.tpc_recover", self._ctx.connection.tpc_recover)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        ctx = self._ctx
        if ctx.closed:
            return
        if ctx.driver.context_exit_delegates and hasattr(ctx.connection, "__exit__"):
            ctx.connection.__exit__(exc_type, exc, tb)  # a driver sturdydb does not know: its own rule
            return
        try:
            if ctx.driver.context_exit_ends_transaction and not ctx.driver.is_closed(ctx.connection):
                # The driver's own semantics (psycopg): commit on success, roll back on error,
                # then close.
                if exc_type is None:
                    self.commit()
                else:
                    self.rollback()
        finally:
            if ctx.driver.context_exit_closes:
                self.close()

    def __getattr__(self, name: str) -> Any:
        # Only called for names not defined here: driver-specific API passes through.
        return getattr(self._ctx.connection, name)

    def __repr__(self) -> str:
        ctx = self._ctx
        state = "closed" if ctx.closed else "open"
        return f"<sturdydb.Connection {state} host={ctx.host.url} plugins={list(ctx.pipeline.codes)}>"


AwsWrapperConnection = Connection


_END = object()


def _run_chained(ctx: ConnectionContext, method: str, target: Any, func: Callable[..., Any], *args: Any) -> Any:
    chain = ctx.chain(method)
    if chain is None:
        return func(*args)
    return chain(Call(ctx, method, target, func, args, {}))


class _ChainedBlock:
    """A driver context manager (psycopg's ``copy``, ``transaction``, ``pipeline``) on the plugins.

    Entering and leaving the block and the listed I/O methods of the object it yields each go
    down the execute chain under ``method`` (network-bound), so socket_timeout bounds every
    round trip and failover and host monitoring see them. If a failover replaced the physical
    connection inside the block, the driver's exit (which would talk to the dead connection
    and mask the failover error) is skipped: the error already raised in the block propagates,
    and a block that swallowed it ends with ``TransactionResolutionUnknownError`` because its
    work was not completed on the new connection.
    """

    __slots__ = ("_ctx", "_gen", "_io", "_method", "_raw", "_target")

    def __init__(self, ctx: ConnectionContext, method: str, target: Any, raw: Any, io: tuple[str, ...] | None) -> None:
        self._ctx = ctx
        self._method = method
        self._target = target
        self._raw = raw
        self._io = io
        self._gen = ctx.generation

    def __enter__(self) -> Any:
        ctx = self._ctx
        self._gen = ctx.generation
        inner = _run_chained(ctx, self._method, self._target, self._raw.__enter__)
        if self._io is None or inner is None:
            return inner
        return _ChainedIO(ctx, self._method, self._target, inner, self._io)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        ctx = self._ctx
        if ctx.generation != self._gen:
            if exc_type is None:
                from sturdydb._errors import TransactionResolutionUnknownError

                raise ctx.error(
                    TransactionResolutionUnknownError,
                    f"a failover replaced the connection inside this {self._method.split('.')[-1]}() block; "
                    "the block's work did not complete on the new connection: run the block again "
                    "if it is safe to (see the failover README)",
                )
            return False
        return _run_chained(ctx, self._method, self._target, self._raw.__exit__, exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _ChainedIO:
    """The object a chained block yields: its network methods go through the plugins."""

    __slots__ = ("_ctx", "_io", "_method", "_raw", "_target")

    def __init__(self, ctx: ConnectionContext, method: str, target: Any, raw: Any, io: tuple[str, ...]) -> None:
        self._ctx = ctx
        self._method = method
        self._target = target
        self._raw = raw
        self._io = io

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._raw, name)
        if name not in self._io:
            return value
        ctx, method, target = self._ctx, self._method, self._target

        def chained(*args: Any) -> Any:
            return _run_chained(ctx, method, target, value, *args)

        return chained

    def rows(self) -> Iterator[Any]:
        """psycopg's ``Copy.rows()``: each row read through the plugins."""
        read_row = self._raw.read_row
        while (row := _run_chained(self._ctx, self._method, self._target, read_row)) is not None:
            yield row

    def __iter__(self) -> Iterator[Any]:
        """psycopg's ``Copy`` iteration: each data block read through the plugins."""
        read = self._raw.read
        while data := _run_chained(self._ctx, self._method, self._target, read):
            yield data


_COPY_IO = ("write", "write_row", "read", "read_row", "finish")


def _closed_error(ctx: ConnectionContext) -> BaseException:
    from sturdydb._errors import make_error

    base = getattr(ctx.driver.module, "InterfaceError", None) or ctx.driver.operational_error
    return make_error(InterfaceError, "the connection is closed", base)


class Cursor:
    """A PEP 249 cursor that delegates to the driver's cursor through the plugins.

    Instances are of a subclass made per driver cursor class (:func:`_cursor_class`), which
    reads every attribute this class does not define from the current driver cursor.
    """

    __slots__ = (
        "__weakref__",
        "_args",
        "_conn",
        "_ctx",
        "_cursor",
        "_gen",
        "_hot",
        "_kwargs",
        "_server_side",
    )

    def __init__(self, connection: Connection, raw: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 kind: CursorKind) -> None:
        ctx = connection._ctx
        self._conn = connection
        self._ctx = ctx
        self._cursor = raw
        self._args = args
        self._kwargs = kwargs
        gen = self._gen = ctx.generation
        self._server_side, chains, _ = kind
        # What execute and the fetches read, in one field: on a class with ``__getattr__``
        # (see _cursor_class) each field read costs about 360 instructions, one tuple's unpacking
        # about 30. The chains per method, in this order: execute, executemany, fetchone,
        # fetchmany, fetchall, __next__, close. Assigned again wherever _cursor or _gen is.
        self._hot: tuple[ConnectionContext, Any, int, tuple[ChainFn | None, ...]] = (ctx, raw, gen, chains)

    def _rebind(self) -> None:
        """Open a driver cursor on the context's new connection (after a failover)."""
        ctx = self._ctx
        raw = self._cursor = ctx.connection.cursor(*self._args, **self._kwargs)
        gen = self._gen = ctx.generation
        self._hot = (ctx, raw, gen, self._hot[3])

    def _run(self, method: str, chain: Any, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        call = _new_call(Call)  # Call(...) inlined, as in execute
        call.context = self._ctx
        call.method = method
        call.target = self._cursor
        call.func = func
        call.args = args
        call.kwargs = kwargs
        return chain(call)

    @property
    def target_cursor(self) -> Any:
        """The driver's cursor object."""
        return self._cursor

    @property
    def connection(self) -> Connection:
        return self._conn

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Cursor:
        ctx, cur, gen, chains = self._hot
        if gen != ctx.generation:
            self._rebind()
            cur = self._cursor
        chain = chains[0]
        if chain is None:
            # As the application called it (not every driver takes None for params); the
            # common forms without keywords skip the keyword-unpacking call.
            if kwargs:
                if params is None:
                    cur.execute(query, **kwargs)
                else:
                    cur.execute(query, params, **kwargs)
            elif params is None:
                cur.execute(query)
            else:
                cur.execute(query, params)
        else:
            # Call(...) inlined: its __init__ frame is a third of the chain's own cost here.
            call = _new_call(Call)
            call.context = ctx
            call.method = "Cursor.execute"
            call.target = cur
            call.func = cur.execute
            call.args = (query, params)
            call.kwargs = kwargs
            try:
                chain(call)
            except FailoverSuccessError as exc:
                if not exc.retry_read:
                    raise
                # A read interrupted by a failover, with failover_retry_reads: run it once
                # more on the new connection (a second failover error is raised as it is).
                log.info("re-running a read interrupted by a failover on %s", ctx.host.url)
                self._rebind()
                cur = self._cursor
                chain(Call(ctx, "Cursor.execute", cur, cur.execute, (query, params), kwargs))
        return self

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Cursor:
        if self._gen != self._ctx.generation:
            self._rebind()
        chain = self._hot[3][1]
        if chain is None:
            self._cursor.executemany(query, params_seq, **kwargs)
        else:
            self._run("Cursor.executemany", chain, self._cursor.executemany, (query, params_seq), kwargs)
        return self

    def _stale(self) -> None:
        """A fetch after the connection failed over: fine if the result is in memory, else raise."""
        ctx = self._ctx
        if not self._server_side and ctx.driver.results_outlive_connection:
            return  # a client-side cursor holds its whole result: it is still valid
        raise ctx.error(
            FailoverSuccessError,
            f"this cursor's result was on a connection that failed over (now on {ctx.host.url}); "
            "fetching did not change data: execute the query again",
        )

    def fetchone(self) -> Any:
        ctx, cur, gen, chains = self._hot
        if gen != ctx.generation:
            self._stale()
        chain = chains[2]
        if chain is None:
            return cur.fetchone()
        # _run inlined: an unbuffered MySQL cursor fetches through the plugins every row.
        call = _new_call(Call)
        call.context = ctx
        call.method = "Cursor.fetchone"
        call.target = cur
        call.func = cur.fetchone
        call.args = ()
        call.kwargs = {}
        return chain(call)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._gen != self._ctx.generation:
            self._stale()
        cur = self._cursor
        args: tuple[Any, ...] = () if size is None else (size,)
        chain = self._hot[3][3]
        if chain is None:
            return cur.fetchmany(*args)  # type: ignore[no-any-return]
        return self._run("Cursor.fetchmany", chain, cur.fetchmany, args, {})  # type: ignore[no-any-return]

    def fetchall(self) -> list[Any]:
        ctx, cur, gen, chains = self._hot
        if gen != ctx.generation:
            self._stale()
        chain = chains[4]
        if chain is None:
            return cur.fetchall()  # type: ignore[no-any-return]
        return self._run("Cursor.fetchall", chain, cur.fetchall, (), {})  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._gen != self._ctx.generation:
            self._stale()
        chain = self._hot[3][5]
        if chain is None:
            row = self._cursor.fetchone()
        else:
            row = self._run("Cursor.__next__", chain, self._cursor.fetchone, (), {})
        if row is None:
            raise StopIteration
        return row

    def callproc(self, procname: str, params: Sequence[Any] = (), *args: Any) -> Any:
        if self._gen != self._ctx.generation:
            self._rebind()
        func = getattr(self._cursor, "callproc", None)
        if func is None:
            from sturdydb._errors import NotSupportedError, make_error

            raise make_error(NotSupportedError, f"{self._ctx.driver.name} cursors have no callproc(); "
                             "use execute('CALL ...') or SELECT the function",
                             getattr(self._ctx.driver.module, "NotSupportedError", None))
        return self._call("Cursor.callproc", func, procname, params, *args)

    def copy(self, *args: Any, **kwargs: Any) -> _ChainedBlock:
        """psycopg's ``copy()`` block: the COPY statement, every read/write and its end go through the plugins."""
        if self._gen != self._ctx.generation:
            self._rebind()
        raw = self._cursor.copy(*args, **kwargs)
        return _ChainedBlock(self._ctx, "Cursor.copy", self._cursor, raw, _COPY_IO)

    # psycopg2's COPY methods: one call each, through the plugins (socket_timeout bounds the
    # whole COPY; failover reports its outcome as unknown, never "not applied").
    def copy_from(self, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._ctx.generation:
            self._rebind()
        return self._call("Cursor.copy_from", self._cursor.copy_from, *args, **kwargs)

    def copy_to(self, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._ctx.generation:
            self._rebind()
        return self._call("Cursor.copy_to", self._cursor.copy_to, *args, **kwargs)

    def copy_expert(self, *args: Any, **kwargs: Any) -> Any:
        if self._gen != self._ctx.generation:
            self._rebind()
        return self._call("Cursor.copy_expert", self._cursor.copy_expert, *args, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """psycopg's ``stream()``: the query and every row fetched go through the plugins.

        Each step is its own call down the chain (so ``socket_timeout`` bounds one round trip,
        not the whole stream); the steps carry no SQL, so a plugin never mistakes one for a
        statement it could re-run.
        """
        if self._gen != self._ctx.generation:
            self._rebind()
        cur = self._cursor
        rows = cur.stream(*args, **kwargs)
        ctx = self._ctx

        def step() -> Any:
            return next(rows, _END)

        def generate() -> Iterator[Any]:
            while (row := _run_chained(ctx, "Cursor.stream", cur, step)) is not _END:
                yield row

        return generate()

    def nextset(self) -> Any:
        if self._gen != self._ctx.generation:
            self._stale()
        return self._call("Cursor.nextset", self._cursor.nextset)

    def scroll(self, value: int, mode: str = "relative") -> Any:
        if self._gen != self._ctx.generation:
            self._stale()
        return self._call("Cursor.scroll", self._cursor.scroll, value, mode)

    def close(self) -> None:
        ctx, cur, gen, chains = self._hot
        if gen != ctx.generation:
            return  # the driver cursor died with the old connection
        chain = chains[6]
        if chain is None:
            cur.close()
        else:
            self._run("Cursor.close", chain, cur.close, (), {})

    def _call(self, method: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        chain = self._ctx.chain(method, self._server_side)
        if chain is None:
            return func(*args, **kwargs)
        return self._run(method, chain, func, args, kwargs)

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount  # type: ignore[no-any-return]

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize  # type: ignore[no-any-return]

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def setinputsizes(self, sizes: Any) -> None:
        func = getattr(self._cursor, "setinputsizes", None)
        if func is not None:
            func(sizes)

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        # A driver without it (PyMySQL spells it setoutputsizes) raises as it would without
        # sturdydb.
        func = self._cursor.setoutputsize
        func(size, column) if column is not None else func(size)

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    if TYPE_CHECKING:
        # At run time the driver's attributes are reached through the class that
        # :func:`_cursor_class` makes for the driver's cursor class (no ``__getattr__`` here).
        def __getattr__(self, name: str) -> Any: ...

    def __repr__(self) -> str:
        return f"<sturdydb.Cursor on {self._ctx.host.url}>"


class _InMemoryCursor(Cursor):
    """A cursor whose driver cursor holds its whole result and whose fetches no plugin wraps.

    Its ``fetchone``/``fetchall`` are then exactly the driver cursor's (``Cursor.fetchone``
    would only check for a failover, which changes nothing for a result in memory, and call
    the driver), so they are the driver's bound methods themselves: an ORM fetches once or
    twice per statement, and each wrapper frame costs as much as a small driver call. They are
    bound again when the cursor moves to a new connection. ``close`` stays
    :meth:`Cursor.close`: after a failover or a read/write switch the old driver connection is
    gone (mysql-connector's cursor then raises ``ReferenceError``), has a result pending
    (PyMySQL reads it) or serves another connection (a pooled one), so it must not be touched.
    """

    __slots__ = ("fetchall", "fetchone")

    def _rebind(self) -> None:
        super()._rebind()
        raw = self._cursor
        self.fetchone = raw.fetchone  # type: ignore[method-assign]  # a slot of this class
        self.fetchall = raw.fetchall  # type: ignore[method-assign]


#: Allocates a cursor without running ``__init__`` (see :meth:`Connection.cursor`).
_new_in_memory = object.__new__
#: Allocates a :class:`Call` without running ``__init__`` (see :meth:`Cursor.execute`).
_new_call = object.__new__



def _forward_getattr(self: Cursor, name: str) -> Any:
    # Only called for names not defined on the class: driver-specific API passes through.
    return getattr(self._cursor, name)


def _attributes_are_static(raw_cls: type) -> bool:
    """Whether every attribute an instance of ``raw_cls`` can have is named on the class.

    True for a class without an instance ``__dict__`` (only slots and descriptors, like
    psycopg 3's cursors) and without its own ``__getattr__``/``__getattribute__``.
    """
    if getattr(raw_cls, "__dictoffset__", 1) != 0:
        return False
    return not any("__getattr__" in vars(k) or "__getattribute__" in vars(k)
                   for k in raw_cls.__mro__ if k is not object)


def _cursor_class(base: type[Cursor], raw_cls: type) -> type[Cursor]:
    """The class of a sturdydb cursor of kind ``base`` over driver cursors of class ``raw_cls``.

    A class with ``__getattr__`` makes every attribute read on its instances slow: CPython
    (3.11) does not specialize the read, and each one costs about 360 instructions instead of
    about 10, whether the name is found or not. A sturdydb cursor reads its own fields a dozen
    times per statement (an ORM's execute, description, fetch and close), a visible part of
    its client cost. So when the driver's cursor class names every attribute its instances can
    have (:func:`_attributes_are_static`), the class made here forwards exactly those names
    this one does not define, each as a read-only property that reads the *current* driver
    cursor (``self._cursor``, which changes after a failover); that is what ``__getattr__``
    did for them. Otherwise it forwards any name with ``__getattr__`` (and the hot methods
    read their fields from one tuple, ``_hot``). Dunder names are not
    forwarded (``__getattr__`` is not consulted for Python's implicit special-method lookups
    either). Made once per pair and kept (a process uses a handful of cursor classes).
    """
    # Named like the public class: an error about a missing attribute reads as it did.
    ns: dict[str, Any] = {"__slots__": (), "__module__": base.__module__, "__qualname__": "Cursor",
                          "__doc__": base.__doc__}
    if _attributes_are_static(raw_cls):
        own = set(dir(base))
        for name in dir(raw_cls):
            if name not in own and not (name.startswith("__") and name.endswith("__")):
                ns[name] = property(attrgetter(f"_cursor.{name}"))
    else:
        ns["__getattr__"] = _forward_getattr
    cls: type[Cursor] = type("Cursor", (base,), ns)
    # Two threads may make a class for the same pair at once: both are equivalent, one is kept.
    (_in_memory_classes if base is _InMemoryCursor else _cursor_classes)[raw_cls] = cls
    return cls


#: Driver cursor class -> the class :func:`_cursor_class` made for it over :class:`Cursor`,
#: and over :class:`_InMemoryCursor`.
_cursor_classes: dict[type, type[Cursor]] = {}
_in_memory_classes: dict[type, type[Cursor]] = {}
