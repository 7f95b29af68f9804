"""Fixtures for read/write splitting on the real clusters of ``sturdydb-testing``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sturdydb


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    """Every scenario starts without monitors, cached topology or pools, like a new process."""
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()
