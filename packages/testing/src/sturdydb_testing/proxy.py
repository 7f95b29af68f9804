"""TCP proxies for fault injection and endpoints, all run by one event loop thread.

Owns :class:`ProxyLoop` (a single named daemon thread running an asyncio loop, started on
first use, never at import) and :class:`TcpProxy`, which forwards every accepted connection
to a target chosen per connection and can inject network faults into it:

- *blackhole*: nothing passes in either direction and new connections are accepted but never
  answered (the client hangs until its own timeout, like a partitioned host); lifting it lets
  everything held flow again, like a healed partition;
- *reset*: every current connection is aborted with a TCP RST;
- *latency*: each client-to-server chunk is delivered that many seconds later (order kept);
- *refuse*: the listening socket is closed, so new connections are refused at once while
  existing ones continue.

Proxies use asyncio protocols (no per-connection tasks or streams) and flow control between
the two sides, so they add little latency and never buffer without bound.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

__all__ = ["ProxyLoop", "Rewriter", "TcpProxy", "proxy_loop"]

T = TypeVar("T")
Target = tuple[str, int]


class ProxyLoop:
    """The process's one proxy thread and its asyncio loop."""

    THREAD_NAME = "sturdydb-testing-proxies"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=self.THREAD_NAME, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` on the proxy loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``fn`` on the proxy loop thread and wait for its result."""
        if threading.current_thread() is self.thread:
            return fn()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller's thread
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout)

    def call_later(
        self, delay: float, fn: Callable[[], None]
    ) -> concurrent.futures.Future[asyncio.TimerHandle]:
        """Schedule ``fn`` on the loop after ``delay`` seconds; the future yields a cancellable handle."""
        future: concurrent.futures.Future[asyncio.TimerHandle] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(lambda: future.set_result(self.loop.call_later(delay, fn)))
        return future


_loop: ProxyLoop | None = None
_loop_lock = threading.Lock()


def proxy_loop() -> ProxyLoop:
    """The shared proxy loop, started on first use."""
    global _loop
    with _loop_lock:
        if _loop is None or not _loop.thread.is_alive():
            _loop = ProxyLoop()
        return _loop


class Rewriter(Protocol):
    """Transforms the client-to-server byte stream of one connection (see ``mysql_protocol``)."""

    def feed(self, data: bytes) -> bytes: ...


def _abort_with_rst(transport: asyncio.BaseTransport | None) -> None:
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: closing sends RST instead of FIN, like a host that dropped the connection.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert isinstance(transport, asyncio.Transport)
    transport.abort()


class _Link:
    """One proxied connection: a client transport and (once connected) an upstream one."""

    def __init__(self, proxy: TcpProxy, client: asyncio.Transport) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.Transport | None = None
        self.rewriter = proxy.rewriter_factory() if proxy.rewriter_factory else None
        self.before_upstream: list[bytes] = []
        self.delayed: collections.deque[tuple[float, bytes]] = collections.deque()
        self.flush_handle: asyncio.TimerHandle | None = None
        self.client_paused_by_upstream = False
        self.upstream_paused_by_client = False
        self.connecting = False
        self.closed = False

    # -- reading state ---------------------------------------------------------------
    def update_reading(self) -> None:
        blackholed = self.proxy.blackholed
        if not self.client.is_closing():
            if blackholed or self.client_paused_by_upstream or self.upstream is None:
                self.client.pause_reading()
            else:
                self.client.resume_reading()
        if self.upstream is not None and not self.upstream.is_closing():
            if blackholed or self.upstream_paused_by_client:
                self.upstream.pause_reading()
            else:
                self.upstream.resume_reading()

    # -- connecting ------------------------------------------------------------------
    def connect_upstream(self) -> None:
        if self.connecting or self.upstream is not None or self.closed:
            return
        self.connecting = True
        target = self.proxy.target()
        if target is None:
            self.abort()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.create_connection(lambda: _UpstreamSide(self), target[0], target[1]))
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]) -> None:
        if task.cancelled() or task.exception() is not None or self.closed:
            if not task.cancelled() and task.exception() is None:
                _abort_with_rst(task.result()[0])
            self.abort()
            return
        transport = task.result()[0]
        assert isinstance(transport, asyncio.Transport)
        self.upstream = transport
        for chunk in self.before_upstream:
            self.send_upstream(chunk)
        self.before_upstream.clear()
        self.update_reading()

    # -- data ------------------------------------------------------------------------
    def from_client(self, data: bytes) -> None:
        if self.rewriter is not None:
            data = self.rewriter.feed(data)
            if not data:
                return
        if self.upstream is None:
            self.before_upstream.append(data)
        else:
            self.send_upstream(data)

    def send_upstream(self, data: bytes) -> None:
        latency = self.proxy.latency
        if latency <= 0 and not self.delayed:
            assert self.upstream is not None
            self.upstream.write(data)
            return
        self.delayed.append((time.monotonic() + latency, data))
        self.schedule_flush()

    def schedule_flush(self) -> None:
        if self.flush_handle is None and self.delayed and not self.proxy.blackholed:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self.delayed[0][0] - time.monotonic())
            self.flush_handle = loop.call_later(delay, self.flush)

    def flush(self) -> None:
        self.flush_handle = None
        if self.closed or self.upstream is None or self.proxy.blackholed:
            return
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            self.upstream.write(self.delayed.popleft()[1])
        self.schedule_flush()

    def from_upstream(self, data: bytes) -> None:
        if not self.client.is_closing():
            self.client.write(data)

    # -- closing ---------------------------------------------------------------------
    def close(self) -> None:
        """One side closed: close the other after it has written what it holds."""
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        for transport in (self.client, self.upstream):
            if transport is not None and not transport.is_closing():
                transport.close()

    def abort(self) -> None:
        self.closed = True
        self.proxy.links.discard(self)
        if self.flush_handle is not None:
            self.flush_handle.cancel()
        _abort_with_rst(self.client)
        _abort_with_rst(self.upstream)


class _ClientSide(asyncio.Protocol):
    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.link: _Link | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.link = _Link(self.proxy, transport)
        self.proxy.links.add(self.link)
        self.proxy.accepted += 1
        if self.proxy.blackholed:
            # Accepted by the kernel, never answered: the upstream connection is only made
            # once the blackhole lifts.
            transport.pause_reading()
            self.link.update_reading()
            return
        self.link.update_reading()
        self.link.connect_upstream()

    def data_received(self, data: bytes) -> None:
        assert self.link is not None
        self.link.from_client(data)

    def eof_received(self) -> bool | None:
        assert self.link is not None
        if self.link.upstream is not None and not self.link.delayed and self.link.upstream.can_write_eof():
            self.link.upstream.write_eof()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.close()

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.upstream_paused_by_client = True
            self.link.update_reading()

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.upstream_paused_by_client = False
            self.link.update_reading()


class _UpstreamSide(asyncio.Protocol):
    def __init__(self, link: _Link) -> None:
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.link.from_upstream(data)

    def eof_received(self) -> bool | None:
        if not self.link.client.is_closing() and self.link.client.can_write_eof():
            self.link.client.write_eof()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.close()

    def pause_writing(self) -> None:
        self.link.client_paused_by_upstream = True
        self.link.update_reading()

    def resume_writing(self) -> None:
        self.link.client_paused_by_upstream = False
        self.link.update_reading()


class TcpProxy:
    """A listening address that forwards each connection to ``target()`` (chosen per connection).

    Every public method is thread-safe: it runs on the proxy loop and returns when done.
    """

    def __init__(
        self,
        name: str,
        address: str,
        port: int,
        target: Callable[[], Target | None],
        rewriter_factory: Callable[[], Rewriter] | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.port = port
        self.target = target
        self.rewriter_factory = rewriter_factory
        self.links: set[_Link] = set()
        self.blackholed = False
        self.latency = 0.0
        self.refusing = False
        self.server_down = False
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._loop = proxy_loop()

    def __repr__(self) -> str:
        return f"TcpProxy({self.name!r}, {self.address}:{self.port})"

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._loop.run(self._listen())

    async def _listen(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self), self.address, self.port, reuse_address=True, backlog=512
        )

    def close(self) -> None:
        """Stop listening and abort every connection."""

        async def shut() -> None:
            self._stop_listening()
            for link in list(self.links):
                link.abort()

        self._loop.run(shut())

    def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    @property
    def connection_count(self) -> int:
        return len(self.links)

    # -- faults ----------------------------------------------------------------------
    def set_blackhole(self, on: bool) -> None:
        def apply() -> None:
            self.blackholed = on
            for link in list(self.links):
                link.update_reading()
                if not on:
                    link.connect_upstream()
                    link.schedule_flush()

        self._loop.call(apply)

    def set_latency(self, seconds: float) -> None:
        def apply() -> None:
            self.latency = max(0.0, seconds)

        self._loop.call(apply)

    async def _sync_listening(self) -> None:
        if self.refusing or self.server_down:
            self._stop_listening()
        else:
            await self._listen()

    def set_refusing(self, on: bool) -> None:
        """Close (or reopen) the listening socket; existing connections are untouched."""

        async def apply() -> None:
            self.refusing = on
            await self._sync_listening()

        self._loop.run(apply())

    def set_server_down(self, down: bool) -> None:
        """Mark the server behind the proxy dead (refuse new connections) or back up.

        Kept apart from :meth:`set_refusing` so that clearing faults cannot make a killed
        instance accept connections again.
        """

        async def apply() -> None:
            self.server_down = down
            await self._sync_listening()

        self._loop.run(apply())

    def reset_connections(self) -> int:
        """Abort every current connection with RST; returns how many there were."""

        def apply() -> int:
            links = list(self.links)
            for link in links:
                link.abort()
            return len(links)

        return self._loop.call(apply)

    def clear_faults(self) -> None:
        """Lift blackhole, latency and refusal (connections held by a blackhole resume)."""
        self.set_latency(0.0)
        self.set_blackhole(False)
        self.set_refusing(False)
