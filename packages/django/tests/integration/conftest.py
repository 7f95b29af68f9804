"""Fixtures for the Django scenarios on the real clusters of ``sturdydb-testing``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent.parent))

from django_setup import configure

configure()


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()
