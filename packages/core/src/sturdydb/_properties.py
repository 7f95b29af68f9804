"""Connection properties: declaration, validation and typed access.

Every property sturdydb or a plugin understands is declared once as a :class:`PropertySpec`
(name, type, default, unit, doc). The :class:`PropertyRegistry` collects the core's specs and
those contributed by installed plugins, and is the single source for validation, ``doctor``
and the generated configuration docs. :class:`Properties` is one connection's view: the
user's values coerced to their declared types, where each came from, and the subset that is
handed to the driver (everything sturdydb owns is removed first).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sturdydb._errors import ConfigurationError
from sturdydb._record import value_methods
from sturdydb._selectors import check_weight_pairs

__all__ = [
    "CORE_PROPERTIES",
    "MAX_DURATION_S",
    "REFERENCE_ONLY_CORE_PROPERTIES",
    "Properties",
    "PropertyRegistry",
    "PropertySpec",
    "coerce_bool",
    "mask_secrets",
    "normalize_choice",
]

log = logging.getLogger("sturdydb.properties")

_T = TypeVar("_T")

# Names whose value is always masked in logs, reprs and diagnostics, whoever owns them.
_ALWAYS_SECRET = frozenset({"password", "passwd", "idp_password", "sslpassword", "token"})
_TRUE = frozenset({"true", "1", "yes", "on", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "off", "f", "n"})
#: The largest value a duration property accepts unless it declares its own ``maximum``: one
#: day. A longer timeout or interval is a typo (milliseconds given as seconds...) and, passed
#: on, overflows timers and libpq's options.
MAX_DURATION_S = 86400
_DURATION_UNITS = {"s": 1, "ms": 1000}


def looks_secret(name: str) -> bool:
    """Whether a property name denotes a secret, whoever declares it."""
    lowered = name.lower()
    return lowered in _ALWAYS_SECRET or lowered.endswith(("password", "secret", "token", "passwd"))


def shown(name: str, value: object, secret: bool = False) -> str:
    """``value`` as an error message may show it: masked for secrets.

    Only plain scalars are shown; for any other object just its type, since its repr can
    hold anything (a credentials object, a whole connection string).
    """
    if secret or looks_secret(name):
        return "*** (a secret, not shown)"
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    return f"a {type(value).__name__}"


def coerce_bool(name: str, value: object) -> bool:
    """Read a boolean the way users write them: ``True``, ``"true"``, ``"1"``, ``"off"``..."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise ConfigurationError(
        f"property {name!r} expects a boolean (true/false, 1/0, yes/no, on/off), got {shown(name, value)}"
    )


