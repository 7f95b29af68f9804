"""The pytest plugin (entry point ``pytest11``): cluster fixtures, fault fixtures, markers.

Clusters are session-scoped (one start per engine per test session) and handed to each test
healed: writer up, faults cleared, replicas replicating, endpoints current. Engines whose
servers are not installed fail loudly with the reason instead of skipping, because CI
installs them.

Fixtures: ``pg_cluster``, ``mysql_cluster``, ``aurora_cluster`` (parametrized over both
engines); the RDS Multi-AZ DB cluster twins ``pg_multi_az_cluster``, ``mysql_multi_az_cluster``
and ``multi_az_cluster`` (both engines); ``rds_cluster`` (every kind on every engine: aurora and
multi-az, pg and mysql), ``limitless_cluster`` (an Aurora PostgreSQL Limitless shard group with
three transaction routers), and the single-fault fixtures ``killed_writer``, ``frozen_writer``,
``blackholed_writer`` and ``failed_over_writer`` that act on whichever of those the test uses, and
``pg_relay``/``mysql_relay``: a relay in front of the machine's own server that can go silent or slow,
and ``blue_green_deployment``: a factory of Blue/Green deployments (one per call, stopped after the test).
Drivers: the ``dbapi_driver`` fixture is the :class:`~sturdydb_testing.drivers.Driver` a test connects
through (its cluster's default one), the ``every_driver`` mark runs a test once per driver
(psycopg and psycopg2 on ``pg``, mysql-connector and PyMySQL on ``mysql``), and
``every_driver_and_kind`` does that on ``rds_cluster``'s Aurora kind plus the default drivers on Multi-AZ.
Markers: ``pg`` and ``mysql`` (added automatically to tests that use an engine's cluster) and
``multi_az`` (tests on a Multi-AZ DB cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sturdydb_testing.bluegreen import BlueGreenDeployment
from sturdydb_testing.cluster import Cluster, ClusterKind, Instance
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver
from sturdydb_testing.limitless import LimitlessCluster
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster
from sturdydb_testing.relay import Relay

__all__ = [
    "aurora_cluster",
    "blackholed_writer",
    "blue_green_deployment",
    "dbapi_driver",
    "every_driver",
    "every_driver_and_kind",
    "failed_over_writer",
    "frozen_writer",
    "killed_writer",
    "limitless_cluster",
    "multi_az_cluster",
    "mysql_cluster",
    "mysql_multi_az_cluster",
    "pg_cluster",
    "pg_multi_az_cluster",
    "rds_cluster",
]

_ENGINE_FIXTURES = {"pg": "pg_cluster", "mysql": "mysql_cluster"}
_MULTI_AZ_FIXTURES = {"pg": "pg_multi_az_cluster", "mysql": "mysql_multi_az_cluster"}
_CLUSTER_FIXTURES = (
    "pg_cluster", "mysql_cluster", "aurora_cluster",
    "pg_multi_az_cluster", "mysql_multi_az_cluster", "multi_az_cluster", "rds_cluster",
)

#: Run a test once per driver, each on its engine's cluster. The test takes ``aurora_cluster``
#: and ``dbapi_driver``; ids are ``pg-psycopg``, ``pg-psycopg2``, ``mysql-mysql-connector`` and
#: ``mysql-pymysql``, so ``-k pymysql`` selects one driver. A parametrize mark (not fixture
#: params) because it pairs each driver with its own engine's cluster instead of crossing them.
every_driver = pytest.mark.parametrize(
    ("aurora_cluster", "dbapi_driver"),
    [
        pytest.param(d.engine, d, id=f"{d.engine}-{d.short_name}", marks=getattr(pytest.mark, d.engine))
        for d in DRIVERS
    ],
    indirect=["aurora_cluster"],
)

#: ``every_driver`` on ``rds_cluster``: each driver on its engine's Aurora cluster, plus each
#: engine's default driver on its Multi-AZ DB cluster. For the main failover scenarios, which must
#: hold on every driver and on every cluster kind; crossing the two would double their run time
#: and test nothing new, since a driver's code does not depend on the kind of cluster.
every_driver_and_kind = pytest.mark.parametrize(
    ("rds_cluster", "dbapi_driver"),
    [
        pytest.param(f"aurora-{d.engine}", d, id=f"aurora-{d.engine}-{d.short_name}",
                     marks=getattr(pytest.mark, d.engine))
        for d in DRIVERS
    ] + [
        pytest.param(f"multi-az-{engine}", d, id=f"multi-az-{engine}-{d.short_name}",
                     marks=[getattr(pytest.mark, engine), pytest.mark.multi_az])
        for engine, d in DEFAULT_DRIVERS.items()
    ],
    indirect=["rds_cluster"],
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sturdydb-testing")
    group.addoption(
        "--sturdydb-replicas", type=int, default=2, help="replicas per session cluster (default 2)"
    )
    group.addoption(
        "--sturdydb-dns-delay",
        type=float,
        default=5.0,
        help="seconds before the session clusters' endpoints follow a change (default 5)",
    )
    group.addoption(
        "--sturdydb-promote-delay",
        type=float,
        default=1.0,
        help="seconds between a failover's fault and the promotion (default 1)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pg: the test runs against a PostgreSQL (aurora-pg) cluster")
    config.addinivalue_line("markers", "mysql: the test runs against a MariaDB (aurora-mysql) cluster")
    config.addinivalue_line("markers", "multi_az: the test runs against an RDS Multi-AZ DB cluster emulation")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker, fixture in _ENGINE_FIXTURES.items():
            if fixture in names or _MULTI_AZ_FIXTURES[marker] in names:
                item.add_marker(getattr(pytest.mark, marker))
        if any(fixture in names for fixture in _MULTI_AZ_FIXTURES.values()):
            item.add_marker(pytest.mark.multi_az)


def _session_cluster(
    request: pytest.FixtureRequest, cluster_type: type[Cluster], kind: ClusterKind = "aurora"
) -> Iterator[Cluster]:
    options = request.config.option
    cluster = cluster_type(
        kind=kind,
        name=f"sturdydb-{cluster_type.engine}-multi-az" if kind == "multi-az" else None,
        replicas=options.sturdydb_replicas,
        dns_delay=options.sturdydb_dns_delay,
        promote_delay=options.sturdydb_promote_delay,
    )
    # No skip when the binaries are missing: the ServerBinariesNotFound error fails the test
    # with the reason and the install hint.
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_session_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The PostgreSQL cluster shared by the whole session (prefer ``pg_cluster``)."""
    yield from _session_cluster(request, PostgresCluster)


