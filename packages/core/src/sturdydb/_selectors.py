"""Host selectors: how one host is picked among candidates (``reader_host_selector_strategy``).

- ``random``: uniform among the candidates.
- ``round_robin``: a per-candidate-set cycle over the hosts sorted by name, each host taking
  ``round_robin_host_weight_pairs`` consecutive turns (``round_robin_default_weight`` when not
  listed, also when no pairs are configured), as in the reference wrapper.
- ``weighted_random``: random in proportion to ``weighted_random_host_weight_pairs``
  (``weighted_random_default_weight`` when not listed); with neither pairs nor a default
  weight configured, in proportion to the topology's weights (``HostInfo.weight``).
- ``highest_weight``: the host with the largest of those same weights; ties go to the larger
  topology weight, then to the host name, so the pick is stable.
- ``least_connections``: the fewest connections this process has open to the host, counted
  by :func:`open_connections` over the tracked connections.
- ``fastest_response``: the host with the lowest measured response time
  (:mod:`sturdydb._response_time`: one shared prober per host), random until measured.

:func:`select_reader` adds what the reference lacks: readers whose replica lag (the topology
query's lag column, ``HostInfo.replica_lag_ms``) exceeds ``max_replica_lag_ms`` are skipped,
and the writer serves reads when no reader qualifies. It also honours a connection's host
restriction (``ConnectionContext.allowed_hosts``, set by the ``custom_endpoint`` plugin).

Weight pairs are ``host:weight,...``; a host is named by its host name or its instance id.
Malformed pairs are refused when the property is read (:func:`check_weight_pairs`).
"""

from __future__ import annotations

import functools
import random
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sturdydb._errors import ConfigurationError
from sturdydb._hosts import HostAvailability, HostInfo, HostRole

__all__ = [
    "STRATEGIES",
    "check_weight_pairs",
    "open_connections",
    "parse_weight_pairs",
    "qualifying_readers",
    "select_host",
    "select_reader",
    "track",
    "untrack",
]

#: Every open sturdydb connection's context (weakly): ``least_connections`` counts them per
#: host when it picks, so the connect/close path only adds to and discards from a set, and a
#: connection that failed over is counted on its new host without any bookkeeping.
_open: weakref.WeakSet[Any] = weakref.WeakSet()
_rr_lock = threading.Lock()
#: Sorted candidate urls -> [index of the current host, turns it has had].
_round_robin: dict[tuple[str, ...], list[int]] = {}
#: Seeded by tests (``random.Random(seed)``) to make weighted picks reproducible.
rng: random.Random = random.Random()


def track(context: Any) -> None:
    """Count ``context`` (a ``ConnectionContext``) as open until :func:`untrack`."""
    _open.add(context)


def untrack(context: Any) -> None:
    _open.discard(context)


def open_connections() -> Counter[str]:
    """``host:port`` -> how many sturdydb connections of this process are open to it."""
    counts: Counter[str] = Counter()
    for context in list(_open):
        if not context.closed:
            counts[context.host.url] += 1
    return counts


# -- weights ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def parse_weight_pairs(text: str, name: str = "weight pairs") -> Mapping[str, int]:
    """``"host:weight,..."`` as ``{host (lower case): weight}``; a clear error when malformed."""
    pairs: dict[str, int] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        host, sep, weight = item.rpartition(":")
        host = host.strip()
        if not sep or not host:
            raise ConfigurationError(
                f"property {name!r}: {item!r} is not host:weight; write for example "
                f"'instance-1:3,instance-2:1' (a host name or instance id, a colon, a whole number)"
            )
        try:
            value = int(weight.strip())
        except ValueError:
            raise ConfigurationError(
                f"property {name!r}: the weight of {host!r} must be a whole number, got {weight.strip()!r}"
            ) from None
        if value < 1:
            raise ConfigurationError(
                f"property {name!r}: the weight of {host!r} must be at least 1, got {value}; "
                "leave a host out of the readers with a custom endpoint instead"
            )
        if host.lower() in pairs:
            raise ConfigurationError(f"property {name!r} names {host!r} twice; give each host one weight")
        pairs[host.lower()] = value
    return pairs


def check_weight_pairs(name: str) -> Callable[[str], str]:
    """A property ``normalize`` function that refuses malformed pairs when the property is read."""

    def check(value: str) -> str:
        parse_weight_pairs(value, name)
        return value

    return check


def _weight_of(host: HostInfo, pairs: Mapping[str, int], default: int) -> int:
    found = pairs.get(host.host.lower())
    if found is None and host.host_id is not None:
        found = pairs.get(host.host_id.lower())
    return default if found is None else found


