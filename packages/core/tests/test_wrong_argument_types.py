"""Wrong types for the connection string or a property give a ConfigurationError that says what to do.

Before, ``conninfo=None`` ended in ``TypeError: argument of type 'NoneType' is not iterable``
from deep inside the plan cache. Every case here must fail before any connect, name the
problem (the property, the type received) and the fix, and never show the value (bytes or a
dict can hold the password).
"""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb._errors import ConfigurationError

SECRET = "Qzvx7Secret"
TARGETS = [psycopg.Connection.connect, mysql.connector.connect]


class Opaque:
    def __repr__(self) -> str:
        return f"Opaque({SECRET})"


@pytest.mark.parametrize("target", TARGETS, ids=["psycopg", "mysql"])
@pytest.mark.parametrize(("conninfo", "fragments"), [
    (None, ["connection string is None", "keyword argument"]),
    (f"host=x password={SECRET}".encode(), ["got bytes", "decode it"]),
    (bytearray(b"host=x"), ["got bytearray", "decode it"]),
    ({"host": "x", "password": SECRET}, ["got dict", "keyword arguments", "**properties"]),
    ([f"password={SECRET}"], ["got list", "join key=value pairs"]),
    (("host=x",), ["got tuple", "join key=value pairs"]),
    (5432, ["got int", "pass a str"]),
    (3.5, ["got float", "pass a str"]),
    (Opaque(), ["got Opaque", "pass a str"]),
], ids=["None", "bytes", "bytearray", "dict", "list", "tuple", "int", "float", "object"])
def test_a_wrong_connection_string_type_is_a_configuration_error(
    target: Any, conninfo: Any, fragments: list[str],
) -> None:
    with pytest.raises(ConfigurationError) as info:
        sturdydb.connect(target, conninfo, plugins="")
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert SECRET not in message and SECRET not in repr(info.value)
    assert isinstance(info.value, ValueError)  # ConfigurationError is also a ValueError


@pytest.mark.parametrize(("props", "fragments"), [
    ({"host": 123}, ["'host'", "expects a string"]),
    ({"host": ["a", "b"]}, ["'host'", "expects a string", "got a list"]),
    ({"user": b"app"}, ["'user'", "expects a string"]),
    ({"password": 12345}, ["'password'", "a secret, not shown"]),
    ({"database": ["db"]}, ["'database'", "expects a string"]),
    ({"port": [5432]}, ["'port'", "got list", "such as 5432"]),
    ({"port": 5432.0}, ["'port'", "got float"]),
    ({"port": b"5432"}, ["'port'", "got bytes"]),
    ({"port": True}, ["'port'", "got bool"]),
    ({"port": Opaque()}, ["'port'", "got Opaque"]),
    ({"plugins": ["failover"]}, ["'plugins'", "expects a string"]),
    ({"socket_timeout": [1]}, ["'socket_timeout'", "expects a number"]),
    ({"socket_timeout": "soon"}, ["'socket_timeout'", "expects a number"]),
    ({"connect_timeout": {"s": 1}}, ["'connect_timeout'", "expects a number"]),
    ({"tcp_keepalive": "maybe"}, ["'tcp_keepalive'", "expects a boolean"]),
    ({"auto_sort_wrapper_plugin_order": 2}, ["'auto_sort_wrapper_plugin_order'", "expects a boolean"]),
    ({"topology_refresh_ms": Opaque()}, ["'topology_refresh_ms'", "expects a whole number"]),
    ({"reader_host_selector_strategy": 1}, ["'reader_host_selector_strategy'", "expects a string"]),
])
def test_a_wrong_property_type_is_a_configuration_error(props: dict[str, Any], fragments: list[str]) -> None:
    for target in TARGETS:
        with pytest.raises(ConfigurationError) as info:
            # Port 1: nothing listens, so reaching the driver would raise something else.
            sturdydb.connect(target, "host=127.0.0.1 port=1" if "port" not in props else "host=127.0.0.1",
                             **{"plugins": "", **props})
        message = str(info.value)
        for fragment in fragments:
            assert fragment in message, message
        assert SECRET not in message


def test_an_empty_string_and_keywords_still_connect() -> None:
    conn = sturdydb.connect(psycopg.Connection.connect, "", host="127.0.0.1", port=5432, dbname="test",
                            user="postgres", plugins="")
    try:
        assert conn.cursor().execute("SELECT 1").fetchone() == (1,)
    finally:
        conn.close()
    conn = sturdydb.connect(psycopg.Connection.connect, host="127.0.0.1", port="5432", dbname="test",
                            user="postgres", plugins="")
    conn.close()
