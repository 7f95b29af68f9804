"""Blocking work of async connections, run off the event loop.

An async connection's connect chain and a failover are sync code that waits (for a writer,
a credential, a reconnect): they run on a short-lived named daemon thread while the loop
keeps serving other tasks. One thread per *connect or failover*, never per call. Not the
loop's default executor: it has a handful of workers, so fifty connections failing over at
once would wait for each other there, and its threads are not daemons.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["run_off_loop"]

T = TypeVar("T")


def run_off_loop(func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run ``func(*args)`` on a daemon thread; await the returned future for its outcome.

    The context variables of the caller are visible in ``func``. Cancelling the awaiting
    task does not stop ``func`` (a thread cannot be interrupted): the future is only marked
    cancelled, and ``func``'s outcome is dropped.
    """
    import asyncio  # here: importing sturdydb (sync applications) must not import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.cancelled():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            result = context.run(func, *args)
        except BaseException as exc:  # delivered to the awaiting task
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is closed: nobody awaits any more
            pass

    name = getattr(func, "__name__", "work")
    threading.Thread(target=work, name=f"sturdydb-offloop-{name}", daemon=True).start()
    return future