def _weights(hosts: Sequence[HostInfo], props: Any, prefix: str, *, topology_default: bool) -> list[int]:
    """Each host's weight from ``<prefix>_host_weight_pairs`` (``<prefix>_default_weight`` if unlisted).

    With no pairs configured every host weighs ``<prefix>_default_weight``, as in the
    reference wrapper (so ``round_robin_default_weight=3`` alone gives each host three
    consecutive turns); ``topology_default`` strategies use the topology's weights
    (``HostInfo.weight``, equal for every Aurora instance) instead while that default is unset.
    """
    if props is None:
        return [max(1, h.weight) if topology_default else 1 for h in hosts]
    name, default_name = f"{prefix}_host_weight_pairs", f"{prefix}_default_weight"
    default = int(props.get(default_name) or 1)
    text = str(props.get(name) or "")
    if text.strip():
        pairs = parse_weight_pairs(text, name)
        return [_weight_of(h, pairs, default) for h in hosts]
    if topology_default and not props.is_set(default_name):
        return [max(1, h.weight) for h in hosts]
    return [default] * len(hosts)


# -- strategies -------------------------------------------------------------------------
def _random(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    return rng.choice(hosts)


def _round_robin_pick(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    ordered = sorted(hosts, key=lambda h: h.url)
    weights = _weights(ordered, props, "round_robin", topology_default=False)
    key = tuple(h.url for h in ordered)
    with _rr_lock:
        state = _round_robin.get(key)
        if state is None:
            state = _round_robin[key] = [0, 0]
        index = state[0] % len(ordered)
        state[1] += 1
        if state[1] >= weights[index]:  # this host had its turns: the next one is up
            state[0], state[1] = (index + 1) % len(ordered), 0
        else:
            state[0] = index
        return ordered[index]


def _weighted_random(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    return rng.choices(hosts, weights=_weights(hosts, props, "weighted_random", topology_default=True), k=1)[0]


def _highest_weight(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    weights = _weights(hosts, props, "weighted_random", topology_default=True)
    best = max(range(len(hosts)), key=lambda i: (weights[i], hosts[i].weight, hosts[i].url))
    return hosts[best]


def _least_connections(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    counts = open_connections()
    return min(hosts, key=lambda h: (counts.get(h.url, 0), rng.random()))


def _fastest_response(hosts: list[HostInfo], props: Any, context: Any) -> HostInfo:
    from sturdydb._response_time import fastest  # its probers are needed only by this strategy

    return fastest(hosts, props, context) or rng.choice(hosts)


Strategy = Callable[[list[HostInfo], Any, Any], HostInfo]

STRATEGIES: dict[str, Strategy] = {
    "random": _random,
    "round_robin": _round_robin_pick,
    "weighted_random": _weighted_random,
    "highest_weight": _highest_weight,
    "least_connections": _least_connections,
    "fastest_response": _fastest_response,
}


def _usable(hosts: Sequence[HostInfo]) -> list[HostInfo]:
    up = [h for h in hosts if h.availability is HostAvailability.AVAILABLE]
    return up or list(hosts)


def select_host(hosts: Sequence[HostInfo], strategy: str, props: Any = None, *, context: Any = None) -> HostInfo:
    """Pick one of ``hosts`` with ``strategy``; available hosts are preferred.

    ``props`` (the connection's :class:`~sturdydb._properties.Properties`) supplies the weight
    pairs and ``response_measurement_interval_ms``; without it every weight is 1.
    ``context`` (a ``ConnectionContext``) lets ``fastest_response`` start its probers, which
    open their connections through that connection's chain; without it only measurements
    already made count.
    """
    if not hosts:
        raise ValueError("select_host() needs at least one host")
    try:
        pick = STRATEGIES[strategy]
    except KeyError:
        raise ConfigurationError(
            f"unknown host selector strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        ) from None
    return pick(_usable(hosts), props, context)


def qualifying_readers(hosts: Sequence[HostInfo], props: Any = None, context: Any = None) -> list[HostInfo]:
    """The available readers of ``hosts`` within ``max_replica_lag_ms`` and the context's restriction."""
    allowed = getattr(context, "allowed_hosts", None)
    readers = [h for h in hosts if h.role is HostRole.READER
               and h.availability is HostAvailability.AVAILABLE
               and (allowed is None or allowed(h))]
    limit = props.get("max_replica_lag_ms") if props is not None else None
    if limit is not None:
        readers = [h for h in readers if h.replica_lag_ms is None or h.replica_lag_ms <= float(limit)]
    return readers


def select_reader(
    hosts: Sequence[HostInfo], props: Any = None, *, strategy: str | None = None, context: Any = None
) -> HostInfo | None:
    """A reader of ``hosts`` (a topology) by ``strategy``, or the writer when none qualifies.

    ``strategy`` defaults to the connection's ``reader_host_selector_strategy``. Readers that
    are unavailable, lag more than ``max_replica_lag_ms`` or are outside the context's host
    restriction do not qualify. ``None`` when there is neither a qualifying reader nor an
    allowed writer.
    """
    readers = qualifying_readers(hosts, props, context)
    if readers:
        chosen = strategy or (str(props.get("reader_host_selector_strategy")) if props is not None else "random")
        return select_host(readers, chosen, props, context=context)
    allowed = getattr(context, "allowed_hosts", None)
    for host in hosts:
        if host.role is HostRole.WRITER and (allowed is None or allowed(host)):
            return host
    return None
