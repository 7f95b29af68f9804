"""A thread-based TCP relay in front of one local server that can go silent or slow.

Owns :class:`Relay`, the small fault relay the unit tests of several packages use against the
machine's own PostgreSQL and MariaDB (no cluster needed):

- ``pause()``: every connection stays open and new ones are still accepted, but no byte passes
  in either direction: to the client that is exactly a frozen host (its kernel still completes
  the TCP handshake and acknowledges), so a driver call waits until something aborts it;
  ``resume()`` lets everything held flow again;
- ``latency``: every chunk is delayed that many seconds, in both directions: a slow host that
  still answers.

:class:`~sturdydb_testing.proxy.TcpProxy` is the clusters' fault proxy (one asyncio loop,
per-connection targets, resets, refusal); its latency applies to the client-to-server
direction only, and the unit tests that time probes against a slow host rely on the relay's
both-ways delay, so the relay stays a separate, dependency-free class. Threads are named
daemons started by the constructor (never at import); ``close()`` never joins them.
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["Relay"]


class Relay:
    """Forwards ``127.0.0.1:<port>`` (an ephemeral port) to ``127.0.0.1:<target_port>``."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.latency = 0.0
        self.closed = False
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="test-relay-accept", daemon=True).start()

    def pause(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), name="test-relay-pump", daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            if self.latency:
                time.sleep(self.latency)
            self.flowing.wait()
            try:
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.closed = True
        self.flowing.set()
        self.listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
