"""The detection rule: properties, worst cases, and the probe schedule on a fake clock."""

from __future__ import annotations

import pytest
from efm_fakes import rule

from sturdydb_efm import DetectionRule, ProbeSchedule, Verdict


def run_schedule(answers: list[bool], count: int = 3) -> tuple[list[Verdict], ProbeSchedule]:
    """Drive a schedule through probes that are answered (True) or not (False)."""
    schedule = ProbeSchedule(rule(grace=1.0, interval=1.0, count=count))
    generation = schedule.begin(100.0)
    verdicts = []
    for k, answered in enumerate(answers, start=1):
        sent_at = schedule.slot_time(k)
        assert schedule.next_attempt(sent_at) == k
        if answered:
            assert schedule.answered(k, generation, sent_at + 0.01)
        verdict = schedule.judge(k, generation, overdue=True)
        verdicts.append(verdict)
        if verdict is not Verdict.CONTINUE:
            break
    return verdicts, schedule


def test_the_host_is_unhealthy_after_count_consecutive_failed_probes() -> None:
    verdicts, schedule = run_schedule([True, False, False, False])
    assert verdicts == [Verdict.CONTINUE] * 3 + [Verdict.UNHEALTHY]
    assert not schedule.running


def test_a_success_resets_the_failure_count() -> None:
    verdicts, schedule = run_schedule([False, False, True, False, False, True, False])
    assert Verdict.UNHEALTHY not in verdicts
    assert schedule.failures == 1


def test_a_probe_answered_after_its_deadline_counts_as_failed() -> None:
    schedule = ProbeSchedule(rule(grace=1.0, interval=1.0, count=1))
    generation = schedule.begin(0.0)
    assert schedule.next_attempt(0.0) == 1
    assert not schedule.answered(1, generation, schedule.deadline(1) + 0.001)
    assert schedule.judge(1, generation, overdue=True) is Verdict.UNHEALTHY


def test_a_probe_that_could_not_be_sent_fails_at_its_own_deadline() -> None:
    # Probe 1 is stuck (for example in a connect to a frozen host): probes 2 and 3 are due
    # while it is, so they are never sent, and each still fails on time.
    schedule = ProbeSchedule(rule(grace=1.0, interval=1.0, count=3))
    generation = schedule.begin(0.0)
    assert schedule.next_attempt(0.0) == 1
    assert schedule.judge(1, generation, overdue=True) is Verdict.CONTINUE
    assert schedule.judge(2, generation, overdue=True) is Verdict.CONTINUE
    assert schedule.judge(3, generation, overdue=True) is Verdict.UNHEALTHY
    # When the stuck prober comes back it sends only the latest due probe, once.
    schedule2 = ProbeSchedule(rule(interval=1.0))
    schedule2.begin(0.0)
    assert schedule2.next_attempt(0.0) == 1
    assert schedule2.next_attempt(2.5) == 3
    assert schedule2.next_attempt(2.9) == 0


def test_probing_stops_when_no_call_is_overdue_and_old_timers_are_ignored() -> None:
    schedule = ProbeSchedule(rule(interval=1.0, count=3))
    first = schedule.begin(0.0)
    schedule.next_attempt(0.0)
    assert schedule.judge(1, first, overdue=False) is Verdict.IDLE
    assert schedule.next_attempt(5.0) == 0
    second = schedule.begin(10.0)
    assert schedule.judge(2, first, overdue=True) is Verdict.STALE
    assert schedule.judge(1, second, overdue=True) is Verdict.CONTINUE
    assert schedule.judge(1, second, overdue=True) is Verdict.STALE
    schedule.stop()
    assert schedule.judge(2, second, overdue=True) is Verdict.STALE


def test_each_new_schedule_counts_failures_from_zero() -> None:
    schedule = ProbeSchedule(rule(interval=1.0, count=2))
    first = schedule.begin(0.0)
    assert schedule.judge(1, first, overdue=False) is Verdict.IDLE
    second = schedule.begin(10.0)
    assert schedule.judge(1, second, overdue=True) is Verdict.CONTINUE
    assert schedule.judge(2, second, overdue=True) is Verdict.UNHEALTHY


def test_worst_cases_follow_the_documented_rule() -> None:
    defaults = DetectionRule(enabled=True, grace=30.0, interval=5.0, count=3, disposal=600.0, probe_timeout=2.5)
    assert defaults.worst_case_from_call_start() == pytest.approx(42.5)
    assert defaults.worst_case_after_grace() == pytest.approx(17.5)
    aggressive = DetectionRule(enabled=True, grace=1.0, interval=0.5, count=2, disposal=600.0, probe_timeout=0.25)
    assert aggressive.worst_case_from_call_start() == pytest.approx(1.75)
    assert aggressive.worst_case_after_grace() == pytest.approx(1.25)
    # From the outage: before the grace time everything waits for probe 1 at the grace time...
    assert defaults.worst_case_from_outage(5.0) == pytest.approx(37.5)
    # ... after it, the first failing probe is the next one sent.
    assert defaults.worst_case_from_outage(30.0) == pytest.approx(12.5)
    assert defaults.worst_case_from_outage(30.1) == pytest.approx(17.4)
    assert defaults.worst_case_from_outage(35.0) == pytest.approx(12.5)
    for outage in (0.0, 3.0, 29.9, 31.0, 47.0):
        assert defaults.worst_case_from_outage(outage) <= max(
            defaults.worst_case_from_call_start() - outage, defaults.worst_case_after_grace()
        ) + 1e-9
