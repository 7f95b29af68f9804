"""A TCP relay in front of a local server that can go silent or slow, for the unit tests.

While paused, the relay keeps every connection open and accepts new ones but passes no bytes:
to the client that is exactly a frozen host (its kernel still completes the TCP handshake).
With a latency set, every chunk is delayed in both directions: a slow host that answers.
"""

from __future__ import annotations

import socket
import threading
import time


class Relay:
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
