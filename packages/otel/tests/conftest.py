"""Fixtures for sturdydb-otel's tests: a fresh sturdydb and an SDK with in-memory exporters."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sturdydb

sys.path.insert(0, str(Path(__file__).parent))

from otel_capture import Capture


@pytest.fixture
def capture() -> Iterator[Capture]:
    """The plugin's telemetry goes to in-memory exporters for this test."""
    sturdydb.reset_process_state()
    found = Capture()
    found.install()
    yield found
    sturdydb.reset_process_state()
    found.tracer_provider.shutdown()
    found.meter_provider.shutdown()
