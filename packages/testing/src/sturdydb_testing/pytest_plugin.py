"""The pytest plugin (entry point ``pytest11``): cluster fixtures, fault fixtures, markers.

Clusters are session-scoped (one start per engine per test session) and handed to each test
healed: writer up, faults cleared, replicas replicating, endpoints current. Engines whose
servers are not installed fail loudly with the reason instead of skipping, because CI
installs them.

Fixtures: ``pg_cluster``, ``mysql_cluster``, ``aurora_cluster`` (parametrized over both
engines), and the single-fault fixtures ``killed_writer``, ``frozen_writer``,
``blackholed_writer`` and ``failed_over_writer`` that act on whichever of those the test uses, and
``pg_relay``/``mysql_relay``: a relay in front of the machine's own server that can go silent or slow.
Drivers: the ``dbapi_driver`` fixture is the :class:`~sturdydb_testing.drivers.Driver` a test connects
through (its cluster's default one), and the ``every_driver`` mark runs a test once per driver
(psycopg and psycopg2 on ``pg``, mysql-connector and PyMySQL on ``mysql``).
Markers: ``pg`` and ``mysql`` (added automatically to tests that use an engine's cluster).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sturdydb_testing.cluster import Cluster, Instance
from sturdydb_testing.drivers import DEFAULT_DRIVERS, DRIVERS, Driver
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster
from sturdydb_testing.relay import Relay

__all__ = [
    "aurora_cluster",
    "blackholed_writer",
    "dbapi_driver",
    "every_driver",
    "failed_over_writer",
    "frozen_writer",
    "killed_writer",
    "mysql_cluster",
    "pg_cluster",
]

_ENGINE_FIXTURES = {"pg": "pg_cluster", "mysql": "mysql_cluster"}

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        for marker, fixture in _ENGINE_FIXTURES.items():
            if fixture in names:
                item.add_marker(getattr(pytest.mark, marker))


def _session_cluster(request: pytest.FixtureRequest, cluster_type: type[Cluster]) -> Iterator[Cluster]:
    options = request.config.option
    cluster = cluster_type(
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


def _test_cluster(request: pytest.FixtureRequest) -> Cluster:
    for name in ("pg_cluster", "mysql_cluster", "aurora_cluster"):
        if name in request.fixturenames:
            cluster: Cluster = request.getfixturevalue(name)
            return cluster
    raise pytest.UsageError(
        f"{request.fixturename} acts on the test's cluster: also request pg_cluster, mysql_cluster or aurora_cluster"
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
