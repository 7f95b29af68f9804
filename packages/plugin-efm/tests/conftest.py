"""Fixtures for sturdydb-efm's unit tests.

The machine's own servers (PostgreSQL 127.0.0.1:5432 user postgres, MariaDB 127.0.0.1:3306 root,
database ``test``) are reached through :class:`~sturdydb_testing.relay.Relay`, which can stop passing bytes
(a silent host) or delay them (a slow host) without touching the shared servers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent))




@pytest.fixture(autouse=True)
def _fresh_process_state_after_test() -> Iterator[None]:
    """Every test leaves sturdydb as fresh as a new process: threads, caches, topologies."""
    yield
    sturdydb.reset_process_state()
