"""``sturdydb_django.postgresql`` on psycopg2, the driver Django's backend uses when psycopg 3 is
not installed (Django decides once, at import).

The test environment has both drivers, so the scenario runs in a child interpreter where
``import psycopg`` fails, against the machine's PostgreSQL: models save and read back inside
``transaction.atomic`` (timestamps with their time zone, JSONField), ``iterator()`` uses a
named cursor, and a failover (two names for the local server) replaces the physical
connection while Django keeps the connection, whose new physical connection and cursors have
Django's JSONB caster and time zone factory too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import sys
    sys.modules["psycopg"] = None  # as if psycopg 3 were not installed
    import datetime, uuid
    import psycopg2
    from django_setup import configure, add_database
    configure()
    from django.db import connections, models, transaction
    from django.db.backends.postgresql.psycopg_any import is_psycopg3
    import sturdydb

    assert not is_psycopg3
    tag = uuid.uuid4().hex[:8]
    names = (f"a-{tag}.local.test", f"b-{tag}.local.test")
    for name in names:
        sturdydb.map_host(name, "127.0.0.1")
    alias = add_database("sturdydb_django.postgresql", host=",".join(names), port=5432, user="postgres",
                         password="", name="test", options={"plugins": "failover", "failover_timeout_sec": 10})
    meta = type("Meta", (), {"app_label": "sturdydb_django_pg2", "db_table": f"dj2_{tag}"})
    Item = type(f"Item{tag}", (models.Model,), {
        "__module__": __name__, "Meta": meta,
        "seq": models.IntegerField(), "at": models.DateTimeField(), "doc": models.JSONField(),
    })
    conn = connections[alias]
    conn.ensure_connection()
    assert isinstance(conn.connection, sturdydb.Connection)
    assert conn.connection.context.driver.name == "psycopg2"
    with conn.schema_editor() as editor:
        editor.create_model(Item)
    at = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    try:
        with transaction.atomic(using=alias):
            Item.objects.using(alias).create(seq=1, at=at, doc={"k": [1, 2]})
        first = conn.connection.target_connection
        # The host is gone: Django's health check fails over and keeps the connection.
        conn.connection.context.driver.abort_connection(first)
        assert conn.is_usable()
        assert conn.connection.target_connection is not first
        with transaction.atomic(using=alias):
            Item.objects.using(alias).create(seq=2, at=at, doc={"k": "v"})
        rows = list(Item.objects.using(alias).order_by("seq").values_list("seq", "at", "doc"))
        assert rows == [(1, at, {"k": [1, 2]}), (2, at, {"k": "v"})], rows
        assert rows[0][1].tzinfo is not None
        assert [i.seq for i in Item.objects.using(alias).order_by("seq").iterator(chunk_size=1)] == [1, 2]
        assert type(conn.connection.target_connection).__name__ == "_Connection"
    finally:
        with conn.schema_editor() as editor:
            editor.delete_model(Item)
        conn.close()
    print("ok")
''')


def test_the_postgresql_backend_runs_on_psycopg2_through_a_failover() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=Path(__file__).parent, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")
