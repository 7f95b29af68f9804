"""Benchmark: what a cached IAM token or a cached secret adds to a connect. Prints JSON.

Connects to the machine's own servers (PostgreSQL 127.0.0.1:5432 trust, MariaDB
127.0.0.1:3306 root), each behind a ``sturdydb_testing`` front that accepts any credential
(so the token and the secret are accepted and every variant pays the same front), in four
ways, interleaved round-robin so that load from other processes hits every variant alike:

- ``raw``: the driver's connect (MySQL over TLS, which clear-text passwords need; PostgreSQL
  without);
- ``sturdydb``: sturdydb with no plugins (the baseline the auth plugins are measured against);
- ``iam_cached``: ``plugins=iam`` with a token already in the cache;
- ``secret_cached``: ``plugins=aws_secrets_manager`` with the secret already cached, the
  secret held by moto on loopback.

Reports median/min/max per variant in milliseconds, the overhead of each auth variant over
``sturdydb`` (goal: at most 10 %), and how many AWS requests the measured connects made
(goal: 0). Usage: ``python cached_connect.py [--engine pg|mysql|all] [--rounds 200]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RDS_HOST = "bench.cluster-b3nchb3nch12.us-east-1.rds.amazonaws.com"


def _engines(choice: str) -> list[str]:
    return ["pg", "mysql"] if choice == "all" else [choice]


class _AcceptAll:
    """The front's authenticator for the benchmark: every credential is fine (client cost only)."""

    def check(self, user: str, secret: str) -> str | None:
        return None


def _variants(engine: str, front: Any, secret_arn: str) -> dict[str, Callable[[], Any]]:
    import mysql.connector
    import psycopg

    import sturdydb

    common: dict[str, Any] = {"host": front.address, "port": front.port, "user": "bench", "password": "x"}
    if engine == "pg":
        raw_kwargs: dict[str, Any] = {**common, "dbname": "test", "sslmode": "disable"}
        target: Callable[..., Any] = psycopg.Connection.connect
        raw: Callable[[], Any] = lambda: psycopg.connect(**raw_kwargs)  # noqa: E731
    else:
        # mysql-connector sends a clear-text password only over TLS, so this front speaks TLS.
        raw_kwargs = {**common, "database": "test", "use_pure": True}
        target = mysql.connector.connect
        raw = lambda: mysql.connector.connect(**raw_kwargs)  # noqa: E731
    no_credentials = {k: v for k, v in raw_kwargs.items() if k not in ("password", "user")}
    return {
        "raw": raw,
        "sturdydb": lambda: sturdydb.connect(target, plugins="", **raw_kwargs),
        # iam_require_tls is off because the PostgreSQL front has no TLS: the plugin's own
        # cost is the same either way, and TLS would dominate every variant alike.
        "iam_cached": lambda: sturdydb.connect(
            target, plugins="iam", iam_host=RDS_HOST, iam_require_tls=False, **raw_kwargs),
        "secret_cached": lambda: sturdydb.connect(
            target, plugins="aws_secrets_manager", secrets_manager_secret_id=secret_arn, **no_credentials),
    }


def _measure(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, connect in variants.items():
            start = time.perf_counter()
            conn = connect()
            elapsed = time.perf_counter() - start
            conn.close()
            samples[name].append(elapsed * 1000)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["pg", "mysql", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)

    import sturdydb
    from sturdydb_testing.aws import LoopbackGuard, MotoServer, aws_environment
    from sturdydb_testing.iam_front import AuthFront

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
    results: dict[str, Any] = {"benchmark": "cached_connect", "rounds": args.rounds, "engines": {}}
    with contextlib.ExitStack() as stack, MotoServer() as moto, LoopbackGuard(), \
            tempfile.TemporaryDirectory() as folder:
        for name, value in aws_environment(moto.url, Path(folder)).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for engine in _engines(args.engine):
            # Every variant goes through the same front (accept-all), so the numbers
            # differ only by what sturdydb and the plugins do on the client.
            backend, backend_user = (("127.0.0.1", 5432), "postgres") if engine == "pg" else (
                ("127.0.0.1", 3306), "root")
            front = AuthFront("pg" if engine == "pg" else "mysql", backend, _AcceptAll(), backend_user=backend_user,
                              tls=engine == "mysql", name=f"bench-{engine}").start()
            stack.callback(front.close)
            arn = moto.client("secretsmanager").create_secret(
                Name=f"bench/{engine}", SecretString=json.dumps({"username": "bench", "password": "x"}))["ARN"]
            variants = _variants(engine, front, arn)
            for connect in variants.values():  # warm up: caches filled, clients created
                connect().close()
            moto.clear_record()
            samples = _measure(variants, args.rounds)
            stats = {name: {"median_ms": round(statistics.median(v), 3), "min_ms": round(min(v), 3),
                            "max_ms": round(max(v), 3)} for name, v in samples.items()}
            base = statistics.median(samples["sturdydb"])
            results["engines"][engine] = {
                "connect": stats,
                "overhead_vs_sturdydb_pct": {
                    name: round(100 * (statistics.median(samples[name]) - base) / base, 1)
                    for name in ("iam_cached", "secret_cached")
                },
                "aws_requests_during_measured_connects": moto.count(),
            }
        sturdydb.release_resources()
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
