"""Benchmark: SQLAlchemy through sturdydb vs SQLAlchemy on the plain driver. Prints JSON.

On the machine's own servers (PostgreSQL 127.0.0.1:5432, MariaDB 127.0.0.1:3306, database
``test``), two operations, each on a connection/session held for the whole batch:

- ``core_select``: ``conn.execute(select(items).where(items.c.id == n)).one()``;
- ``orm_get``: ``session.get(Item, n)`` with an empty identity map (so it really queries).

Variants: ``plain`` (``postgresql+psycopg://`` / ``mysql+mysqlconnector://``),
``sturdydb`` (``postgresql+sturdydb://`` / ``mysql+sturdydb://`` with
``plugins=failover,host_monitoring``) and ``sturdydb_no_plugins`` (the same with
``plugins=""``: the wrapper alone, to tell its cost from the plugins'). Batches of each variant are interleaved round-robin so
that load from other processes hits both alike. Reports the median microseconds per operation
and the overhead of sturdydb over plain (issue 13's goal: within 5 %). On a single plain server
the failover plugin has no topology and stays out of the way, so this measures the wrapper,
the plugin chain and host monitoring's per-call bookkeeping.

After the warm-up the client's thread and the server backend of every variant's pooled
connection are pinned to one core, as in ``benchmarks/core_overhead.py``: on a shared 2-core
machine an unpinned round trip is bimodal (the backend wakes on the other core or not, about
60 against 140 us for the same select), which swamps a few per cent. Pinned, each operation
costs the client's and the server's CPU time plus two context switches, so the comparison is of
the work done; the figures are not a network round trip's latency. ``--no-pin`` measures
unpinned.
Usage: ``python orm_overhead.py [--engine pg|mysql|all] [--rounds 15] [--ops 300] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

URLS = {
    "pg": {"plain": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
           "sturdydb": "postgresql+sturdydb://postgres@127.0.0.1:5432/test"},
    "mysql": {"plain": "mysql+mysqlconnector://root@127.0.0.1:3306/test?use_pure=true",
              "sturdydb": "mysql+sturdydb://root@127.0.0.1:3306/test?use_pure=true"},
}
TABLE = "bench_sa_items"
ROWS = 1000


class Base(orm.DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = TABLE
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True, autoincrement=False)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(40))


def _engines(engine: str) -> dict[str, sa.Engine]:
    urls = URLS[engine]
    return {
        "plain": sa.create_engine(urls["plain"]),
        "sturdydb": sa.create_engine(urls["sturdydb"], connect_args={"plugins": "failover,host_monitoring"}),
        "sturdydb_no_plugins": sa.create_engine(urls["sturdydb"], connect_args={"plugins": ""}),
    }


def _batch_core(engine: sa.Engine, ops: int) -> float:
    items = Item.__table__
    stmt = sa.select(items.c.id, items.c.name).where(items.c.id == sa.bindparam("n"))
    with engine.connect() as conn:
        start = time.perf_counter()
        for i in range(ops):
            conn.execute(stmt, {"n": i % ROWS + 1}).one()
        elapsed = time.perf_counter() - start
        conn.rollback()
    return elapsed / ops * 1e6


def _batch_orm(engine: sa.Engine, ops: int) -> float:
    with orm.Session(engine) as session:
        start = time.perf_counter()
        for i in range(ops):
            session.get(Item, i % ROWS + 1)
            session.expunge_all()  # the next get queries the database again
        elapsed = time.perf_counter() - start
        session.rollback()
    return elapsed / ops * 1e6


def _backend_ids(engine_name: str, eng: sa.Engine) -> list[int]:
    """The OS process (PostgreSQL) or thread (MariaDB 10.5+) id serving ``eng``'s pooled connection."""
    query = ("SELECT pg_backend_pid()" if engine_name == "pg"
             else "SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
    try:
        with eng.connect() as conn:
            found = conn.exec_driver_sql(query).scalar()
    except sa.exc.DBAPIError:
        return []  # MySQL has no TID column: unpinned, noisier
    return [int(found)] if found else []


def _pin_to_one_core(ids: list[int]) -> bool:
    """Pin this thread and ``ids`` to this process's first allowed core; ``False`` if not allowed."""
    core = {min(os.sched_getaffinity(0))}
    try:
        for pid in [0, *ids]:
            os.sched_setaffinity(pid, core)
    except OSError:
        return False  # not ours to pin (not root): results are noisier, not wrong
    return True


def _measure(engine: str, rounds: int, ops: int, pin: bool = True) -> dict[str, Any]:
    engines = _engines(engine)
    setup = engines["plain"]
    Base.metadata.drop_all(setup)
    Base.metadata.create_all(setup)
    with setup.begin() as conn:
        conn.execute(sa.insert(Item), [{"id": i, "name": f"item {i}"} for i in range(1, ROWS + 1)])
    results: dict[str, Any] = {}
    try:
        batches: dict[str, Callable[[sa.Engine, int], float]] = {"core_select": _batch_core, "orm_get": _batch_orm}
        for op, batch in batches.items():
            samples: dict[str, list[float]] = {name: [] for name in engines}
            for eng in engines.values():  # warm up: connections, statement caches, monitors
                batch(eng, ops)
            if pin:
                ids = [i for eng in engines.values() for i in _backend_ids(engine, eng)]
                results["pinned_to_one_core"] = _pin_to_one_core(ids) and len(ids) == len(engines)
            for _ in range(rounds):
                for name, eng in engines.items():
                    samples[name].append(batch(eng, ops))
            plain = statistics.median(samples["plain"])
            sturdy = statistics.median(samples["sturdydb"])
            bare = statistics.median(samples["sturdydb_no_plugins"])
            results[op] = {
                "plain_us": round(plain, 1),
                "sturdydb_us": round(sturdy, 1),
                "overhead_us": round(sturdy - plain, 1),
                "overhead_pct": round((sturdy - plain) / plain * 100, 1),
                "no_plugins_us": round(bare, 1),
                "plain_min_us": round(min(samples["plain"]), 1),
                "sturdydb_min_us": round(min(samples["sturdydb"]), 1),
                "no_plugins_min_us": round(min(samples["sturdydb_no_plugins"]), 1),
            }
    finally:
        Base.metadata.drop_all(setup)
        for eng in engines.values():
            eng.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["pg", "mysql", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 100 operations")
    parser.add_argument("--no-pin", action="store_true", help="leave client and server threads unpinned")
    args = parser.parse_args(argv)
    rounds, ops = (3, 100) if args.quick else (args.rounds, args.ops)
    engines = ["pg", "mysql"] if args.engine == "all" else [args.engine]
    report: dict[str, Any] = {
        "benchmark": "sqlalchemy_overhead",
        "what": "median microseconds per operation, SQLAlchemy through sturdydb (plugins=failover,host_monitoring) "
                "vs SQLAlchemy on the plain driver, batches interleaved",
        "rounds": rounds, "ops_per_batch": ops, "goal_pct": 5,
    }
    for engine in engines:
        report[engine] = _measure(engine, rounds, ops, pin=not args.no_pin)
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
