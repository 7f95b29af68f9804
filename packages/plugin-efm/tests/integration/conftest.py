"""Fixtures for sturdydb-efm's scenarios on the real clusters of ``sturdydb-testing``.

Helpers live in :mod:`efm_scenarios` (a unique module name: every package's integration
folder runs in one pytest session).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    """Every scenario starts without monitors or cached topology, like a new process."""
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()
