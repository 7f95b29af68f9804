"""An Aurora PostgreSQL Limitless shard group: several transaction routers that report load.

Aurora Limitless spreads one logical database over shards behind *transaction routers*; an
application connects to a router, and ``pg_catalog.aurora_limitless_router_endpoints()`` lists
every router with its current load (0 to 1). This emulation keeps one real PostgreSQL server
(the data: what matters to a client is that every router serves the same database) and puts
each router on its own loopback address as a fault proxy in front of it, so a router can be
killed, frozen (blackholed) or loaded independently:

- :meth:`LimitlessCluster.set_load` changes what the router function reports;
- :meth:`LimitlessCluster.kill_router` makes a router refuse connections and drops its
  current ones (it stays listed, as a failed router does until Aurora replaces it);
- :meth:`LimitlessCluster.remove_router` / :meth:`LimitlessCluster.add_router` change the
  listed set;
- the shard group endpoint (``<name>.shardgrp-<hash>.<region>.rds.amazonaws.com``) spreads
  connections over the live routers, like its DNS does.

The router list is a table on the server that the harness writes; every router answers the
function from it, so all routers agree, as the real ones do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import sturdydb
from sturdydb_testing.loopback import AddressClaim, claim_address
from sturdydb_testing.postgres import PostgresCluster
from sturdydb_testing.proxy import TcpProxy

__all__ = ["LimitlessCluster", "Router"]

_ROUTER_SQL = """
SET allow_system_table_mods = on;
CREATE SCHEMA sturdydb_limitless;
CREATE TABLE sturdydb_limitless.routers (endpoint text PRIMARY KEY, load numeric NOT NULL);
GRANT USAGE ON SCHEMA sturdydb_limitless TO PUBLIC;
GRANT SELECT ON sturdydb_limitless.routers TO PUBLIC;
CREATE FUNCTION pg_catalog.aurora_limitless_router_endpoints()
RETURNS TABLE (router_endpoint text, load numeric)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT r.endpoint, r.load FROM sturdydb_limitless.routers r ORDER BY r.endpoint
$$;
"""


class Router:
    """One transaction router: a listening loopback address in front of the shard group."""

    def __init__(self, index: int, claim: AddressClaim, target: Callable[[], tuple[str, int] | None]) -> None:
        self.name = f"router-{index}"
        self.claim = claim
        self.address = claim.address
        self.port = claim.port
        self.load = 0.0
        self.listed = True
        self.proxy = TcpProxy(self.name, self.address, self.port, target)

    def __repr__(self) -> str:
        state = "down" if self.proxy.server_down else "up"
        return f"<Router {self.name} {self.address}:{self.port} load={self.load} {state}>"

    @property
    def alive(self) -> bool:
        return not self.proxy.server_down


class LimitlessCluster(PostgresCluster):
    """A PostgreSQL server with ``routers`` transaction routers that report load (aurora-pg)."""

    def __init__(self, routers: int = 3, **options: Any) -> None:
        if routers < 1:
            raise ValueError(f"a shard group needs at least one router, not {routers}")
        options.setdefault("name", "sturdydb-limitless")
        super().__init__(0, kind="aurora", **options)
        self.router_count = routers
        self.routers: list[Router] = []
        self.shard_group_host = self.cluster_host.replace(".cluster-", ".shardgrp-", 1)
        self.shard_group_proxy: TcpProxy | None = None

    def start(self) -> LimitlessCluster:
        if self.started:
            return self
        super().start()
        try:
            with self.admin_connect(self._server, self.dbname) as conn:
                conn.execute(_ROUTER_SQL)
            for _ in range(self.router_count):
                self.add_router(publish=False)
            claim = claim_address(self.standard_port)
            self._claims.append(claim)
            self.shard_group_proxy = TcpProxy("shard-group", claim.address, claim.port, _round_robin([]))
            self.shard_group_proxy.start()
            sturdydb.map_host(self.shard_group_host, claim.address, claim.port)
            self._pinned.append(self.shard_group_host)
            self._publish_routers()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for router in self.routers:
            with contextlib.suppress(Exception):
                router.proxy.close()
        if self.shard_group_proxy is not None:
            with contextlib.suppress(Exception):
                self.shard_group_proxy.close()
        self.routers = []
        self.shard_group_proxy = None
        super().stop()

    @property
    def _server(self) -> Any:
        writer = self.writer
        assert writer is not None, "the cluster is not started"
        return writer

    def _backend(self) -> tuple[str, int] | None:
        server = self._server
        return server.direct_address, server.direct_port

    # ------------------------------------------------------------------ routers
    def router(self, which: Router | str | int) -> Router:
        """A router by object, name (``"router-2"``), address or 1-based index."""
        if isinstance(which, Router):
            return which
        for router in self.routers:
            if which in (router.name, router.address, str(router.name[7:]), int(router.name[7:])):
                return router
        raise KeyError(f"no router {which!r}; routers: {[r.name for r in self.routers]}")

    def add_router(self, load: float = 0.0, *, publish: bool = True) -> Router:
        """Start one more router (listed with ``load``)."""
        claim = claim_address(self.standard_port)
        self._claims.append(claim)
        router = Router(len(self.routers) + 1, claim, self._backend)
        router.load = load
        router.proxy.start()
        self.routers.append(router)
        self._events.record("router_added", router.name, f"{router.address}:{router.port}")
        if publish:
            self._publish_routers()
        return router

    def set_load(self, which: Router | str | int, load: float) -> Router:
        """What the router function reports as ``which``'s load (0: idle, 1: saturated)."""
        router = self.router(which)
        router.load = load
        self._publish_routers()
        return router

    def kill_router(self, which: Router | str | int) -> Router:
        """The router refuses new connections and its connections break (still listed)."""
        router = self.router(which)
        router.proxy.set_server_down(True)
        router.proxy.reset_connections()
        self._events.record("router_kill", router.name)
        self._point_shard_group()
        return router

    def revive_router(self, which: Router | str | int) -> Router:
        router = self.router(which)
        router.proxy.set_server_down(False)
        router.proxy.clear_faults()
        self._events.record("router_revive", router.name)
        self._point_shard_group()
        return router

    def remove_router(self, which: Router | str | int) -> Router:
        """No longer listed by the router function (it keeps serving connections it has)."""
        router = self.router(which)
        router.listed = False
        self._publish_routers()
        return router

    def heal(self, timeout: float = 60.0) -> None:
        """Every router up, listed and idle, then the server healed as any cluster."""
        super().heal(timeout)
        for router in self.routers:
            router.proxy.set_server_down(False)
            router.proxy.clear_faults()
            router.listed = True
            router.load = 0.0
        self._publish_routers()

    def _point_shard_group(self) -> None:
        if self.shard_group_proxy is not None:
            self.shard_group_proxy.target = _round_robin([r for r in self.routers if r.alive])

    def _publish_routers(self) -> None:
        with self.admin_connect(self._server, self.dbname) as conn, conn.transaction():
            conn.execute("DELETE FROM sturdydb_limitless.routers")
            for router in self.routers:
                if router.listed:
                    conn.execute(
                        "INSERT INTO sturdydb_limitless.routers (endpoint, load) VALUES (%s, %s)",
                        (router.address, router.load),
                    )
        self._point_shard_group()

    def connect_kwargs(self, host: Any = None) -> dict[str, Any]:
        """As for any cluster; ``"shard-group"`` (or ``None``) is the shard group endpoint."""
        if host is None or host in ("shard-group", self.shard_group_host):
            assert self.shard_group_proxy is not None, "the cluster is not started"
            return {**super().connect_kwargs(self._server), "host": self.shard_group_host,
                    "port": self.shard_group_proxy.port}
        return super().connect_kwargs(host)

    def status(self) -> dict[str, Any]:
        status = super().status()
        status["shard_group_endpoint"] = self.shard_group_host
        status["routers"] = [
            {"name": r.name, "address": r.address, "port": r.port, "load": r.load, "alive": r.alive,
             "listed": r.listed, "accepted": r.proxy.accepted}
            for r in self.routers
        ]
        return status


def _round_robin(routers: list[Router]) -> Callable[[], tuple[str, int] | None]:
    state = {"next": 0}

    def choose() -> tuple[str, int] | None:
        if not routers:
            return None
        state["next"] = (state["next"] + 1) % len(routers)
        chosen = routers[state["next"]]
        return chosen.address, chosen.port

    return choose
