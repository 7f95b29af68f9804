"""The shared deployment state: phases, holding, the switch epoch, and what survives a rename."""

from __future__ import annotations

import threading

from bg_fakes import BLUE_CLUSTER, resolve, rows

from sturdydb_blue_green.monitor import Deployment
from sturdydb_blue_green.status import Phase, parse_rows


def _dep() -> Deployment:
    return Deployment("test", resolve=resolve)


def test_in_progress_holds_and_post_bumps_the_epoch_once_and_releases() -> None:
    dep = _dep()
    dep.publish(parse_rows(rows("AVAILABLE")))
    assert (dep.phase, dep.holding, dep.switch_epoch) == (Phase.CREATED, False, 0)
    dep.publish(parse_rows(rows("SWITCHOVER_INITIATED")))
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))
    assert dep.holding and dep.switch_epoch == 0
    dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))
    assert (dep.holding, dep.switch_epoch) == (False, 1)
    dep.publish(parse_rows(rows("SWITCHOVER_COMPLETED", renamed=True)))
    assert dep.switch_epoch == 1
    # The routes are the pre-rename ones: blue's name still leads to green's address.
    assert dep.routes.green_for(BLUE_CLUSTER).host == "127.0.2.1"  # type: ignore[union-attr]


def test_a_missed_in_progress_still_counts_as_a_switchover() -> None:
    dep = _dep()
    dep.publish(parse_rows(rows("AVAILABLE")))
    dep.publish(parse_rows(rows("SWITCHOVER_COMPLETED", renamed=True)))
    assert dep.switch_epoch == 1


def test_a_deployment_first_seen_after_its_switchover_routes_nothing() -> None:
    dep = _dep()
    dep.publish(parse_rows(rows("SWITCHOVER_COMPLETED", renamed=True)))
    assert dep.switch_epoch == 0 and not dep.routes.roles


def test_one_empty_read_keeps_the_state_and_two_drop_the_routes() -> None:
    dep = _dep()
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))
    dep.publish([])
    assert dep.phase is Phase.IN_PROGRESS and dep.holding and dep.routes.roles
    dep.publish([])
    assert dep.phase is Phase.NOT_CREATED and not dep.holding and not dep.routes.roles


def test_held_callers_are_released_by_the_next_phase_and_by_release() -> None:
    dep = _dep()
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))
    assert not dep.wait_until_released(0.01)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(dep.wait_until_released(30)))
    waiter.start()
    dep.publish(parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)))
    waiter.join(30)
    assert results == [True]
    assert dep.wait_for_switch(0, 0.01)
    dep.publish(parse_rows(rows("AVAILABLE")))  # a new deployment, then a new switchover starts
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))
    waiter = threading.Thread(target=lambda: results.append(dep.wait_until_released(30)))
    waiter.start()
    dep.release()
    waiter.join(30)
    assert results == [True, True]


def test_async_waiters_are_woken_by_the_monitor_thread_and_time_out_without_blocking() -> None:
    import asyncio

    dep = _dep()
    dep.publish(parse_rows(rows("SWITCHOVER_IN_PROGRESS")))

    async def scenario() -> tuple[bool, bool, int]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        beat = asyncio.create_task(heartbeat())
        timed_out = await dep.until(lambda: not dep.holding, 0.05)
        held_ticks = ticks
        # The "monitor thread" publishes the next phase while the task awaits.
        publisher = threading.Timer(0.05, dep.publish,
                                    (parse_rows(rows("SWITCHOVER_IN_POST_PROCESSING", renamed=True)),))
        publisher.start()
        released = await dep.until(lambda: not dep.holding, 30)
        publisher.join()
        beat.cancel()
        return timed_out, released, held_ticks

    timed_out, released, held_ticks = asyncio.run(scenario())
    assert not timed_out  # still in progress after the timeout
    assert released and dep.switch_epoch == 1
    assert held_ticks > 0  # the loop ran other tasks while one was held
    assert not dep._async_waiters  # nothing left registered
