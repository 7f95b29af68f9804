"""Plugin chains: ordering, the pluggy manager per chain, and the compiled execute path.

Building a ``pluggy.PluginManager`` costs about a millisecond, so one :class:`Pipeline` is
built per distinct ordered plugin set and cached for the life of the process; connections
share it (and the plugin instances in it). Order: plugins are registered innermost first,
because pluggy calls the last registered implementation first, so the call order equals the
weight order (lowest weight outermost).

The execute path is the hot path. For each DB-API method the pipeline keeps the list of
plugins that wrap it (``Plugin.wraps_method``): no plugin means the wrapper classes call the
driver directly. Otherwise the chain is *compiled* into nested closures, in weight order: a
``sturdydb_execute_around`` (the fast form) is called with the rest of the chain as
``proceed``; a ``wrapper=True`` generator is driven exactly as pluggy's ``_multicall`` would
(send the result, throw the exception) without pluggy's per-call bookkeeping (two innermost
generators share one closure with the driver call). Plain or old-style ``sturdydb_execute``
implementations fall back to a real pluggy hook call for that part of the chain, inside any
fast forms (a fast form ordered inside one is refused).

Async connections get their own compiled chains from the same per-method plugin list
(:meth:`Pipeline.async_chain`): a plugin's ``sturdydb_execute_async`` coroutine, or its sync
generator wrapper driven around the awaited inner call when the plugin declares
``async_safe_execute`` (a fast form cannot be: its ``proceed`` is not awaitable). A chain with a plugin that offers neither is refused at
``connect_async`` (:meth:`Pipeline.check_async`), naming the plugin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from sturdydb import hookspecs
from sturdydb._errors import ConfigurationError
from sturdydb._plugin import Plugin
from sturdydb.hookspecs import hookimpl

if TYPE_CHECKING:
    from sturdydb._context import Call, ConnectRequest
    from sturdydb._discovery import PluginCatalog
    from sturdydb._properties import Properties

__all__ = ["AsyncChainFn", "ChainFn", "Pipeline", "clear_pipelines", "get_pipeline", "select_plugins"]

log = logging.getLogger("sturdydb.pipeline")

ChainFn = Callable[["Call"], Any]
AsyncChainFn = Callable[["Call"], Awaitable[Any]]


class _Terminal:
    """The innermost implementations: perform the real driver call."""

    @hookimpl
    def sturdydb_connect(self, request: ConnectRequest) -> Any:
        driver = request.context.driver
        conn = driver.connect(request.target, request.host, request.driver_kwargs, request.props)
        # Plugins may abort this connection from another thread: record its socket's identity
        # so that an abort can never hit a descriptor number reused by another socket.
        driver.remember_socket(conn)
        return conn

    @hookimpl
    def sturdydb_execute(self, call: Call) -> Any:
        return call.func(*call.args, **call.kwargs)


def _second_yield(func: Callable[..., Any]) -> Any:
    raise RuntimeError(f"the sturdydb_execute wrapper {func.__qualname__} yielded more than once")


def _wrap(func: Callable[[Call], Generator[None, Any, Any]], inner: ChainFn) -> ChainFn:
    def run(call: Call) -> Any:
        gen = func(call)
        next(gen)
        try:
            result = inner(call)
        except BaseException as exc:
            try:
                gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            return _second_yield(func)
        try:
            gen.send(result)
        except StopIteration as stop:
            return stop.value
        return _second_yield(func)

    return run


def _wrap_innermost(func: Callable[[Call], Generator[None, Any, Any]]) -> ChainFn:
    """:func:`_wrap` around the driver call itself (what ``_Terminal.sturdydb_execute``
    does), inlined: one frame less on every wrapped call, the hot path."""

    def run(call: Call) -> Any:
        gen = func(call)
        next(gen)
        try:
            result = call.func(*call.args, **call.kwargs)
        except BaseException as exc:
            try:
                gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            return _second_yield(func)
        try:
            gen.send(result)
        except StopIteration as stop:
            return stop.value
        return _second_yield(func)

    return run


def _wrap_pair_innermost(
    outer: Callable[[Call], Generator[None, Any, Any]], inner: Callable[[Call], Generator[None, Any, Any]],
) -> ChainFn:
    """``_wrap(outer, _wrap_innermost(inner))`` in one frame: the two innermost wrappers and
    the driver call. The common chain (failover around host monitoring) has exactly two, and
    a frame per wrapped call is a sizeable part of an ORM statement's client cost. Same
    semantics as the nested form: an exception from ``inner`` (its setup, its handling of the
    driver's error, a second yield) is thrown into ``outer``."""

    def run(call: Call) -> Any:
        outer_gen = outer(call)
        next(outer_gen)
        try:
            inner_gen = inner(call)
            next(inner_gen)
            try:
                result = call.func(*call.args, **call.kwargs)
            except BaseException as exc:
                try:
                    inner_gen.throw(exc)
                except StopIteration as stop:
                    result = stop.value
                else:
                    _second_yield(inner)
            else:
                try:
                    inner_gen.send(result)
                except StopIteration as stop:
                    result = stop.value
                else:
                    _second_yield(inner)
        except BaseException as exc:
            try:
                outer_gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            return _second_yield(outer)
        try:
            outer_gen.send(result)
        except StopIteration as stop:
            return stop.value
        return _second_yield(outer)

    return run


def _call_driver(call: Call) -> Any:
    """The end of a chain whose innermost plugin uses the fast form: the driver call itself."""
    return call.func(*call.args, **call.kwargs)


def _around(func: Callable[[Call, ChainFn], Any], inner: ChainFn) -> ChainFn:
    """A ``sturdydb_execute_around`` implementation with the rest of its chain as ``proceed``."""

    def run(call: Call) -> Any:
        return func(call, inner)

    return run


def _wrap_async(func: Callable[[Call, AsyncChainFn], Awaitable[Any]], inner: AsyncChainFn) -> AsyncChainFn:
    async def run(call: Call) -> Any:
        return await func(call, inner)

    return run


def _drive_async(func: Callable[[Call], Generator[None, Any, Any]], inner: AsyncChainFn) -> AsyncChainFn:
    """A sync bookkeeping wrapper driven around the awaited inner call, as ``_wrap`` drives it."""
    async def run(call: Call) -> Any:
        gen = func(call)
        next(gen)
        try:
            result = await inner(call)
        except BaseException as exc:
            try:
                gen.throw(exc)
            except StopIteration as stop:
                return stop.value
            return _second_yield(func)
        try:
            gen.send(result)
        except StopIteration as stop:
            return stop.value
        return _second_yield(func)

    return run


async def _async_terminal(call: Call) -> Any:
    return await call.func(*call.args, **call.kwargs)


class _ChainManager(pluggy.PluginManager):
    """The pluggy manager of one chain: looks for hook implementations among hook names only.

    pluggy inspects every attribute of a registered plugin (``inspect.getattr_static`` on each
    name of ``dir()``: a hundred per plugin class, about a millisecond per chain at a cold
    start). Only attributes named ``sturdydb_*`` can implement a hook of this project; one
    marked under another name would have no hook specification and would never be called in
    a chain (the catalog reports such plugins as broken, see ``_discovery``).
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        if not name.startswith(hookspecs.PROJECT + "_"):
            return None
        return super().parse_hookimpl_opts(plugin, name)


class Pipeline:
    """One ordered plugin chain with its pluggy manager and compiled execute chains."""

    def __init__(self, classes: Sequence[type[Plugin]]) -> None:
        self.plugins: tuple[Plugin, ...] = tuple(cls() for cls in classes)
        self.codes: tuple[str, ...] = tuple(p.code for p in self.plugins)
        self.requires_dialect = any(p.requires_dialect for p in self.plugins)
        pm = _ChainManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        pm.register(_Terminal(), name="sturdydb:terminal")
        for plugin in reversed(self.plugins):  # innermost first: pluggy calls last-registered first
            pm.register(plugin, name=plugin.code)
        self.pm = pm
        self.hook = pm.hook
        self._connect_direct = len(pm.hook.sturdydb_connect.get_hookimpls()) == 1
        both = ({impl.plugin for impl in pm.hook.sturdydb_execute.get_hookimpls()}
                & {impl.plugin for impl in pm.hook.sturdydb_execute_around.get_hookimpls()})
        if both:
            names = ", ".join(sorted(repr(getattr(p, "code", p)) for p in both))
            raise ConfigurationError(
                f"plugin {names} implements both sturdydb_execute and sturdydb_execute_around: the "
                "two are forms of the same pipeline, keep one"
            )
        #: Whether a plugin here implements a topology broadcast: such a pipeline subscribes
        #: to the cluster of every connection it opens (see :mod:`sturdydb._topology`).
        self.receives_topology = bool(
            pm.hook.sturdydb_host_list_changed.get_hookimpls()
            or pm.hook.sturdydb_host_state_changed.get_hookimpls()
            or pm.hook.sturdydb_host_suspected.get_hookimpls()
        )
        #: Whether a plugin here listens to credential reports (else reporting is skipped).
        self.receives_credentials = bool(pm.hook.sturdydb_credentials_obtained.get_hookimpls())
        self._chains: dict[tuple[str, bool], ChainFn | None] = {}
        self._async_chains: dict[tuple[str, bool], AsyncChainFn | None] = {}
        self._async_refused: list[str] | None = None
        self._lock = threading.Lock()

    def chain(self, method: str, network_bound: bool) -> ChainFn | None:
        """The callable that runs ``method`` through its wrappers, or ``None`` when none wraps it."""
        key = (method, network_bound)
        try:
            return self._chains[key]
        except KeyError:
            pass
        with self._lock:
            built = self._build_chain(method, network_bound)
            self._chains[key] = built
        return built

    def _build_chain(self, method: str, network_bound: bool) -> ChainFn | None:
        wrappers = {impl.plugin: impl for impl in self.hook.sturdydb_execute.get_hookimpls()}
        arounds = {impl.plugin: impl.function for impl in self.hook.sturdydb_execute_around.get_hookimpls()}
        chained = [p for p in self.plugins  # call order: outermost first
                   if (p in wrappers or p in arounds) and p.wraps_method(method, network_bound=network_bound)]
        if not chained:
            return None
        inner_end = len(chained)  # chained[:inner_end] is compiled; the rest runs through pluggy
        run: ChainFn | None = None
        if not all(p in arounds or wrappers[p].wrapper for p in chained):
            # Old-style hookwrappers or plain implementations: pluggy runs the chain exactly
            # from the first of them inwards; a fast form can only be outside that part.
            inner_end = next(i for i, p in enumerate(chained) if p not in arounds and not wrappers[p].wrapper)
            misplaced = [p.code for p in chained[inner_end:] if p in arounds]
            if misplaced:
                raise ConfigurationError(
                    f"plugin {', '.join(map(repr, misplaced))} (sturdydb_execute_around) is ordered inside a "
                    f"plugin with a plain or old-style sturdydb_execute for {method}: the core cannot run "
                    "it there. Give that plugin a wrapper=True implementation, or order the fast form outside it"
                )
            wanted = set(chained[inner_end:])
            caller = self.pm.subset_hook_caller(
                "sturdydb_execute", remove_plugins=[p for p in self.plugins if p not in wanted])
            run = lambda call: caller(call=call)  # noqa: E731
        i = inner_end - 1
        while i >= 0:  # build from the inside out; ``run is None`` stands for the driver call
            plugin = chained[i]
            if plugin in arounds:
                run = _around(arounds[plugin], _call_driver if run is None else run)
            elif run is not None:
                run = _wrap(wrappers[plugin].function, run)  # type: ignore[arg-type]
            elif i > 0 and chained[i - 1] not in arounds:
                # The two innermost are generator wrappers: one compiled frame for both.
                run = _wrap_pair_innermost(wrappers[chained[i - 1]].function,  # type: ignore[arg-type]
                                           wrappers[plugin].function)  # type: ignore[arg-type]
                i -= 1
            else:
                run = _wrap_innermost(wrappers[plugin].function)  # type: ignore[arg-type]
            i -= 1
        assert run is not None
        return run

    # -- async connections --------------------------------------------------------------
    def check_async(self) -> None:
        """Refuse this chain for ``connect_async`` when a plugin cannot run on the event loop."""
        refused = self._async_refused
        if refused is None:
            sync_impls = {impl.plugin: impl for impl in self.hook.sturdydb_execute.get_hookimpls()}
            arounds = {impl.plugin for impl in self.hook.sturdydb_execute_around.get_hookimpls()}
            async_impls = {impl.plugin for impl in self.hook.sturdydb_execute_async.get_hookimpls()}
            refused = [
                p.code for p in self.plugins
                if (p in sync_impls or p in arounds) and p not in async_impls
                and not (p.async_safe_execute and p in sync_impls and sync_impls[p].wrapper)
            ]
            self._async_refused = refused
        if refused:
            names = ", ".join(repr(code) for code in refused)
            raise ConfigurationError(
                f"plugin {names} cannot run on async connections: its sync execute hook may "
                "block the event loop and it has no sturdydb_execute_async. Leave it out of "
                "'plugins' for connect_async (or use sturdydb.connect); a plugin author adds "
                "sturdydb_execute_async, or sets async_safe_execute = True if its sturdydb_execute "
                "wrapper only does non-blocking bookkeeping"
            )

    def async_chain(self, method: str, network_bound: bool) -> AsyncChainFn | None:
        """The coroutine function that runs ``method`` through its wrappers, or ``None``."""
        key = (method, network_bound)
        try:
            return self._async_chains[key]
        except KeyError:
            pass
        with self._lock:
            built = self._build_async_chain(method, network_bound)
            self._async_chains[key] = built
        return built

    def _build_async_chain(self, method: str, network_bound: bool) -> AsyncChainFn | None:
        sync_impls = {impl.plugin: impl for impl in self.hook.sturdydb_execute.get_hookimpls()}
        async_impls = {impl.plugin: impl for impl in self.hook.sturdydb_execute_async.get_hookimpls()}
        steps: list[tuple[bool, Callable[..., Any]]] = []  # call order: outermost first
        for plugin in self.plugins:
            if not plugin.wraps_method(method, network_bound=network_bound):
                continue
            if plugin in async_impls:
                steps.append((True, async_impls[plugin].function))
            elif plugin in sync_impls:
                steps.append((False, sync_impls[plugin].function))  # check_async vetted it
        if not steps:
            return None
        run: AsyncChainFn = _async_terminal
        for is_async, func in reversed(steps):  # build from the inside out
            run = _wrap_async(func, run) if is_async else _drive_async(func, run)
        return run

    def connect(self, request: ConnectRequest) -> Any:
        """Run the connect chain for ``request`` and return the driver connection."""
        if self.receives_topology and request.purpose == "connect":
            # Before the chain runs: a plugin inside it may publish the first topology.
            request.context.topology.subscribe(self)
        if self._connect_direct:
            # No plugin wraps connect: skip pluggy's per-call bookkeeping.
            ctx = request.context
            conn = ctx.driver.connect(request.target, request.host, request.driver_kwargs, request.props)
            if self.plugins:  # someone may abort it (socket_timeout, monitoring): see _Terminal
                ctx.driver.remember_socket(conn)
            return conn
        return self.hook.sturdydb_connect(request=request)

    def connect_without(self, plugin: Plugin, request: ConnectRequest) -> Any:
        """Run the connect chain with ``plugin`` left out (a plugin re-entering connect)."""
        caller = self.pm.subset_hook_caller("sturdydb_connect", remove_plugins=[plugin])
        return caller(request=request)

    def connect_below(self, plugin: Plugin, request: ConnectRequest) -> Any:
        """Run only the part of the connect chain inside ``plugin`` (and the driver) again.

        For a wrapper that must retry its own inner step, such as an auth plugin whose
        cached credential was refused: the outer plugins (failover, monitoring) see one
        connect, not two. Rare path: the subset caller is built per call.
        """
        index = self.plugins.index(plugin)
        caller = self.pm.subset_hook_caller(
            "sturdydb_connect", remove_plugins=list(self.plugins[: index + 1])
        )
        return caller(request=request)

    def get(self, code: str) -> Plugin | None:
        for plugin in self.plugins:
            if plugin.code == code:
                return plugin
        return None

    def describe(self) -> list[dict[str, Any]]:
        return [{"code": p.code, "weight": p.weight, "class": type(p).__qualname__} for p in self.plugins]

    def release_resources(self) -> None:
        for plugin in self.plugins:
            try:
                plugin.release_resources()
            except Exception:  # release must go on for the others
                log.exception("plugin %s failed to release its resources", plugin.code)


_pipelines: dict[tuple[type[Plugin], ...], Pipeline] = {}
_pipelines_lock = threading.Lock()


def get_pipeline(classes: Sequence[type[Plugin]]) -> Pipeline:
    """The cached :class:`Pipeline` for this ordered plugin set."""
    key = tuple(classes)
    found = _pipelines.get(key)
    if found is None:
        with _pipelines_lock:
            found = _pipelines.get(key)
            if found is None:
                found = Pipeline(key)
                _pipelines[key] = found
    return found


def all_pipelines() -> list[Pipeline]:
    with _pipelines_lock:
        return list(_pipelines.values())


def clear_pipelines() -> None:
    from sturdydb import _connection as connection  # local: connection imports this module

    with _pipelines_lock:
        pipelines = list(_pipelines.values())
        _pipelines.clear()
        connection._plans.clear()
    for p in pipelines:
        p.release_resources()


def select_plugins(cat: PluginCatalog, props: Properties) -> list[type[Plugin]]:
    """The ordered plugin classes for ``props`` (``plugins``, weights, ``enabled``)."""
    spec = props.values.get("plugins")
    if spec is None:
        # The default chain: the installed plugins that declare themselves part of it (the
        # core names none), in weight order.
        cat.complete()
        codes = [e.code for e in sorted(cat.entries.values(), key=lambda e: (e.weight, e.code))
                 if e.in_default_chain]
    else:
        if not isinstance(spec, str):
            raise ConfigurationError(
                f"property 'plugins' expects a comma-separated string of plugin codes, got {spec!r}"
            )
        codes = [c.strip() for c in spec.split(",") if c.strip()]
    classes: list[type[Plugin]] = []
    seen: set[type[Plugin]] = set()
    for code in codes:
        cls = cat.resolve(code).cls
        if cls in seen:
            continue  # "failover,failover_v2" names one plugin twice
        seen.add(cls)
        classes.append(cls)
    if props.get("auto_sort_wrapper_plugin_order", True):
        order = {cls: i for i, cls in enumerate(classes)}
        classes.sort(key=lambda cls: (cls.weight, cls.code, order[cls]))
    from sturdydb._builtin import SocketTimeoutPlugin  # local: builtin imports hookspecs users

    if SocketTimeoutPlugin.enabled(props):
        classes.append(SocketTimeoutPlugin)
    return [cls for cls in classes if cls.enabled(props)]
