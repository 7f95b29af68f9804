"""Fixtures for sturdydb-blue-green's scenarios on real Blue/Green deployments (``sturdydb-testing``).

Helpers live in :mod:`bg_scenarios` (a unique module name: every package's integration folder
runs in one pytest session). A switchover is one-way, so each test gets its own deployment.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
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
def make_deployment(engine: type[PostgresCluster] | type[MariaDBCluster]) -> Iterator[object]:
    """``make_deployment(**options)``: a started deployment (blue writer, green writer), stopped after."""
    started: list[BlueGreenDeployment] = []

    def make(**options: object) -> BlueGreenDeployment:
        deployment = BlueGreenDeployment(engine, **{"replicas": 0, **options})  # type: ignore[arg-type]
        started.append(deployment)
        return deployment.start()

    yield make
    for deployment in started:
        deployment.stop()
