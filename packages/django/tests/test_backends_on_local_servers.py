"""Both backends on the machine's own servers: connections are sturdydb's, OPTIONS are
sturdydb properties, models save and read back inside transaction.atomic."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections, transaction
from django_setup import add_database, unit_model

import sturdydb

SERVERS: dict[str, dict[str, Any]] = {
    "pg": {"engine": "sturdydb_django.postgresql", "host": "127.0.0.1", "port": 5432, "user": "postgres",
           "password": "", "name": "test"},
    "mysql": {"engine": "sturdydb_django.mysql", "host": "127.0.0.1", "port": 3306, "user": "root",
              "password": "", "name": "test"},
}


@pytest.fixture(params=["pg", "mysql"])
def alias(request: pytest.FixtureRequest) -> Any:
    options: dict[str, Any] = {"plugins": "host_monitoring", "failure_detection_time_ms": 9000}
    if request.param == "mysql":
        options["use_pure"] = True
    name = add_database(options=options, **SERVERS[request.param])
    yield name
    connections[name].close()


def test_connections_are_sturdydb_connections_with_options_as_properties(alias: str) -> None:
    conn = connections[alias]
    conn.ensure_connection()
    assert isinstance(conn.connection, sturdydb.Connection)
    ctx = conn.connection.context
    assert list(ctx.pipeline.codes) == ["host_monitoring"]
    assert ctx.props.get("failure_detection_time_ms") == 9000
    assert conn.is_usable()


def test_models_save_inside_atomic_and_roll_back_on_error(alias: str) -> None:
    model = unit_model()
    conn = connections[alias]
    with conn.schema_editor() as editor:
        editor.create_model(model)
    try:
        with transaction.atomic(using=alias):
            model.objects.using(alias).create(worker=1, seq=1, part=0, node="x")
        with pytest.raises(RuntimeError), transaction.atomic(using=alias):
            model.objects.using(alias).create(worker=1, seq=2, part=0, node="x")
            raise RuntimeError("roll back")
        assert list(model.objects.using(alias).values_list("seq", flat=True)) == [1]
        assert [m.seq for m in model.objects.using(alias).iterator(chunk_size=10)] == [1]
    finally:
        with conn.schema_editor() as editor:
            editor.delete_model(model)
