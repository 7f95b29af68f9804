"""IAM logins end to end on PostgreSQL and MariaDB behind an RDS-like front, AWS on loopback."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sturdydb import ConfigurationError


def test_connects_with_a_token_over_tls(iam_db: Any, token_spy: list[str]) -> None:
    conn = iam_db.connect()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert [tuple(r) for r in cur.fetchall()] == [(1,)]
    conn.close()
    (attempt,) = iam_db.front.attempts
    assert attempt.accepted and attempt.tls and attempt.user == iam_db.user
    assert len(token_spy) == 1


def test_a_cached_token_makes_no_aws_request_and_is_not_regenerated(
    iam_db: Any, token_spy: list[str], aws_env: Any
) -> None:
    for _ in range(5):
        iam_db.connect().close()
    assert len(token_spy) == 1
    assert len({a.digest for a in iam_db.front.attempts}) == 1
    assert aws_env.count() == 0  # a token is signed locally: AWS is never called


def test_an_expired_token_is_renewed(iam_db: Any, token_spy: list[str]) -> None:
    iam_db.connect(iam_expiration=1).close()
    time.sleep(1.2)  # past the 0.9 s the plugin keeps a 1 s token
    iam_db.connect(iam_expiration=1).close()
    assert len(token_spy) == 2
    first, second = iam_db.front.attempts
    assert first.accepted and second.accepted
    assert first.digest != second.digest


def test_a_cached_token_the_server_considers_expired_is_replaced_by_one_retry(
    iam_db: Any, token_spy: list[str]
) -> None:
    iam_db.connect().close()
    time.sleep(5.1)
    # The server's clock runs 895 s ahead: the cached token (over 5 s old) is expired for it,
    # while the client still trusts its copy. The fresh token of the retry has 4 s of slack:
    # a SigV4 date has whole seconds, so a 1 s window (899 s ahead) made the retry's own
    # token expire too on a loaded machine.
    iam_db.validator.clock = lambda: time.time() + 895
    conn = iam_db.connect()
    conn.close()
    reasons = [a.reason for a in iam_db.front.attempts]
    assert reasons[0] is None
    assert reasons[1] is not None and "expired" in reasons[1]
    assert reasons[2] is None
    assert len(token_spy) == 2


def test_concurrent_cold_connects_generate_one_token(iam_db: Any, token_spy: list[str]) -> None:
    errors: list[BaseException] = []

    def one() -> None:
        try:
            iam_db.connect().close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(token_spy) == 1
    assert iam_db.front.accepted == 6


def test_a_user_not_enabled_for_iam_is_refused_with_what_to_check(iam_db: Any) -> None:
    with pytest.raises(iam_db.login_error) as info:
        iam_db.connect(user="intruder")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "intruder" in notes and "rds-db:connect" in notes
    assert iam_db.front.attempts[-1].reason == "user 'intruder' is not enabled for IAM authentication"
    assert iam_db.front.rejected == 1  # a fresh token is not retried


def test_a_token_for_the_wrong_region_is_refused_by_the_server(iam_db: Any, auth_fronts: Any) -> None:
    # Through a custom DNS name the region cannot be checked locally: the server refuses it.
    custom = "orders-db.example.internal"
    front = auth_fronts(iam_db.engine, iam_db.front.backend, iam_db.validator, names=[custom])
    iam_db.validator.add_endpoint(custom, front.port)
    iam_db.connect(host=custom, port=front.port, iam_region="us-east-1").close()  # the right region works
    with pytest.raises(iam_db.login_error) as info:
        iam_db.connect(host=custom, port=front.port, iam_region="eu-west-1")
    assert "region eu-west-1" in "\n".join(getattr(info.value, "__notes__", []))
    assert "region 'eu-west-1'" in (front.attempts[-1].reason or "")


def test_a_region_contradicting_the_host_name_is_rejected_before_connecting(iam_db: Any) -> None:
    with pytest.raises(ConfigurationError, match="does not match the region 'us-east-1'"):
        iam_db.connect(iam_region="eu-west-1")
    assert iam_db.front.attempts == []


def test_the_token_never_travels_unencrypted(iam_db: Any, auth_fronts: Any) -> None:
    # A front without TLS: the default settings refuse to send the token at all.
    from sturdydb_testing.iam_front import AuthFront

    plain: AuthFront = auth_fronts(iam_db.engine, iam_db.front.backend, iam_db.validator,
                                   names=["plain.cluster-c0ffee123456.us-east-1.rds.amazonaws.com"], tls=False)
    iam_db.validator.add_endpoint("plain.cluster-c0ffee123456.us-east-1.rds.amazonaws.com", plain.port)
    # libpq: "server does not support SSL"; mysql-connector: "mysql_clear_password requires
    # SSL"; PyMySQL: sturdydb's dialect makes TLS mandatory before PyMySQL would send it.
    with pytest.raises(iam_db.module.Error, match="SSL"):
        iam_db.connect(host="plain.cluster-c0ffee123456.us-east-1.rds.amazonaws.com")
    assert plain.attempts == []


@pytest.mark.parametrize("iam_db", ["mysql"], indirect=True)  # mysql-connector
def test_mysql_pure_python_accepts_the_clear_text_plugin_up_front_too(iam_db: Any, token_spy: list[str]) -> None:
    # Current Connector/Python (26.x) sends the first auth response with a length-encoded
    # size, so a token longer than 255 bytes also fits when the plugin is named up front.
    conn = iam_db.connect(auth_plugin="mysql_clear_password")
    conn.close()
    assert len(token_spy[0]) > 255
    assert iam_db.front.attempts[-1].accepted
