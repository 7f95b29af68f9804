"""Every scenario starts without monitors or cached state, like a new process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sturdydb


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()
