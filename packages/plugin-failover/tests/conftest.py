"""Fixtures for the failover package's own tests: the machine's PostgreSQL and MariaDB.

Both servers listen on 127.0.0.1 (PostgreSQL 5432, trust auth, database ``test``; MariaDB
3306, root without password, database ``test``). Failover needs somewhere to go, so the tests
give a connection two names for the same server (pinned with ``sturdydb.map_host``): a
connection with several hosts and no cluster topology fails over among those hosts, which
exercises the whole failover path (abort, reconnect through the chain, role check, session
transfer, errors) without a cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from local_servers import ENGINES

import sturdydb


@pytest.fixture(autouse=True)
def _fresh_state() -> Iterator[None]:
    yield
    sturdydb.reset_process_state()


@pytest.fixture(params=["pg", "mysql"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def names(engine: str) -> Iterator[tuple[str, str]]:
    """Two host names pinned to the engine's local server."""
    port = ENGINES[engine][1]
    tag = uuid.uuid4().hex[:8]
    first, second = f"a-{tag}.local.test", f"b-{tag}.local.test"
    sturdydb.map_host(first, "127.0.0.1", port)
    sturdydb.map_host(second, "127.0.0.1", port)
    yield first, second
    sturdydb.unmap_host(first)
    sturdydb.unmap_host(second)


@pytest.fixture
def open_conn(engine: str, names: tuple[str, str]) -> Callable[..., sturdydb.Connection]:
    """Open a sturdydb connection with failover over both names (more properties as keywords)."""
    target, port, base = ENGINES[engine]
    opened: list[sturdydb.Connection] = []

    def connect(**kwargs: Any) -> sturdydb.Connection:
        props: dict[str, Any] = {"host": ",".join(names), "port": port, "plugins": "failover",
                                 "failover_timeout_sec": 10, **base, **kwargs}
        conn = sturdydb.connect(target, **props)
        opened.append(conn)
        return conn

    yield connect  # type: ignore[misc]
    for conn in opened:
        try:
            conn.close()
        except Exception:
            pass
