"""The Django failover workload on psycopg2, in a child interpreter (see
``test_django_atomic_saves_through_failover``).

Django chooses psycopg2 only when ``import psycopg`` fails, once per process, and the test
process has psycopg 3 (the cluster fixtures use it). This child blocks psycopg 3, configures
Django, and runs :func:`atomic_units.run_units` against the cluster the parent started and
drives. Protocol, one line each: the child prints ``start-failover`` when thread 0 reaches its
fifth unit and waits for ``started`` on stdin; the parent sends ``promoted`` once the new writer
is up; the child ends with ``table <name>`` and ``outcome <json>`` on stdout.

Argument: a JSON object with ``kwargs`` (``Cluster.connect_kwargs()``), ``dbname`` and ``pins``
(the parent's :func:`sturdydb.mapped_hosts`, so the Aurora-shaped names resolve here too).
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

sys.modules["psycopg"] = None  # type: ignore[assignment]  # as if psycopg 3 were not installed
sys.path[:0] = [str(Path(__file__).parent.parent), str(Path(__file__).parent)]

from django_setup import configure, unit_model  # noqa: E402

configure()

from atomic_units import add_cluster_database, run_units  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.backends.postgresql.psycopg_any import is_psycopg3  # noqa: E402

import sturdydb  # noqa: E402


def main() -> None:
    config = json.loads(sys.argv[1])
    for host, (address, port) in config["pins"].items():
        sturdydb.map_host(host, address, port)
    assert not is_psycopg3
    alias = add_cluster_database("pg", config["kwargs"], config["dbname"])
    model = unit_model()
    with connections[alias].schema_editor() as editor:
        editor.create_model(model)
    assert connections[alias].connection.context.driver.name == "psycopg2"
    connections[alias].close()
    print(f"table {model._meta.db_table}", flush=True)

    started = threading.Event()
    promoted = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            {"started": started, "promoted": promoted}[line.strip()].set()

    threading.Thread(target=listen, name="parent-listener", daemon=True).start()

    def start_failover() -> None:
        print("start-failover", flush=True)
        assert started.wait(60), "the parent never started the failover"

    outcome = run_units(alias, model, "pg", start_failover, promoted.is_set)
    print(f"outcome {outcome.to_json()}", flush=True)


if __name__ == "__main__":
    main()
