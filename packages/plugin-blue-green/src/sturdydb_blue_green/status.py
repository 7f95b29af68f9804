"""What the Blue/Green status metadata says, as pure data: phases, roles, names and routes.

RDS publishes, on every instance of both sides of a deployment, one row per endpoint:
``version, endpoint, port, role, status`` (the SQL is in :data:`STATUS_QUERIES`). This module
turns those rows into a :class:`Phase` and, while the names are still the pre-switchover ones
(until post-processing),
into a :class:`Routes` map: which host names belong to blue (source) and green (target), which
green endpoint corresponds to each blue one (RDS names green ``<blue name>-green-<6 chars>``),
and the address each green endpoint had, so that connections can go to green after the
switchover without waiting for DNS. No I/O here except the injected ``resolve`` function.
"""

from __future__ import annotations

import enum
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sturdydb
from sturdydb import HostInfo

__all__ = [
    "STATUS_QUERIES",
    "Phase",
    "Role",
    "Routes",
    "StatusRow",
    "build_routes",
    "parse_rows",
    "phase_of",
    "resolve_address",
]

#: The reference wrapper's status queries, tried in order per database family; the first that
#: the server knows is remembered. (Its version argument is the reference's, which RDS expects.)
STATUS_QUERIES: dict[str, tuple[str, ...]] = {
    "pg": (
        "SELECT version, endpoint, port, role, status FROM "
        "pg_catalog.get_blue_green_fast_switchover_metadata('aws_advanced_python_wrapper-3.0.0')",
        "SELECT version, endpoint, port, role, status FROM "
        "rds_tools.show_topology('aws_advanced_python_wrapper-3.0.0')",
    ),
    "mysql": ("SELECT version, endpoint, port, role, status FROM mysql.rds_topology",),
}


class Phase(enum.IntEnum):
    """The phases of a deployment, in order (a later phase compares greater)."""

    NOT_CREATED = 0
    CREATED = 1
    PREPARATION = 2
    IN_PROGRESS = 3
    POST = 4
    COMPLETED = 5


_PHASES = {
    "AVAILABLE": Phase.CREATED,
    "SWITCHOVER_INITIATED": Phase.PREPARATION,
    "SWITCHOVER_IN_PROGRESS": Phase.IN_PROGRESS,
    "SWITCHOVER_IN_POST_PROCESSING": Phase.POST,
    "SWITCHOVER_COMPLETED": Phase.COMPLETED,
}


class Role(enum.Enum):
    SOURCE = "BLUE_GREEN_DEPLOYMENT_SOURCE"  # blue
    TARGET = "BLUE_GREEN_DEPLOYMENT_TARGET"  # green


@dataclass(frozen=True)
class StatusRow:
    endpoint: str
    port: int | None
    role: Role
    phase: Phase


def parse_rows(rows: Iterable[Sequence[Any]]) -> list[StatusRow]:
    """Rows of ``version, endpoint, port, role, status``; unknown versions, roles or statuses are skipped."""
    parsed: list[StatusRow] = []
    for version, endpoint, port, role, status in rows:
        if str(version) != "1.0" or not endpoint:
            continue
        try:
            parsed_role = Role(str(role).upper())
        except ValueError:
            continue
        phase = _PHASES.get(str(status).upper())
        if phase is None:
            continue
        parsed.append(StatusRow(str(endpoint).lower(), int(port) if port else None, parsed_role, phase))
    return parsed


def phase_of(rows: Sequence[StatusRow]) -> Phase:
    """The deployment's phase: the latest any endpoint reports (``NOT_CREATED`` without rows)."""
    return max((r.phase for r in rows), default=Phase.NOT_CREATED)


_GREEN_SUFFIX = re.compile(r"-green-[a-z0-9]{6}$")


def _first_label(host: str) -> tuple[str, str]:
    first, _, rest = host.partition(".")
    return first, rest


def blue_name_of(green_host: str) -> str | None:
    """The blue name a green endpoint takes at the switchover, or ``None`` if it is not green-shaped."""
    first, rest = _first_label(green_host)
    stripped = _GREEN_SUFFIX.sub("", first)
    if stripped == first:
        return None
    return f"{stripped}.{rest}"


def is_old_name(host: str) -> bool:
    """Whether ``host`` is a blue endpoint's name after a switchover (``-old1``)."""
    return _first_label(host)[0].endswith("-old1")


def _kind(host: str) -> str:
    if ".cluster-ro-" in host:
        return "reader"
    if ".cluster-custom-" in host:
        return "custom"
    if ".cluster-" in host:
        return "writer"
    return "instance"


Resolver = Callable[[str, "int | None"], "HostInfo | None"]


def resolve_address(host: str, port: int | None) -> HostInfo | None:
    """Where ``host`` leads now: its :func:`sturdydb.map_host` pin, else its first DNS address."""
    pinned = sturdydb.resolve_host(host)
    if pinned is not None:
        return HostInfo(pinned.address, pinned.port or port)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            return HostInfo(str(sockaddr[0]), port)
    return None


@dataclass
class Routes:
    """Names and addresses of a deployment, learned before its switchover."""

    #: host name (lower case) -> the side it belongs to, as the pre-switchover rows say.
    roles: dict[str, Role] = field(default_factory=dict)
    #: blue host name -> the green host name that takes its place.
    counterpart: dict[str, str] = field(default_factory=dict)
    #: green host name -> the address (and port) it had before the switchover.
    addresses: dict[str, HostInfo] = field(default_factory=dict)
    #: one instance of each side to read the status from (addresses, so renames do not move them).
    status_hosts: list[HostInfo] = field(default_factory=list)

    def role_of(self, host: str) -> Role | None:
        return self.roles.get(host.lower())

    def green_for(self, host: str) -> HostInfo | None:
        """The green address that replaces blue ``host`` (or green ``host``'s own), if known."""
        name = host.lower()
        if self.roles.get(name) is Role.SOURCE:
            name = self.counterpart.get(name, "")
        return self.addresses.get(name)


def build_routes(rows: Sequence[StatusRow], resolve: Resolver) -> Routes:
    """The :class:`Routes` of pre-switchover ``rows``; ``resolve`` finds a name's address now."""
    routes = Routes()
    blue: dict[str, StatusRow] = {}
    green: dict[str, StatusRow] = {}
    for row in rows:
        if is_old_name(row.endpoint):
            continue  # a previous switchover's leftovers: not part of this one
        routes.roles[row.endpoint] = row.role
        (blue if row.role is Role.SOURCE else green)[row.endpoint] = row
    green_writer = next((h for h in green if _kind(h) == "writer"), None)
    green_reader = next((h for h in green if _kind(h) == "reader"), green_writer)
    for host in green:
        base = blue_name_of(host)
        if base is not None and base in blue:
            routes.counterpart[base] = host
    for host in blue:
        if host not in routes.counterpart:
            # No green name of the same shape: the endpoint of the same kind takes its place.
            fallback = green_reader if _kind(host) == "reader" else green_writer
            if fallback is not None:
                routes.counterpart[host] = fallback
    for host, row in green.items():
        found = resolve(host, row.port)
        if found is not None:
            routes.addresses[host] = found
    for side in (blue, green):
        instance = next((row for host, row in side.items() if _kind(host) == "instance"), None)
        chosen = instance or next(iter(side.values()), None)
        if chosen is not None:
            found = resolve(chosen.endpoint, chosen.port)
            routes.status_hosts.append(found or HostInfo(chosen.endpoint, chosen.port))
    return routes
