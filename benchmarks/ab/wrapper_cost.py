"""A/B helper: the pure cost of sturdydb's Cursor around a driver cursor, with no plugins.

Replaces the driver cursor behind a real sturdydb cursor with a stub whose ``execute`` and
``fetchone`` return at once, then times execute+fetchone through sturdydb against the stub
alone (best of 30 rounds of 20,000). No network and no server time in the loop, so two
checkouts can be compared on a busy machine, which the interleaved benchmark in
``benchmarks/core_overhead.py`` cannot resolve below about a microsecond. Run it with each
checkout's interpreter: ``python benchmarks/ab/wrapper_cost.py``. Reaches one private
attribute of the cursor on purpose (test tooling, not an example of the plugin API).
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

import sturdydb

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"


class _StubCursor:
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> _StubCursor:
        return self

    def fetchone(self) -> tuple[int]:
        return (1,)


def _ns_per_call(cur: Any, n: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(n):
        cur.execute("SELECT 1")
        cur.fetchone()
    return (time.perf_counter_ns() - start) / n


def main() -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, PG, plugins="", autocommit=True)
    cur = conn.cursor()
    stub = _StubCursor()
    cur._cursor = stub  # type: ignore[attr-defined]
    best_stub = best_wrapped = float("inf")
    for _ in range(30):
        best_stub = min(best_stub, _ns_per_call(stub, 20_000))
        best_wrapped = min(best_wrapped, _ns_per_call(cur, 20_000))
    print(f"stub {best_stub:.0f} ns, sturdydb over stub {best_wrapped:.0f} ns, "
          f"wrapper cost {best_wrapped - best_stub:.0f} ns per execute+fetchone")
    conn.close()


if __name__ == "__main__":
    main()
