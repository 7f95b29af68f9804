"""Explicit host name -> network address pinning.

Aurora hands out DNS names (``instance-1.abc.us-east-1.rds.amazonaws.com``) whose records lag
behind cluster events. sturdydb lets a process pin a host name to an address (and optionally a
port): the driver dialects then connect to the address while keeping the name for identity
(libpq gets ``host=<name> hostaddr=<address>``, mysql-connector gets the address). This both
bypasses stale DNS and lets ``sturdydb-testing`` give Aurora-shaped names to loopback
instances without any name ever being resolved outside the machine.

The map is process-wide and thread-safe; reads on the connect path take no lock (a dict read
is atomic in CPython and entries are replaced, never mutated).
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass

from sturdydb._record import value_methods

__all__ = ["PinnedAddress", "map_host", "mapped_hosts", "resolve_host", "unmap_host"]


@value_methods  # repr, == and hash without compiling them (import sturdydb stays cheap)
@dataclass(frozen=True, slots=True, repr=False, eq=False)
class PinnedAddress:
    """Where a pinned host name really lives."""

    address: str
    port: int | None = None


_pins: dict[str, PinnedAddress] = {}
_lock = threading.Lock()


def _key(host: str) -> str:
    # DNS names are case-insensitive; a trailing dot is the same name.
    return host.lower().rstrip(".")


def map_host(host: str, address: str, port: int | None = None) -> None:
    """Pin ``host`` to the IP ``address`` (and ``port`` when given) for this process.

    Raises ``ValueError`` when ``address`` is not an IP address literal: pinning a name to
    another name would need DNS, which is what this map exists to avoid.
    """
    if not host or not isinstance(host, str):
        raise ValueError("map_host() needs a non-empty host name")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(
            f"map_host({host!r}, {address!r}): the address must be an IP address literal "
            "such as '127.0.0.2'"
        ) from None
    if port is not None and not (0 < port < 65536):
        raise ValueError(f"map_host({host!r}, ...): port {port} is outside 1..65535")
    with _lock:
        _pins[_key(host)] = PinnedAddress(address, port)


def unmap_host(host: str) -> None:
    """Forget the pin for ``host`` (no error when there is none)."""
    with _lock:
        _pins.pop(_key(host), None)


def resolve_host(host: str) -> PinnedAddress | None:
    """The pinned address of ``host``, or ``None`` when the name is not pinned."""
    if not _pins:
        return None
    return _pins.get(_key(host))


def mapped_hosts() -> dict[str, PinnedAddress]:
    """A snapshot of every pin (for diagnostics such as ``sturdydb doctor``)."""
    with _lock:
        return dict(_pins)