@pytest.fixture(scope="session")
def mysql_session_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The MariaDB cluster shared by the whole session (prefer ``mysql_cluster``)."""
    yield from _session_cluster(request, MariaDBCluster)


@pytest.fixture
def pg_cluster(pg_session_cluster: Cluster) -> Cluster:
    """A healthy PostgreSQL Aurora-like cluster (the session's, healed before the test)."""
    pg_session_cluster.heal()
    return pg_session_cluster


@pytest.fixture
def mysql_cluster(mysql_session_cluster: Cluster) -> Cluster:
    """A healthy MariaDB Aurora-like cluster (the session's, healed before the test)."""
    mysql_session_cluster.heal()
    return mysql_session_cluster


@pytest.fixture(
    params=[pytest.param("pg", marks=pytest.mark.pg), pytest.param("mysql", marks=pytest.mark.mysql)]
)
def aurora_cluster(request: pytest.FixtureRequest) -> Cluster:
    """Each engine's healthy cluster in turn (the test runs once per engine)."""
    cluster: Cluster = request.getfixturevalue(_ENGINE_FIXTURES[request.param])
    return cluster


@pytest.fixture(scope="session")
def pg_multi_az_session_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The PostgreSQL Multi-AZ DB cluster shared by the session (prefer ``pg_multi_az_cluster``)."""
    yield from _session_cluster(request, PostgresCluster, "multi-az")


@pytest.fixture(scope="session")
def mysql_multi_az_session_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The MariaDB Multi-AZ DB cluster shared by the session (prefer ``mysql_multi_az_cluster``)."""
    yield from _session_cluster(request, MariaDBCluster, "multi-az")


@pytest.fixture
def pg_multi_az_cluster(pg_multi_az_session_cluster: Cluster) -> Cluster:
    """A healthy PostgreSQL cluster with the RDS Multi-AZ DB cluster surface (healed)."""
    pg_multi_az_session_cluster.heal()
    return pg_multi_az_session_cluster


@pytest.fixture
def mysql_multi_az_cluster(mysql_multi_az_session_cluster: Cluster) -> Cluster:
    """A healthy MariaDB cluster with the RDS Multi-AZ DB cluster surface (healed)."""
    mysql_multi_az_session_cluster.heal()
    return mysql_multi_az_session_cluster


@pytest.fixture(
    params=[
        pytest.param("pg", marks=[pytest.mark.pg, pytest.mark.multi_az]),
        pytest.param("mysql", marks=[pytest.mark.mysql, pytest.mark.multi_az]),
    ]
)
def multi_az_cluster(request: pytest.FixtureRequest) -> Cluster:
    """Each engine's healthy Multi-AZ DB cluster in turn."""
    cluster: Cluster = request.getfixturevalue(_MULTI_AZ_FIXTURES[request.param])
    return cluster


@pytest.fixture(
    params=[
        pytest.param("aurora-pg", marks=pytest.mark.pg),
        pytest.param("aurora-mysql", marks=pytest.mark.mysql),
        pytest.param("multi-az-pg", marks=[pytest.mark.pg, pytest.mark.multi_az]),
        pytest.param("multi-az-mysql", marks=[pytest.mark.mysql, pytest.mark.multi_az]),
    ]
)
def rds_cluster(request: pytest.FixtureRequest) -> Cluster:
    """Every emulated cluster kind on every engine in turn (Aurora and Multi-AZ, pg and mysql)."""
    kind, _, engine = request.param.rpartition("-")
    fixtures = _MULTI_AZ_FIXTURES if kind == "multi-az" else _ENGINE_FIXTURES
    cluster: Cluster = request.getfixturevalue(fixtures[engine])
    return cluster


@pytest.fixture(scope="session")
def limitless_session_cluster() -> Iterator[LimitlessCluster]:
    """The Limitless shard group shared by the session (prefer ``limitless_cluster``)."""
    cluster = LimitlessCluster(routers=3)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def limitless_cluster(limitless_session_cluster: LimitlessCluster) -> LimitlessCluster:
    """A healthy Limitless shard group: every router up, listed and idle."""
    limitless_session_cluster.heal()
    return limitless_session_cluster


def _test_cluster(request: pytest.FixtureRequest) -> Cluster:
    for name in _CLUSTER_FIXTURES:
        if name in request.fixturenames:
            cluster: Cluster = request.getfixturevalue(name)
            return cluster
    raise pytest.UsageError(
        f"{request.fixturename} acts on the test's cluster: also request one of {', '.join(_CLUSTER_FIXTURES)}"
    )


@pytest.fixture
def dbapi_driver(request: pytest.FixtureRequest) -> Driver:
    """The driver of the test's cluster that a test not marked ``every_driver`` connects
    through: psycopg on ``pg``, mysql-connector-python on ``mysql``."""
    return DEFAULT_DRIVERS[_test_cluster(request).engine]


@pytest.fixture
def killed_writer(request: pytest.FixtureRequest) -> Instance:
    """The test's cluster with its writer killed (no failover); healed for the next test."""
    cluster = _test_cluster(request)
    assert cluster.writer is not None
    return cluster.kill(cluster.writer)


@pytest.fixture
def frozen_writer(request: pytest.FixtureRequest) -> Iterator[Instance]:
    """The test's cluster with its writer frozen (SIGSTOP); thawed after the test."""
    cluster = _test_cluster(request)
    assert cluster.writer is not None
    instance = cluster.freeze(cluster.writer)
    yield instance
    cluster.thaw(instance)


@pytest.fixture
def blackholed_writer(request: pytest.FixtureRequest) -> Iterator[Instance]:
    """The test's cluster with its writer's network blackholed; restored after the test."""
    cluster = _test_cluster(request)
    assert cluster.writer is not None
    instance = cluster.blackhole(cluster.writer)
    yield instance
    cluster.restore(instance)


@pytest.fixture
def failed_over_writer(request: pytest.FixtureRequest) -> Instance:
    """The test's cluster after a completed failover (old writer killed); the new writer."""
    return _test_cluster(request).failover()


@pytest.fixture
def pg_relay() -> Iterator[Relay]:
    """A relay in front of the machine's own PostgreSQL (127.0.0.1:5432) that can go silent or slow."""
    relay = Relay(5432)
    yield relay
    relay.close()


@pytest.fixture
def mysql_relay() -> Iterator[Relay]:
    """A relay in front of the machine's own MariaDB (127.0.0.1:3306) that can go silent or slow."""
    relay = Relay(3306)
    yield relay
    relay.close()


@pytest.fixture
def blue_green_deployment() -> Iterator[Callable[..., BlueGreenDeployment]]:
    """``blue_green_deployment(PostgresCluster | MariaDBCluster, **options)``: a started Blue/Green
    deployment (see :class:`~sturdydb_testing.bluegreen.BlueGreenDeployment`), stopped after the
    test. A switchover is one-way, so each call builds a new one."""
    started: list[BlueGreenDeployment] = []

    def make(engine: type[PostgresCluster] | type[MariaDBCluster], **options: Any) -> BlueGreenDeployment:
        deployment = BlueGreenDeployment(engine, **options)
        started.append(deployment)
        return deployment.start()

    yield make
    for deployment in started:
        deployment.stop()
