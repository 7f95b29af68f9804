"""Replica lag injection: a replica that really stops applying, and the lag Aurora would report.

:meth:`Cluster.inject_replica_lag <sturdydb_testing.cluster.Cluster.inject_replica_lag>` pauses
the replica's apply (PostgreSQL ``pg_wal_replay_pause()``, MariaDB ``STOP SLAVE SQL_THREAD``):
the replica keeps receiving the writer's changes but no longer applies them, so its data
really falls behind (a row written on the writer afterwards is missing there).

How far behind is *measured*, as replication monitors do with a heartbeat table: while any
replica is paused, a :class:`LagReporter` thread writes the wall-clock time into
``sturdydb_aurora.heartbeat`` on the writer every ``interval`` seconds, reads the heartbeat each
paused replica has applied, and publishes the difference into the emulated topology's lag
column (``REPLICA_LAG_IN_MSEC`` / ``REPLICA_LAG_IN_MILLISECONDS``), the column Aurora fills
from its own replication feedback. Pausing and resuming publish the replica's lag as 0 before
they return, in turn with the thread's rounds: a replica paused again right after a resume
(the next test on the same cluster) must not show the previous pause's lag, which the next
round would replace by the small real one (a test waiting for the lag to be seen would pass on
the stale figure, then find the replica qualifying). When the last one resumes, the thread ends.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sturdydb_testing.cluster import Cluster, Instance

__all__ = ["LagReporter"]

log = logging.getLogger("sturdydb_testing.lag")


class LagReporter:
    """Measures the lag of paused replicas and publishes it in the emulated topology."""

    def __init__(self, cluster: Cluster, interval: float = 0.1) -> None:
        self.cluster = cluster
        self.interval = interval
        #: Instance name -> wall-clock time its apply was paused.
        self.paused: dict[str, float] = {}
        #: Instance name -> the lag last published (ms).
        self.published: dict[str, float] = {}
        self._lock = threading.Lock()
        #: Held by a round (measure, publish) and by pause/resume's own publication, so that a
        #: round measured before a pause or resume cannot publish after it.
        self._publishing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pause(self, instance: Instance) -> None:
        cluster = self.cluster
        writer = cluster.writer
        assert writer is not None
        # The heartbeat table must exist on the replica before it stops applying.
        cluster._write_heartbeat(writer, time.time())
        cluster._wait_replicated(writer, [instance], 30.0)
        with self._publishing:
            cluster._pause_apply(instance)
            with self._lock:
                self.paused[instance.name] = time.time()
            self._publish_zero(writer, instance)  # not the previous pause's figure
        with self._lock:
            start = self._thread is None or not self._thread.is_alive()
            if start:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=f"sturdydb-testing-lag-{cluster.name}",
                                                daemon=True)
        if start:
            assert self._thread is not None
            self._thread.start()

    def resume(self, instance: Instance) -> None:
        with self._publishing:
            with self._lock:
                if self.paused.pop(instance.name, None) is None:
                    return
            self.cluster._resume_apply(instance)
            writer = self.cluster.writer
            if writer is not None and writer.running and self._publish_zero(writer, instance):
                self.published.pop(instance.name, None)  # it catches up at once

    def _publish_zero(self, writer: Instance, instance: Instance) -> bool:
        """Publish ``instance``'s lag as 0 (False if that failed: the next round retries)."""
        try:
            self.cluster._report_lag(writer, {instance.name: 0.0})
        except Exception as exc:
            log.debug("could not publish the lag of %s: %s", instance.name, exc)
            return False
        self.published[instance.name] = 0.0
        return True

    def measured_ms(self, instance: Instance) -> float:
        """How far ``instance`` is behind the writer now, from the heartbeat it applied (ms)."""
        cluster = self.cluster
        writer = cluster.writer
        assert writer is not None
        now = time.time()
        cluster._write_heartbeat(writer, now)
        applied = cluster._read_heartbeat(instance)
        return 0.0 if applied is None else max(0.0, (now - applied) * 1000.0)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._publishing:
                if self._round():
                    return
            self._stop.wait(self.interval)

    def _round(self) -> bool:
        """Measure and publish once; True when no replica is paused any more (the thread ends)."""
        cluster = self.cluster
        with self._lock:
            names = list(self.paused)
            if not names:
                # Decided under the lock: a pause from now on starts a new thread.
                self._thread = None
        writer = cluster.writer
        if not names:
            # The thread ends even if this fails: pause and resume published 0 themselves.
            try:
                if writer is not None and writer.running:
                    cluster._report_lag(writer, dict.fromkeys(self.published, 0.0))
            except Exception as exc:
                log.debug("could not publish the replicas' lag as 0: %s", exc)
            self.published.clear()
            return True
        try:
            if writer is None or not writer.running:
                return False  # nowhere to publish; a failover or heal is under way
            lags = {name: self.measured_ms(cluster.instance(name)) for name in names}
            # A replica resumed while another stays paused must not keep its last lag.
            caught_up = {name: 0.0 for name in self.published if name not in lags}
            cluster._report_lag(writer, {**caught_up, **lags})
            for name in caught_up:
                del self.published[name]
            self.published.update(lags)
        except Exception as exc:  # a server restarting under a fault: try again next tick
            log.debug("could not measure or publish replica lag: %s", exc)
        return False
