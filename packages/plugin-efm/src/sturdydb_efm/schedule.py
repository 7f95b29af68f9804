"""The probe schedule of one host: when to probe, and when the host is unhealthy.

Pure state with times passed in, so the rule in :class:`~sturdydb_efm.settings.DetectionRule`
is tested with a fake clock. Two parties drive it: the host's prober thread asks which probe is
due (:meth:`ProbeSchedule.next_attempt`) and reports answers (:meth:`ProbeSchedule.answered`);
a deadline timer judges each probe at ``t_k + probe_timeout`` (:meth:`ProbeSchedule.judge`) and
keeps the schedule going. Judging never depends on the prober, so a prober stuck in a connect
to a frozen host cannot delay the verdict. The caller holds the host monitor's lock around
every method.
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sturdydb_efm.settings import DetectionRule

__all__ = ["ProbeSchedule", "Verdict"]


class Verdict(enum.Enum):
    """What :meth:`ProbeSchedule.judge` concluded about probe *k*."""

    CONTINUE = "continue"  # keep probing: judge probe k + 1 at its deadline
    IDLE = "idle"  # no call is overdue any more: probing stops
    UNHEALTHY = "unhealthy"  # count consecutive failures: abort every call to the host
    STALE = "stale"  # the judgement belongs to a schedule that has ended


class ProbeSchedule:
    """Probe times, answers and the failure count of one host."""

    __slots__ = ("answered_slot", "attempted_slot", "failures", "generation", "judged_slot",
                 "rule", "running", "start", "unhealthy_verdicts")

    def __init__(self, rule: DetectionRule) -> None:
        self.rule = rule
        self.running = False
        #: Identifies one run of the schedule; timers of an ended run are ignored.
        self.generation = 0
        self.start = 0.0
        self.failures = 0
        self.answered_slot = 0
        self.attempted_slot = 0
        self.judged_slot = 0
        self.unhealthy_verdicts = 0

    # -- times --------------------------------------------------------------------
    def slot_time(self, k: int) -> float:
        """When probe ``k`` (1-based) is due."""
        return self.start + (k - 1) * self.rule.interval

    def deadline(self, k: int) -> float:
        """When probe ``k`` is judged: the host must have answered it by then."""
        return self.slot_time(k) + self.rule.probe_timeout

    def due_slot(self, now: float) -> int:
        """The latest probe that is due at ``now`` (0 when the schedule is not running)."""
        if not self.running or now < self.start:
            return 0
        return 1 + math.floor((now - self.start) / self.rule.interval + 1e-9)

    # -- transitions ----------------------------------------------------------------
    def begin(self, now: float) -> int:
        """Start probing now (a call just became overdue); returns the new generation."""
        self.running = True
        self.generation += 1
        self.start = now
        self.failures = 0
        self.answered_slot = self.attempted_slot = self.judged_slot = 0
        return self.generation

    def next_attempt(self, now: float) -> int:
        """The probe the prober should send now, or 0 when none is due or it was already sent.

        A probe that is due while the previous one is still stuck is never sent: the prober
        asks again when it is free and then sends only the latest due probe.
        """
        k = self.due_slot(now)
        if k <= self.attempted_slot or k <= self.judged_slot:
            return 0
        self.attempted_slot = k
        return k

    def answered(self, k: int, generation: int, now: float) -> bool:
        """The host answered probe ``k``; returns whether it was in time to count."""
        if generation != self.generation or not self.running or now > self.deadline(k):
            return False
        if k > self.answered_slot:
            self.answered_slot = k
        return True

    def judge(self, k: int, generation: int, overdue: bool) -> Verdict:
        """Decide probe ``k`` at its deadline; ``overdue`` says whether a call is still overdue."""
        if generation != self.generation or not self.running or k <= self.judged_slot:
            return Verdict.STALE
        self.judged_slot = k
        if self.answered_slot >= k:
            self.failures = 0
        else:
            self.failures += 1
        if self.failures >= self.rule.count:
            self.unhealthy_verdicts += 1
            self.running = False
            return Verdict.UNHEALTHY
        if not overdue:
            self.running = False
            return Verdict.IDLE
        return Verdict.CONTINUE

    def stop(self) -> None:
        """End the current run (monitor stopping); pending timers become stale."""
        self.running = False
        self.generation += 1
