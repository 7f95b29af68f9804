"""A tiny TCP relay for the core's tests: it can stop passing bytes (a silent, hung host).

The relay keeps every connection open while paused: the client's kernel still sees a healthy
TCP peer, exactly like a frozen server, so a driver call waits forever unless sturdydb
aborts it. (The testing package has the full fault proxy; the core's own tests must not
depend on it.)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
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
            upstream = socket.create_connection(self.target)
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


@pytest.fixture
def pg_relay() -> Iterator[Relay]:
    relay = Relay(5432)
    yield relay
    relay.close()


@pytest.fixture
def mysql_relay() -> Iterator[Relay]:
    relay = Relay(3306)
    yield relay
    relay.close()
