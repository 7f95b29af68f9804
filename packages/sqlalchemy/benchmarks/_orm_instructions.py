"""Client instructions per SQLAlchemy operation, plain driver dialect vs sturdydb, under callgrind.

On a shared, loaded machine the wall-clock benchmark (``orm_overhead.py``) cannot resolve a few
per cent. Instruction counts can: each variant runs in its own process under valgrind's
callgrind, instrumentation switched on only for the measured loop (the loop runs inside
``functools.reduce``, the only function whose instructions are collected), so imports, connects
and warm-up are not counted; the server's work is not in the client's count either. The figure
is the client's CPU cost per operation; what it adds to a round trip's wall time is smaller.

Same operations as ``orm_overhead.py`` (a Core ``select`` by primary key with ``.one()``, an
ORM ``session.get`` with an empty identity map), on the machine's own PostgreSQL and MariaDB.
Needs ``valgrind`` (Debian package). Not part of ``nox -s bench`` (15-30 s per process).

A process's count repeats exactly (after the warm-up the heap is frozen out of the garbage
collector, see ``_child``), but it depends on where objects happen to sit in memory: CPython's
method cache is indexed by addresses, and a layout where two hot lookups collide costs a few
per cent of an operation. So each variant runs in ``--seeds`` processes with different
``PYTHONHASHSEED`` values (different layouts) and the median is reported.
Usage: ``python _orm_instructions.py [--engine pg|mysql|all] [--op core|orm|all] [--ops 300] [--seeds 3]``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

VARIANTS = ("plain", "sturdydb_no_plugins", "sturdydb")


def _child(engine_name: str, variant: str, op: str, ops: int) -> None:
    """Inside valgrind: set up, warm up, switch instrumentation on, run ``ops`` operations."""
    import sqlalchemy as sa
    from sqlalchemy import orm

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import orm_overhead as bench

    urls = bench.URLS[engine_name]
    setup = sa.create_engine(urls["plain"])
    bench.Base.metadata.create_all(setup)
    with setup.begin() as conn:
        if not conn.execute(sa.select(sa.func.count()).select_from(bench.Item)).scalar():
            conn.execute(sa.insert(bench.Item), [{"id": i, "name": f"item {i}"} for i in range(1, bench.ROWS + 1)])
    setup.dispose()
    engines = bench._engines(engine_name)
    engine = engines[variant]
    items = bench.Item.__table__
    stmt = sa.select(items.c.id, items.c.name).where(items.c.id == sa.bindparam("n"))
    with engine.connect() as conn, orm.Session(engine) as session:
        if op == "core":
            def step(_: Any, i: int) -> None:
                conn.execute(stmt, {"n": i % bench.ROWS + 1}).one()
        else:
            def step(_: Any, i: int) -> None:
                session.get(bench.Item, i % bench.ROWS + 1)
                session.expunge_all()
        functools.reduce(step, range(200), None)  # warm up (not instrumented yet)
        # Everything alive now (modules, engines, the warm-up's leftovers) is moved out of the
        # collector's generations: otherwise whether a full collection over the whole heap
        # falls inside the measured loop decides a few per cent of an ORM operation's count.
        # Collections of what the loop itself allocates are still counted.
        gc.collect()
        gc.freeze()
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True, check=False)
        functools.reduce(step, range(ops), None)
    for eng in engines.values():
        eng.dispose()


def _measure(engine_name: str, variant: str, op: str, ops: int, seed: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--toggle-collect=functools_reduce",
             f"--callgrind-out-file={out}", sys.executable, __file__, "--child", engine_name, variant, op, str(ops)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)}, capture_output=True, check=True, timeout=1800)
        for line in out.read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1]) // ops
    raise RuntimeError("callgrind wrote no totals")


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        _child(args_in[1], args_in[2], args_in[3], int(args_in[4]))
        return 0
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--engine", choices=["pg", "mysql", "all"], default="all")
    parser.add_argument("--op", choices=["core", "orm", "all"], default="all")
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3,
                        help="processes per variant, PYTHONHASHSEED 0..N-1; the median is reported")
    args = parser.parse_args(args_in)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    report: dict[str, Any] = {"benchmark": "sqlalchemy client instructions per operation (callgrind)",
                              "ops": args.ops, "seeds": args.seeds}
    for engine_name in (["pg", "mysql"] if args.engine == "all" else [args.engine]):
        for op in (["core", "orm"] if args.op == "all" else [args.op]):
            counts = {v: int(statistics.median(_measure(engine_name, v, op, args.ops, seed)
                                               for seed in range(args.seeds))) for v in VARIANTS}
            plain = counts["plain"]
            report[f"{engine_name} {op}"] = {
                **{f"{v}_instr": n for v, n in counts.items()},
                "sturdydb_over_plain_pct": round((counts["sturdydb"] - plain) / plain * 100, 1),
                "no_plugins_over_plain_pct": round((counts["sturdydb_no_plugins"] - plain) / plain * 100, 1),
            }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
