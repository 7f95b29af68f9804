"""The relay the packages' unit tests put in front of a local server: it passes, holds, resumes.

No timing assertions: "nothing arrives while paused" is checked with a short read timeout,
which can only pass wrongly (never fail wrongly) on a slow machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from sturdydb_testing.relay import Relay


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return

            def echo(conn: socket.socket = conn) -> None:
                with conn:
                    while data := conn.recv(65536):
                        conn.sendall(data)

            threading.Thread(target=echo, name="test-echo", daemon=True).start()

    threading.Thread(target=serve, name="test-echo-accept", daemon=True).start()
    yield port
    server.close()


def test_the_relay_passes_bytes_holds_them_while_paused_and_delivers_them_on_resume(echo_port: int) -> None:
    relay = Relay(echo_port)
    try:
        with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as client:
            client.sendall(b"ping")
            assert client.recv(16) == b"ping"
            relay.pause()
            client.sendall(b"held")
            client.settimeout(0.3)
            with pytest.raises(TimeoutError):
                client.recv(16)
            # A new connection is still accepted while paused: a frozen host, not a dead one.
            with socket.create_connection(("127.0.0.1", relay.port), timeout=10):
                pass
            relay.resume()
            client.settimeout(10)
            assert client.recv(16) == b"held"
            relay.latency = 0.05  # slow, but it answers
            client.sendall(b"slow")
            assert client.recv(16) == b"slow"
    finally:
        relay.close()
