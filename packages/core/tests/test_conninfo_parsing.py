"""Connection strings: key=value pairs, URLs, several hosts, and the errors for bad input."""

from __future__ import annotations

import pytest

from sturdydb._conninfo import parse_conninfo, split_hosts
from sturdydb._errors import ConfigurationError


def test_key_value_pairs_are_split_on_whitespace() -> None:
    assert parse_conninfo("host=db  port=5432\tdbname=app user=u") == {
        "host": "db", "port": "5432", "dbname": "app", "user": "u",
    }


def test_quoted_values_keep_spaces_and_escaped_quotes() -> None:
    parsed = parse_conninfo(r"password='a b\'c' application_name='x'")
    assert parsed == {"password": "a b'c", "application_name": "x"}


def test_empty_quoted_value_is_an_empty_string() -> None:
    assert parse_conninfo("user=root password='' database=test")["password"] == ""


def test_spaces_around_equals_are_allowed_like_libpq() -> None:
    assert parse_conninfo("host = db port= 1") == {"host": "db", "port": "1"}


def test_postgresql_url_with_everything() -> None:
    parsed = parse_conninfo("postgresql://u%40x:p%3Aw@h1:5432,h2:5433/app?sslmode=require&plugins=failover")
    assert parsed == {
        "user": "u@x", "password": "p:w", "host": "h1,h2", "port": "5432,5433",
        "database": "app", "sslmode": "require", "plugins": "failover",
    }


def test_mysql_url_and_ipv6_host() -> None:
    parsed = parse_conninfo("mysql://root@[::1]:3306/test")
    assert parsed == {"user": "root", "host": "::1", "port": "3306", "database": "test"}


def test_empty_string_gives_no_properties() -> None:
    assert parse_conninfo("   ") == {}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("host", "without '=value'"),
        ("=x", "expected a property name"),
        ("password='open", "not closed"),
        ("host=a host=b", "appears twice"),
        ("http://x", "unsupported URL scheme"),
        ("postgresql://h:abc/db", "is not a number"),
    ],
)
def test_malformed_strings_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_conninfo(text)


def test_a_non_string_conninfo_is_rejected_with_advice() -> None:
    with pytest.raises(ConfigurationError, match="keyword arguments"):
        parse_conninfo({"host": "x"})  # type: ignore[arg-type]


def test_one_port_applies_to_every_host() -> None:
    assert split_hosts("a,b", "5432") == [("a", 5432), ("b", 5432)]


def test_ports_pair_with_hosts() -> None:
    assert split_hosts("a,b", "1,2") == [("a", 1), ("b", 2)]
    assert split_hosts("a", None) == [("a", None)]


@pytest.mark.parametrize(("hosts", "ports", "fragment"), [
    ("a,b,c", "1,2", "3 hosts but 2 ports"),
    ("a,,b", "1", "empty entry"),
    ("a", "70000", "between 1 and 65535"),
    ("a", "x", "between 1 and 65535"),
])
def test_bad_host_lists_are_rejected(hosts: str, ports: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        split_hosts(hosts, ports)


def test_errors_never_quote_the_text_of_a_value() -> None:
    # An unquoted password with a space: the tail must not appear in the message.
    with pytest.raises(ConfigurationError) as info:
        parse_conninfo("user=app password=abc hunter2 dbname=x")
    assert "hunter2" not in str(info.value)
    assert "after property 'password'" in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        parse_conninfo("password=abc =hunter2")
    assert "hunter2" not in str(info.value)
