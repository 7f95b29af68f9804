"""The watchdog survives any deadline value and comes back if its thread ever dies.

One watchdog thread guards every bounded call in the process, so a single bad value (NaN from
a computation, infinity, a huge or negative number) or a callback that kills its thread must
not leave the other calls unguarded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import pytest

from sturdydb._watchdog import MAX_WAIT_S, Deadline, Watchdog


def _threads_of(dog: Watchdog) -> list[threading.Thread]:
    thread = dog._thread
    return [thread] if thread is not None and thread.is_alive() else []


def _wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e300, MAX_WAIT_S * 2, 2**70, -5.0, 0.0])
def test_any_deadline_value_leaves_the_thread_working(value: float) -> None:
    dog = Watchdog()
    try:
        odd = dog.register(value, lambda: None)
        # A normal deadline registered afterwards still fires: the thread is alive and not
        # stuck on the odd one.
        fired = threading.Event()
        normal = dog.register(0.05, fired.set, exclusive=True)
        assert fired.wait(10)
        assert normal.fired
        assert _threads_of(dog)
        if value <= 0:  # negative and zero: due at once
            assert _wait_for(lambda: odd.fired)
        else:  # NaN, infinity, beyond MAX_WAIT_S: never
            assert not odd.fired
            dog.unregister(odd)
        dog.unregister(normal)
    finally:
        dog.stop()


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_callback_that_kills_the_thread_is_survived(caplog: pytest.LogCaptureFixture) -> None:
    dog = Watchdog()
    try:
        def kill_the_thread() -> None:
            raise SystemExit("injected: ends the watchdog thread")

        # A deadline queued before the thread dies, whose call nobody else will help: it
        # must still fire, without any later register() to notice the death.
        later = threading.Event()
        with caplog.at_level(logging.ERROR, logger="sturdydb._watchdog"):
            queued = dog.register(0.5, later.set)
            killer = dog.register(0.0, kill_the_thread)
            first = dog._thread
            assert first is not None
            first.join(10)
            assert killer.fired
            assert not first.is_alive()  # the injected exception really ended it
            assert later.wait(10), "the deadline queued before the death never fired"
        assert queued.fired
        successor = dog._thread
        assert successor is not None and successor is not first and successor.is_alive()
        assert successor.name == "sturdydb-watchdog" and successor.daemon
        assert "starting a new one" in caplog.text
        fired = threading.Event()
        dog.register(0.01, fired.set, exclusive=True)
        assert fired.wait(10)
    finally:
        dog.stop()


@pytest.mark.timeout(60)
def test_register_replaces_a_thread_that_is_gone(caplog: pytest.LogCaptureFixture) -> None:
    dog = Watchdog()
    try:
        dog.register(60.0, lambda: None)
        # Stand-in for a thread that vanished without a word (nothing in the watchdog's own
        # code can end it silently any more): a finished thread in its place.
        gone = threading.Thread(target=lambda: None, name="sturdydb-watchdog", daemon=True)
        gone.start()
        gone.join()
        old = dog._thread
        dog._thread = gone
        fired = threading.Event()
        with caplog.at_level(logging.ERROR, logger="sturdydb._watchdog"):
            dog.register(0.01, fired.set)
        assert fired.wait(10)
        assert "had died" in caplog.text
        assert dog._thread is not gone and dog._thread is not None and dog._thread.is_alive()
        assert old is not None
        old.join(10)  # the replaced thread saw the new generation and ended
        assert not old.is_alive()
        assert len(_threads_of(dog)) == 1
    finally:
        dog.stop()


@pytest.mark.timeout(60)
def test_an_error_inside_the_loop_is_logged_and_the_loop_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    dog = Watchdog()
    try:
        real_step = dog._step
        failures = [1]

        def failing_step(generation: int) -> bool:
            if failures:
                failures.pop()
                raise RuntimeError("injected loop failure")
            return real_step(generation)

        monkeypatch.setattr(dog, "_step", failing_step)
        fired = threading.Event()
        with caplog.at_level(logging.ERROR, logger="sturdydb._watchdog"):
            deadline: Deadline = dog.register(0.05, fired.set)
            assert fired.wait(10)
        assert deadline.fired
        assert "injected loop failure" in caplog.text
        assert not failures
    finally:
        dog.stop()


@pytest.mark.timeout(60)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_stop_then_register_after_a_death_leaves_exactly_one_thread() -> None:
    dog = Watchdog()
    try:
        dog.register(0.0, lambda: (_ for _ in ()).throw(SystemExit()))
        assert dog._thread is not None
        dog._thread.join(10)
        dog.stop()
        fired = threading.Event()
        dog.register(0.01, fired.set)
        assert fired.wait(10)
        assert len(_threads_of(dog)) == 1
    finally:
        dog.stop()
