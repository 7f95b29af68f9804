"""Fixtures for sturdydb-blue-green's scenarios on real Blue/Green deployments (``sturdydb-testing``).

Helpers live in :mod:`bg_scenarios` (a unique module name: every package's integration folder
runs in one pytest session). A switchover is one-way, so each test gets its own deployment.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import sturdydb
from sturdydb_testing import BlueGreenDeployment, MariaDBCluster, PostgresCluster

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _fresh_sturdydb_state() -> Iterator[None]:
    """Every scenario starts without monitors or cached topology, like a new process."""
    sturdydb.reset_process_state()
    yield
    sturdydb.reset_process_state()


@pytest.fixture(params=["pg", "mysql"])
def engine(request: pytest.FixtureRequest) -> type[PostgresCluster] | type[MariaDBCluster]:
    request.applymarker(getattr(pytest.mark, request.param))
    return PostgresCluster if request.param == "pg" else MariaDBCluster


@pytest.fixture
def make_deployment(
    engine: type[PostgresCluster] | type[MariaDBCluster], blue_green_deployment: Callable[..., BlueGreenDeployment]
) -> Callable[..., BlueGreenDeployment]:
    """``make_deployment(**options)``: a started deployment of the test's engine (blue writer,
    green writer by default), stopped after the test (sturdydb-testing's fixture)."""

    def make(**options: object) -> BlueGreenDeployment:
        return blue_green_deployment(engine, **{"replicas": 0, **options})

    return make
