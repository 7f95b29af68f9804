"""The process-wide watchdog: deadlines fire, finished ones never do, and it stays small."""

from __future__ import annotations

import threading
import time

from sturdydb._watchdog import Watchdog


def _watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sturdydb-watchdog"]


def test_a_deadline_fires_and_an_unregistered_one_never_does() -> None:
    dog = Watchdog()
    fired: list[str] = []
    late = dog.register(0.05, lambda: fired.append("late"), exclusive=True)
    early = dog.register(0.05, lambda: fired.append("early"))
    dog.unregister(early)
    deadline = time.monotonic() + 10
    while not late.fired and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert fired == ["late"]
    assert late.fired and not early.fired
    dog.stop()


def test_an_exclusive_abort_never_runs_after_unregister_returned() -> None:
    dog = Watchdog()
    in_abort = threading.Event()
    release = threading.Event()
    finished_after: list[bool] = []
    unregistered = threading.Event()

    def slow_abort() -> None:
        in_abort.set()
        release.wait(5)
        finished_after.append(unregistered.is_set())

    deadline = dog.register(0.0, slow_abort, exclusive=True)
    assert in_abort.wait(5)
    # The abort is under way: unregister must wait for it, so that once it returns no abort
    # can still be running against the connection (the next call on it would be hit).
    waiter = threading.Thread(target=lambda: (dog.unregister(deadline), unregistered.set()), daemon=True)
    waiter.start()
    time.sleep(0.1)
    assert not unregistered.is_set()
    release.set()
    waiter.join(5)
    assert unregistered.is_set()
    assert finished_after == [False]
    dog.stop()


def test_finished_deadlines_do_not_pile_up() -> None:
    dog = Watchdog()
    for _ in range(20_000):
        dog.unregister(dog.register(60.0, lambda: None, exclusive=True))
    assert dog.pending() == 0
    assert len(dog._heap) <= 200
    dog.stop()


def test_stop_then_register_leaves_exactly_one_thread() -> None:
    before = set(_watchdog_threads())
    dog = Watchdog()
    dog.unregister(dog.register(1.0, lambda: None))
    dog.stop()
    fired = threading.Event()
    dog.register(0.01, fired.set)  # right after stop(): must not leave the old thread running
    assert fired.wait(5)
    time.sleep(0.2)
    ours = [t for t in _watchdog_threads() if t not in before and t.is_alive()]
    assert len(ours) == 1
    assert ours[0].daemon
    dog.stop()


def test_a_failing_callback_does_not_stop_the_watchdog() -> None:
    dog = Watchdog()

    def boom() -> None:
        raise RuntimeError("callback failure")

    dog.register(0.0, boom)
    ok = threading.Event()
    dog.register(0.05, ok.set)
    assert ok.wait(5)
    dog.stop()
