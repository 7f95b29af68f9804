"""Fixtures for sturdydb-blue-green's unit tests: fresh process state after every test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _fresh_process_state_after_test() -> Iterator[None]:
    yield
    sturdydb.reset_process_state()
