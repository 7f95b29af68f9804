"""``sturdydb doctor --watch`` on the machine's own servers: frames, events, exit codes, no secret."""

from __future__ import annotations

import io
import logging

import pytest

import sturdydb
from sturdydb.__main__ import main  # the CLI module is being renamed; this name is stable
from sturdydb._watch import EventRecorder, watch


def test_watch_draws_the_requested_frames_and_stops(pg_conninfo: str) -> None:
    out = io.StringIO()
    code = watch("psycopg", pg_conninfo + " password=hunter2", {"plugins": ""}, interval=0, iterations=2,
                 out=out, clear=False)
    text = out.getvalue()
    assert code == 0
    assert text.count("sturdydb doctor --watch") == 2
    assert "connected 127.0.0.1" in text and "last query: ok in" in text
    assert "(no topology: a plain server" in text
    assert "hunter2" not in text


def test_cli_flag_runs_the_view(capsys: pytest.CaptureFixture[str], pg_conninfo: str) -> None:
    code = main(["doctor", pg_conninfo, "--watch", "--interval", "0", "--frames", "1", "plugins="])
    out = capsys.readouterr().out
    assert code == 0 and out.count("sturdydb doctor --watch") == 1
    assert "\x1b[2J" not in out  # not a terminal: frames are appended, not redrawn


def test_cannot_connect_gives_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "host=127.0.0.1 port=1 dbname=test user=postgres connect_timeout=2", "--watch",
                 "--frames", "1", "plugins="])
    assert code == 2
    assert "cannot connect" in capsys.readouterr().out


def test_structured_log_records_become_recent_events() -> None:
    recorder = EventRecorder(size=2)
    log = logging.getLogger("sturdydb.failover")
    log.addHandler(recorder)
    try:
        log.warning("plain line without an event")
        for n in range(3):
            log.warning("failed over %d", n, extra={"sturdydb_event": "failover_end"})
    finally:
        log.removeHandler(recorder)
    assert [(e, m) for _, e, m in recorder.recent()] == [("failover_end", "failed over 1"),
                                                        ("failover_end", "failed over 2")]


def test_the_watch_leaves_logging_as_it_found_it(pg_conninfo: str) -> None:
    root = logging.getLogger("sturdydb")
    before = (root.level, list(root.handlers))
    watch("psycopg", pg_conninfo, {"plugins": ""}, interval=0, iterations=1, out=io.StringIO(), clear=False)
    assert (root.level, list(root.handlers)) == before
    sturdydb.reset_process_state()
