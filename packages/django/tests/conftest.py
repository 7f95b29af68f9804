"""Fixtures for sturdydb-django's tests: a minimal Django configured once per process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent))

from django_setup import configure

configure()


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    yield
    sturdydb.reset_process_state()
