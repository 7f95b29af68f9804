"""Host selectors: how one host is picked among candidates (``reader_host_selector_strategy``).

``random``, ``round_robin`` (per cluster, thread-safe), ``weighted_random`` and
``highest_weight`` use the hosts' weights (``HostInfo.weight``); ``least_connections`` picks
the host with the fewest connections this process has open to it, as counted by
:func:`open_connections` over the tracked connections.
"""

from __future__ import annotations

import itertools
import random
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sturdydb._errors import ConfigurationError
from sturdydb._hosts import HostAvailability, HostInfo

__all__ = ["STRATEGIES", "open_connections", "select_host", "track", "untrack"]

#: Every open sturdydb connection's context (weakly): ``least_connections`` counts them per
#: host when it picks, so the connect/close path only adds to and discards from a set, and a
#: connection that failed over is counted on its new host without any bookkeeping.
_open: weakref.WeakSet[Any] = weakref.WeakSet()
_rr_lock = threading.Lock()
_round_robin: dict[tuple[str, ...], itertools.cycle[int]] = {}


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


def _usable(hosts: Sequence[HostInfo]) -> list[HostInfo]:
    up = [h for h in hosts if h.availability is HostAvailability.AVAILABLE]
    return up or list(hosts)


def _random(hosts: list[HostInfo]) -> HostInfo:
    return random.choice(hosts)


def _round_robin_pick(hosts: list[HostInfo]) -> HostInfo:
    ordered = sorted(hosts, key=lambda h: h.url)
    key = tuple(h.url for h in ordered)
    with _rr_lock:
        cycle = _round_robin.get(key)
        if cycle is None:
            cycle = itertools.cycle(range(len(ordered)))
            _round_robin[key] = cycle
        return ordered[next(cycle)]


def _weighted_random(hosts: list[HostInfo]) -> HostInfo:
    weights = [max(1, h.weight) for h in hosts]
    return random.choices(hosts, weights=weights, k=1)[0]


def _highest_weight(hosts: list[HostInfo]) -> HostInfo:
    return max(hosts, key=lambda h: (h.weight, h.url))


def _least_connections(hosts: list[HostInfo]) -> HostInfo:
    counts = open_connections()
    return min(hosts, key=lambda h: (counts.get(h.url, 0), random.random()))


STRATEGIES = {
    "random": _random,
    "round_robin": _round_robin_pick,
    "weighted_random": _weighted_random,
    "highest_weight": _highest_weight,
    "least_connections": _least_connections,
}


def select_host(hosts: Sequence[HostInfo], strategy: str) -> HostInfo:
    """Pick one of ``hosts`` with ``strategy``; available hosts are preferred."""
    if not hosts:
        raise ValueError("select_host() needs at least one host")
    try:
        pick = STRATEGIES[strategy]
    except KeyError:
        raise ConfigurationError(
            f"unknown host selector strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
        ) from None
    return pick(_usable(hosts))
