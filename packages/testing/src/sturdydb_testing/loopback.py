"""Loopback address allocation that concurrent processes never collide on.

Every instance and endpoint gets its own ``127.x.y.z`` address, so instances differ by host as
they do in Aurora while all using the engine's standard port. Addresses are drawn at random
from ``127.64.0.0 - 127.254.255.254`` (about 12 million, far from the machine's own
``127.0.0.1``), claimed by an exclusive ``flock`` on a per-address lock file that the kernel
releases when the owning process dies, and verified by binding the port we need. Nothing here
ever sends a packet off the machine.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import socket
import threading
from pathlib import Path

__all__ = ["LOCK_DIR", "AddressClaim", "claim_address", "free_port", "port_is_free"]

LOCK_DIR = Path(os.environ.get("STURDYDB_TESTING_LOCK_DIR", "/tmp/sturdydb-testing-locks"))
_rng = random.SystemRandom()
_lock = threading.Lock()


def port_is_free(address: str, port: int) -> bool:
    """Whether ``address:port`` can be bound for listening right now."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR like the servers and proxies themselves, so TIME_WAIT leftovers of our
        # own earlier listeners do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            return False
        raise
    finally:
        sock.close()
    return True


def free_port(address: str) -> int:
    """A port the kernel considers free on ``address`` (we own the address, so it stays free)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


class AddressClaim:
    """An exclusively claimed loopback address; :meth:`release` (or process death) frees it."""

    def __init__(self, address: str, port: int, fd: int, lock_path: Path) -> None:
        self.address = address
        self.port = port
        self._fd: int | None = fd
        self._lock_path = lock_path

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Unlink while still holding the lock, so no one else can hold a lock on this inode.
        with contextlib.suppress(OSError):
            self._lock_path.unlink()
        os.close(fd)

    def __repr__(self) -> str:
        return f"AddressClaim({self.address!r})"


def claim_address(port: int, *, attempts: int = 200) -> AddressClaim:
    """Claim a random loopback address on which ``port`` is free.

    When ``port`` is busy on several random addresses in a row, something holds it on all
    addresses (a wildcard listener): the claim then falls back to a free port, reported in
    :attr:`AddressClaim.port`.

    Raises ``RuntimeError`` when no address could be claimed after ``attempts`` tries (which
    means something is badly wrong with the loopback interface or the lock folder).
    """
    LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
    busy_in_a_row = 0
    with _lock:
        for _ in range(attempts):
            address = f"127.{_rng.randint(64, 254)}.{_rng.randint(0, 255)}.{_rng.randint(1, 254)}"
            lock_path = LOCK_DIR / f"{address}.lock"
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            wanted = port if busy_in_a_row < 8 else free_port(address)
            if port_is_free(address, wanted):
                os.write(fd, f"{os.getpid()}\n".encode())
                return AddressClaim(address, wanted, fd, lock_path)
            busy_in_a_row += 1
            with contextlib.suppress(OSError):
                lock_path.unlink()
            os.close(fd)
    raise RuntimeError(
        f"could not claim a loopback address with port {port} free after {attempts} tries; "
        f"check that 127.0.0.0/8 is routed to 'lo' and that {LOCK_DIR} is writable"
    )
