"""Error injection rules and the ``dev`` plugin that applies them.

A :class:`Rule` says which connects or calls it matches (a DB-API method such as
``"Cursor.execute"`` or ``"*"``; a connect purpose; optionally one connection), when it fires
(skip the first ``after`` matches, then every ``every``-th match, at most ``times`` times) and
what it raises: an exception instance, an exception class (instantiated with a message that
says it was injected), or a callable that receives the :class:`~sturdydb.ConnectRequest` or
:class:`~sturdydb.Call` and returns the exception (to build a driver-flavoured error with
``call.context.error(...)``).

The plugin is innermost but for the core's ``socket_timeout`` (weight 90 000), so an injected
error looks to every other plugin exactly like one the driver raised: an injected network error
makes failover fail over, an injected ``FailoverSuccessError`` passes through to the
application. A rule fires *instead of* the driver call: the driver never sees that call.
Rules are process-wide state, cleared by :func:`clear` and ``sturdydb.reset_process_state()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import Plugin, hookimpl
from sturdydb.plugin_api import register_process_state
from sturdydb_dev._info import DEV

if TYPE_CHECKING:
    from types import TracebackType

    from sturdydb import Call, Connection, ConnectionContext, ConnectRequest

__all__ = [
    "DevPlugin",
    "Rule",
    "clear",
    "raise_on_call",
    "raise_on_connect",
    "raise_on_next_call",
    "raise_on_next_connect",
    "rules",
]

#: What a rule raises: an exception, an exception class, or a factory given the request/call.
ErrorSpec = BaseException | type[BaseException] | Callable[[Any], BaseException]

CONNECT = "connect"


class Rule:
    """One armed injection. Use it as a context manager to disarm it at the end of a block."""

    def __init__(self, kind: str, error: ErrorSpec, *, method: str = "*", purpose: str | None = None,
                 after: int = 0, every: int = 1, times: int | None = 1,
                 connection: Connection | None = None) -> None:
        if after < 0 or every < 1 or (times is not None and times < 1):
            raise ValueError(f"a rule needs after >= 0, every >= 1 and times >= 1 or None; "
                             f"got after={after}, every={every}, times={times}")
        if not (isinstance(error, BaseException) or callable(error)):
            raise TypeError(f"error must be an exception, an exception class or a callable, not {error!r}")
        self.kind = kind
        self.error = error
        self.method = method
        self.purpose = purpose
        self.after = after
        self.every = every
        self.times = times
        self._context: ConnectionContext | None = connection.context if connection is not None else None
        #: How many connects or calls matched so far, and how many of them raised.
        self.matched = 0
        self.fired = 0
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def _due(self, context: ConnectionContext) -> bool:
        """Count one match; whether this one raises."""
        if self._context is not None and context is not self._context:
            return False
        with self._lock:
            if self.exhausted:
                return False
            self.matched += 1
            position = self.matched - self.after
            if position <= 0 or (position - 1) % self.every:
                return False
            self.fired += 1
            return True

    def _build(self, subject: Any) -> BaseException:
        error = self.error
        if isinstance(error, BaseException):
            return error
        if isinstance(error, type):  # an exception class (checked when the rule was armed)
            where = f"connect to {subject.host.url}" if self.kind == CONNECT else subject.method
            injected: BaseException = error(f"error injected by sturdydb-dev into {where}")
            return injected
        built = error(subject)
        if not isinstance(built, BaseException):
            raise TypeError(f"the error factory of {self!r} returned {built!r}, not an exception")
        return built

    def cancel(self) -> None:
        """Disarm this rule (idempotent)."""
        with _lock:
            if self in _rules:
                _rules.remove(self)
            _publish()

    def __enter__(self) -> Rule:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cancel()

    def __repr__(self) -> str:
        target = f"connect purpose={self.purpose or '*'}" if self.kind == CONNECT else f"call {self.method}"
        return (f"<Rule {target} after={self.after} every={self.every} times={self.times} "
                f"fired={self.fired}>")


_lock = threading.Lock()
_rules: list[Rule] = []
#: Snapshots read without the lock on every connect and call (empty: nothing to do).
_connect_rules: tuple[Rule, ...] = ()
_call_rules: tuple[Rule, ...] = ()


def _publish() -> None:
    global _connect_rules, _call_rules
    _connect_rules = tuple(r for r in _rules if r.kind == CONNECT)
    _call_rules = tuple(r for r in _rules if r.kind != CONNECT)


def _arm(rule: Rule) -> Rule:
    with _lock:
        _rules.append(rule)
        _publish()
    return rule


def raise_on_connect(error: ErrorSpec, *, purpose: str | None = None, after: int = 0, every: int = 1,
                     times: int | None = 1, connection: Connection | None = None) -> Rule:
    """Make connects raise ``error``: skip ``after``, then every ``every``-th, ``times`` times.

    ``purpose`` limits it to ``"connect"`` (the application's), ``"reconnect"`` (failover's)
    or ``"auxiliary"`` (monitoring's) connects; ``connection`` to the connects of one
    connection (its failover reconnects). ``times=None`` never stops.
    """
    return _arm(Rule(CONNECT, error, purpose=purpose, after=after, every=every, times=times,
                     connection=connection))


def raise_on_call(error: ErrorSpec, method: str = "*", *, after: int = 0, every: int = 1,
                  times: int | None = 1, connection: Connection | None = None) -> Rule:
    """Make calls of ``method`` (``"Cursor.execute"``, ``"Connection.commit"``, ``"*"``) raise ``error``.

    The schedule is as in :func:`raise_on_connect`; the driver does not see a call that raises.
    """
    return _arm(Rule("call", error, method=method, after=after, every=every, times=times,
                     connection=connection))


def raise_on_next_connect(error: ErrorSpec, *, purpose: str | None = None) -> Rule:
    """The next connect through a chain with ``dev`` raises ``error`` (once)."""
    return raise_on_connect(error, purpose=purpose)


def raise_on_next_call(error: ErrorSpec, method: str = "*") -> Rule:
    """The next call of ``method`` through a chain with ``dev`` raises ``error`` (once)."""
    return raise_on_call(error, method)


def rules() -> list[Rule]:
    """The armed rules (exhausted ones included until :func:`clear`)."""
    with _lock:
        return list(_rules)


def clear() -> None:
    """Disarm every rule."""
    with _lock:
        _rules.clear()
        _publish()


register_process_state("sturdydb_dev.rules", clear)


class DevPlugin(Plugin):
    """Raises the errors armed with :func:`raise_on_connect` / :func:`raise_on_call` (code ``dev``)."""

    # From the published PluginInfo (sturdydb_dev._info), so the two cannot disagree.
    code: ClassVar[str] = DEV.code
    weight: ClassVar[int] = DEV.weight
    #: Raising an armed error is bookkeeping: async connections drive the same wrapper.
    async_safe_execute: ClassVar[bool] = True

    def wraps_method(self, method: str, *, network_bound: bool) -> bool:
        return True  # any method may be the target of a rule

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        for rule in _connect_rules:
            if (rule.purpose is None or rule.purpose == request.purpose) and rule._due(request.context):
                raise rule._build(request)
        return (yield)

    @hookimpl(wrapper=True)
    def sturdydb_execute(self, call: Call) -> Generator[None, Any, Any]:
        for rule in _call_rules:
            if (rule.method == "*" or rule.method == call.method) and rule._due(call.context):
                raise rule._build(call)
        return (yield)