@value_methods  # repr, == and hash without compiling them (import sturdydb stays cheap)
@dataclass(frozen=True, repr=False, eq=False)
class PropertySpec:
    """The declaration of one property.

    ``owner`` is the plugin code that owns it (``"core"`` for the core). A ``prefix`` spec
    declares a family such as ``monitoring-``: every key starting with it belongs to the
    owner and is never passed to the application's driver connection. ``passthrough``
    properties (``user``, ``password``, ``database``...) are read by sturdydb *and* handed to
    the driver. ``normalize`` maps accepted spellings onto the canonical value (for example
    ``strict-writer`` onto ``strict_writer``) before ``choices`` are checked.

    ``no_effect`` marks a name that the AWS Advanced Python Wrapper understands but sturdydb
    does not implement: its value is accepted unchecked, a warning says why it has no effect
    (the text of ``no_effect``: what to do instead), and it is never passed to the driver,
    which would refuse an unknown option. A real declaration of the same name (a plugin that
    implements it) replaces a ``no_effect`` one.
    """

    name: str
    type: type
    default: Any
    doc: str
    owner: str = "core"
    unit: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False
    passthrough: bool = False
    prefix: bool = False
    normalize: Callable[[str], str] | None = field(default=None, compare=False)
    no_effect: str | None = None

    def coerce(self, value: object) -> Any:
        """``value`` converted to this property's type, or a ``ConfigurationError`` saying why not."""
        if value is None:
            return None
        name = self.name
        result: Any
        if self.type is bool:
            result = coerce_bool(name, value)
        elif self.type in (int, float):
            if isinstance(value, bool):
                raise ConfigurationError(
                    f"property {name!r} expects a number{self._unit_hint()}, got {shown(name, value, self.secret)}"
                )
            try:
                result = self.type(value.strip() if isinstance(value, str) else value)  # type: ignore[call-overload,arg-type]
            except (TypeError, ValueError, OverflowError):  # int() of nan, inf, "1.5", "soon"...
                try:
                    as_float = float(value)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    as_float = None
                if self.type is int and as_float is not None and as_float.is_integer():
                    result = int(as_float)
                elif as_float is not None and not math.isfinite(as_float):
                    result = as_float  # refused just below, with the accepted range
                else:
                    kind = "a whole number" if self.type is int else "a number"
                    raise ConfigurationError(
                        f"property {name!r} expects {kind}{self._unit_hint()}, "
                        f"got {shown(name, value, self.secret)}"
                    ) from None
            low, high = self.bounds()
            if (not math.isfinite(result) or (low is not None and result < low)
                    or (high is not None and result > high)):
                raise ConfigurationError(
                    f"property {name!r} must be {self.range_text()}{self._unit_hint()}, "
                    f"got {shown(name, value, self.secret)}"
                )
        elif self.type is str:
            if not isinstance(value, str):
                raise ConfigurationError(
                    f"property {name!r} expects a string, got {shown(name, value, self.secret)}"
                )
            result = value.strip()
            if self.normalize is not None:
                result = self.normalize(result)
            if self.choices is not None and result not in self.choices:
                import difflib  # only an error needs it: not imported with sturdydb

                close = difflib.get_close_matches(result, self.choices, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(
                    f"property {name!r} accepts {', '.join(map(repr, self.choices))}, "
                    f"got {shown(name, value, self.secret)}{hint}"
                )
        else:
            result = value
        return result

    def bounds(self) -> tuple[float | None, float | None]:
        """The accepted ``(minimum, maximum)`` of a number (``None``: unbounded).

        Durations (unit ``s`` or ``ms``) are never negative and at most one day
        (:data:`MAX_DURATION_S`) unless the spec declares other bounds.
        """
        low, high = self.minimum, self.maximum
        scale = _DURATION_UNITS.get(self.unit or "")
        if scale is not None:
            if low is None:
                low = 0
            if high is None:
                high = MAX_DURATION_S * scale
        return low, high

    def range_text(self) -> str:
        """The accepted range in words, as error messages and the docs show it."""
        low, high = self.bounds()
        parts = [f"at least {_number(low)}" if low is not None else "",
                 f"at most {_number(high)}" if high is not None else ""]
        return "a finite number" + (" " + " and ".join(p for p in parts if p) if any(parts) else "")

    def _unit_hint(self) -> str:
        return f" (in {self.unit})" if self.unit else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def normalize_choice(value: str) -> str:
    """The canonical spelling of a choice value: trimmed, lower case, ``-`` as ``_``."""
    return value.strip().lower().replace("-", "_")


_lower_underscore = normalize_choice  # the old private name, kept for existing callers


SELECTOR_STRATEGIES = ("random", "round_robin", "weighted_random", "highest_weight", "least_connections",
                       "fastest_response")


_weight_pairs = check_weight_pairs  # the parser lives with the selectors that use it

CORE_PROPERTIES: tuple[PropertySpec, ...] = (
    PropertySpec("plugins", str, None,
                 "Comma-separated plugin codes, outermost first unless sorted by weight. "
                 "\"\" means no plugins. Unset means the default chain: the installed plugins "
                 "that declare themselves part of it (with sturdydb-failover and sturdydb-efm "
                 "installed: aurora_connection_tracker,failover,host_monitoring)."),
    PropertySpec("auto_sort_wrapper_plugin_order", bool, True,
                 "Order plugins by their declared weight; false keeps the order given in `plugins`."),
    PropertySpec("profile_name", str, None,
                 "Name of a configuration profile: a preset of plugins and property values. "
                 "Explicit properties override the preset."),
    PropertySpec("wrapper_dialect", str, None,
                 "Database dialect code; unset means detected from the server.",
                 choices=("aurora-pg", "aurora-mysql", "rds-pg", "rds-mysql", "multi-az-pg",
                          "multi-az-mysql", "pg", "mysql", "global-aurora-pg", "global-aurora-mysql"),
                 normalize=lambda v: v.strip().lower().replace("_", "-")),
    PropertySpec("wrapper_driver_dialect", str, None,
                 "Driver dialect; unset means detected from the connect function.",
                 choices=("psycopg", "psycopg2", "mysql-connector-python", "pymysql"),
                 normalize=lambda v: {"mysql": "mysql-connector-python",
                                      "mysql-connector": "mysql-connector-python",
                                      "mysql_connector_python": "mysql-connector-python",
                                      "psycopg3": "psycopg",
                                      "psycopg2-binary": "psycopg2"}.get(v.strip().lower(), v.strip().lower())),
    PropertySpec("auxiliary_query_timeout_sec", float, 5.0,
                 "Timeout for sturdydb's own queries (dialect detection, topology, role checks), "
                 "and how long a host may take to answer the cancel after socket_timeout before "
                 "it is treated as failed.",
                 unit="s", minimum=0),
    PropertySpec("topology_refresh_ms", int, 30000,
                 "How often the cluster topology is refreshed in normal operation.",
                 unit="ms", minimum=0),
    PropertySpec("cluster_id", str, None,
                 "Key of the shared topology and monitors. Unset means derived from the "
                 "cluster endpoint (or the instance host pattern), so two clusters never share "
                 "topology by accident."),
    PropertySpec("cluster_instance_host_pattern", str, None,
                 "Template for instance host names, `?` standing for the instance id "
                 "(for example `?.abc123.us-east-1.rds.amazonaws.com[:port]`). Unset means "
                 "derived from an RDS host name; required for IP addresses and custom domains."),
    PropertySpec("global_cluster_instance_host_patterns", str, None,
                 "Aurora Global Database: the instance host pattern of every region, as "
                 "`region:host-pattern[:port],...` (for example "
                 "`us-east-1:?.abc.us-east-1.rds.amazonaws.com,us-west-2:?.def.us-west-2.rds.amazonaws.com`). "
                 "Required for the global-aurora-pg and global-aurora-mysql dialects, whose topology names each "
                 "instance's region."),
    PropertySpec("connect_timeout", float, None,
                 "Connect timeout passed to the driver's native option.", unit="s", minimum=0),
    PropertySpec("socket_timeout", float, None,
                 "Read/write timeout for network calls, enforced by sturdydb's watchdog: a call "
                 "still running then is cancelled on the server (QueryTimeoutError, connection "
                 "kept, no failover); a host that does not answer the cancel within "
                 "auxiliary_query_timeout_sec is treated as failed. Also sets libpq's "
                 "tcp_user_timeout and, as a later backstop, mysql-connector's read/write timeout.",
                 unit="s", minimum=0),
    PropertySpec("tcp_keepalive", bool, None, "Enable TCP keepalives on the driver's socket."),
    # The maximums are Linux's own limits for these socket options (TCP_KEEPIDLE, TCP_KEEPINTVL,
    # TCP_KEEPCNT): a larger value would fail in setsockopt after connecting.
    PropertySpec("tcp_keepalive_time", int, None, "Idle time before the first keepalive probe.",
                 unit="s", minimum=1, maximum=32767),
    PropertySpec("tcp_keepalive_interval", int, None, "Time between keepalive probes.",
                 unit="s", minimum=1, maximum=32767),
    PropertySpec("tcp_keepalive_probes", int, None,
                 "Unanswered keepalive probes before the connection is dropped.", minimum=1, maximum=127),
    PropertySpec("reader_host_selector_strategy", str, "random",
                 "How a reader is chosen among the topology's readers: random, round_robin, "
                 "weighted_random, highest_weight, least_connections (this process's open "
                 "connections per host) or fastest_response (measured response time).",
                 choices=SELECTOR_STRATEGIES, normalize=_lower_underscore),
    PropertySpec("max_replica_lag_ms", float, None,
                 "Skip readers whose replica lag (the topology's lag column) exceeds this; when "
                 "no reader qualifies, the writer serves the reads. Unset means any lag.",
                 unit="ms", minimum=0),
    PropertySpec("round_robin_host_weight_pairs", str, None,
                 "round_robin weights as `host:weight,...` (host name or instance id): a host "
                 "takes that many consecutive turns.",
                 normalize=_weight_pairs("round_robin_host_weight_pairs")),
    PropertySpec("round_robin_default_weight", int, 1,
                 "round_robin turns of a host not listed in round_robin_host_weight_pairs "
                 "(of every host when there are no pairs).",
                 minimum=1),
    PropertySpec("weighted_random_host_weight_pairs", str, None,
                 "weighted_random and highest_weight weights as `host:weight,...` (host name or "
                 "instance id): a host is picked in proportion to its weight.",
                 normalize=_weight_pairs("weighted_random_host_weight_pairs")),
    PropertySpec("weighted_random_default_weight", int, 1,
                 "weighted_random/highest_weight weight of a host not listed in "
                 "weighted_random_host_weight_pairs (of every host when there are no pairs; "
                 "unset, the topology's weights apply).", minimum=1),
    PropertySpec("response_measurement_interval_ms", int, 30000,
                 "fastest_response: how often each host's response time is measured (5 probes "
                 "per round on one shared connection per host), and how long the fastest "
                 "host stays chosen.", unit="ms", minimum=100),
    PropertySpec("frt-", str, None,
                 "Properties of the fastest_response probe connections only, for example "
                 "`frt-connect_timeout=3` (default 10 s).", prefix=True),
    PropertySpec("transfer_session_state_on_switch", bool, True,
                 "Carry autocommit, read_only, isolation level and current database/schema "
                 "over to a replacement connection."),
    PropertySpec("rollback_on_switch", bool, True,
                 "Roll back an open transaction on the old connection when switching."),
    PropertySpec("user", str, None, "Database user.", passthrough=True),
    PropertySpec("password", str, None, "Database password.", passthrough=True, secret=True),
    PropertySpec("database", str, None,
                 "Database name (mapped to libpq `dbname` for psycopg).", passthrough=True),
    PropertySpec("host", str, None, "Host name, or a comma-separated list of host names.",
                 passthrough=True),
    PropertySpec("port", object, None, "Port (a number), or a comma-separated list of ports.",
                 passthrough=True),
)


def _reference_only(name: str, why: str) -> PropertySpec:
    return PropertySpec(name, object, None, f"Reference-only: no effect in sturdydb. {why}",
                        no_effect=why)


_NO_TELEMETRY = ("sturdydb has no telemetry backend; its `sturdydb.*` loggers report "
                 "connects, failovers and monitoring")
_NO_AVAILABILITY_STRATEGY = ("a host marked unavailable is retried as soon as the topology or "
                             "monitoring sees it again; there is no back-off strategy to set")

#: The AWS Advanced Python Wrapper's core properties (not any plugin's) that sturdydb does not
#: implement: accepted with a warning, never passed to the driver. Plugins declare the
#: reference names of their own area themselves.
REFERENCE_ONLY_CORE_PROPERTIES: tuple[PropertySpec, ...] = (
    _reference_only("enable_telemetry", _NO_TELEMETRY),
    _reference_only("telemetry_traces_backend", _NO_TELEMETRY),
    _reference_only("telemetry_metrics_backend", _NO_TELEMETRY),
    _reference_only("telemetry_submit_toplevel", _NO_TELEMETRY),
    _reference_only("default_host_availability_strategy", _NO_AVAILABILITY_STRATEGY),
    _reference_only("host_availability_strategy_max_retries", _NO_AVAILABILITY_STRATEGY),
    _reference_only("host_availability_strategy_initial_backoff_time", _NO_AVAILABILITY_STRATEGY),
    _reference_only("reset_session_state_on_close",
                    "sturdydb does not reset session state on close (in the reference it only "
                    "gates an internal step); transfer_session_state_on_switch is honoured"),
)


class PropertyRegistry:
    """Every declared property of the core and the installed plugins, by name and prefix.

    The plugin catalog reads installed plugins on demand; while some are unread it sets
    :attr:`on_miss`, which a lookup that finds nothing (or a listing of everything) calls first
    with the name looked up (``None``: everything), so the answer is always the one the whole
    installation gives.
    """

    def __init__(self, specs: Iterable[PropertySpec] = ()) -> None:
        self._by_name: dict[str, PropertySpec] = {}
        self._prefixes: list[PropertySpec] = []
        self.on_miss: Callable[[str | None], None] | None = None
        self.add(specs)

    def add(self, specs: Iterable[PropertySpec]) -> None:
        for spec in specs:
            if spec.prefix:
                same = [i for i, p in enumerate(self._prefixes) if p.name == spec.name]
                if not same:
                    self._prefixes.append(spec)
                elif self._prefixes[same[0]].no_effect is not None and spec.no_effect is None:
                    self._prefixes[same[0]] = spec
                continue
            existing = self._by_name.get(spec.name)
            if existing is not None and existing.no_effect is not None and spec.no_effect is None:
                # A plugin that implements what was only known as the reference's name wins.
                self._by_name[spec.name] = spec
                continue
            if existing is not None and existing != spec and existing.owner != spec.owner:
                # Two plugins may both need e.g. `iam_region`; the first declaration wins and
                # both read the same value, so this is only worth a debug line.
                log.debug("property %s declared by %s and %s", spec.name, existing.owner, spec.owner)
                continue
            self._by_name.setdefault(spec.name, spec)

    def _everything(self) -> None:
        if self.on_miss is not None:
            self.on_miss(None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[PropertySpec]:
        self._everything()
        return iter(sorted(self._by_name.values(), key=lambda s: (s.owner != "core", s.owner, s.name)))

    def get(self, name: str) -> PropertySpec | None:
        found = self._by_name.get(name)
        if found is None and self.on_miss is not None:
            self.on_miss(name)
            found = self._by_name.get(name)
        return found

    @property
    def prefixes(self) -> tuple[PropertySpec, ...]:
        self._everything()
        return tuple(self._prefixes)

    def prefix_of(self, name: str) -> PropertySpec | None:
        for _ in range(2):
            for spec in self._prefixes:
                if name.startswith(spec.name):
                    return spec
            if self.on_miss is None:
                break
            self.on_miss(name)
        return None

    def is_secret(self, name: str) -> bool:
        spec = self.get(name)
        if spec is not None and spec.secret:
            return True
        base = name
        prefix = self.prefix_of(name)
        if prefix is not None:
            base = name[len(prefix.name):]
        return looks_secret(base)

    def nearest(self, name: str, extra: Iterable[str] = ()) -> str | None:
        """The known name closest to ``name`` (for "did you mean" hints)."""
        import difflib  # only an error needs it: not imported with sturdydb

        self._everything()
        candidates = list(self._by_name) + list(extra)
        close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
        return close[0] if close else None


def mask_secrets(values: Mapping[str, Any], registry: PropertyRegistry | None = None) -> dict[str, Any]:
    """A copy of ``values`` with every secret replaced by ``"***"``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        secret = registry.is_secret(key) if registry is not None else looks_secret(key)
        out[key] = "***" if secret and value not in (None, "") else value
    return out


class Properties:
    """One connection's properties: typed values, their sources, and what reaches the driver.

    ``values`` holds the user's values (known ones coerced to their declared type);
    :meth:`get` falls back to the declared default. ``sources`` says where each value came
    from (``profile:<name>``, ``string`` or ``keyword``). The repr masks secrets.
    """

    __slots__ = ("_cache", "registry", "sources", "values")

    def __init__(
        self,
        values: dict[str, Any],
        sources: dict[str, str],
        registry: PropertyRegistry,
    ) -> None:
        self.values = values
        self.sources = sources
        self.registry = registry
        #: Values derived from these properties (driver keywords...); keys are any hashables.
        self._cache: dict[Any, Any] = {}

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``: the user's, else the declared default, else ``default``."""
        value = self.values.get(name)
        if value is not None:
            return value
        spec = self.registry.get(name)
        if spec is not None and spec.default is not None:
            return spec.default
        return default

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def is_set(self, name: str) -> bool:
        """Whether the user (or the profile) gave ``name`` a value."""
        return self.values.get(name) is not None

    def with_prefix(self, prefix: str) -> dict[str, Any]:
        """Keys starting with ``prefix`` (for example ``monitoring-``), with the prefix removed."""
        return {k[len(prefix):]: v for k, v in self.values.items() if k.startswith(prefix)}

    def copy(self, **overrides: Any) -> Properties:
        values = dict(self.values)
        sources = dict(self.sources)
        for key, value in overrides.items():
            spec = self.registry.get(key)
            values[key] = spec.coerce(value) if spec is not None else value
            sources[key] = "sturdydb"
        return Properties(values, sources, self.registry)

    def derived(self, key: Hashable, build: Callable[[], _T]) -> _T:
        """``build()``, computed once per properties object and ``key``, then reused.

        Connections opened with identical arguments share one properties object (the connect
        plan is cached), so a plugin that turns properties into settings at every connect
        can keep the result here: it is computed once per distinct configuration, and a
        connection with other properties gets its own. ``key`` must name everything besides
        the properties that the result depends on (for example the initial host), and prefix
        it with the plugin's code. The result is shared between connections: it must be
        immutable, or never mutated. ``build`` raising caches nothing (the next connect
        raises again).
        """
        cache = self._cache
        try:
            return cache[key]  # type: ignore[no-any-return]
        except KeyError:
            value = cache[key] = build()
            return value

    def driver_kwargs(self) -> dict[str, Any]:
        """The properties the driver receives: everything that sturdydb does not own (a new dict)."""
        cached = self._cache.get("driver_kwargs")
        if cached is None:
            cached = self._cache["driver_kwargs"] = self._driver_kwargs()
        return dict(cached)

    def _driver_kwargs(self) -> dict[str, Any]:
        registry = self.registry
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            spec = registry.get(key)
            if spec is not None:
                if spec.passthrough and value is not None:
                    out[key] = value
                continue
            if registry.prefix_of(key) is not None:
                continue
            out[key] = value
        return out

    def masked(self) -> dict[str, Any]:
        return mask_secrets(self.values, self.registry)

    def __repr__(self) -> str:
        return f"Properties({self.masked()!r})"
