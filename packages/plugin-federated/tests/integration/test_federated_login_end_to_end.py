"""ADFS and Okta federation end to end: IdP over HTTPS, STS, token, login through an RDS-like front."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sturdydb_testing.idp import ADFS_PATH, OKTA_AUTHN_PATH

PLUGINS = ["federated_auth", "okta"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_signs_in_assumes_the_role_and_logs_in_over_tls(fed_db: Any, plugin: str, token_spy: list[str]) -> None:
    conn = fed_db.connect(plugin)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert [tuple(r) for r in cur.fetchall()] == [(1,)]
    conn.close()
    (attempt,) = fed_db.front.attempts
    assert attempt.accepted and attempt.tls and attempt.user == fed_db.user
    assert fed_db.sts_calls() == 1
    (issued,) = fed_db.sts.issued
    assert issued.role_arn.endswith("role/payroll-db")
    # The token was signed with the STS credentials, not the account's own key.
    assert f"X-Amz-Credential={issued.access_key_id}" in token_spy[0]
    if plugin == "okta":
        assert fed_db.idp.count(OKTA_AUTHN_PATH) == 1
        assert fed_db.idp.count("/app/amazon_aws/") == 1
    else:
        assert [(r.method, r.path) for r in fed_db.idp.requests] == [("GET", ADFS_PATH), ("POST", ADFS_PATH)]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_warm_connect_makes_no_http_or_aws_request(fed_db: Any, plugin: str, token_spy: list[str]) -> None:
    fed_db.connect(plugin).close()
    idp_requests, sts_calls, aws_requests = fed_db.idp.count(), fed_db.sts_calls(), fed_db.moto.count()
    for _ in range(4):
        fed_db.connect(plugin).close()
    assert (fed_db.idp.count(), fed_db.sts_calls(), fed_db.moto.count()) == (idp_requests, sts_calls, aws_requests)
    assert len(token_spy) == 1
    assert len({a.digest for a in fed_db.front.attempts}) == 1
    assert fed_db.front.accepted == 5


def test_an_expired_token_is_re_signed_with_the_cached_credentials(fed_db: Any, token_spy: list[str]) -> None:
    fed_db.connect(iam_token_expiration=1).close()
    time.sleep(1.2)  # past the 0.9 s a 1 s token is reused
    fed_db.connect(iam_token_expiration=1).close()
    assert len(token_spy) == 2
    assert fed_db.idp.count() == 2 and fed_db.sts_calls() == 1  # one sign-in, one STS call
    first, second = fed_db.front.attempts
    assert first.accepted and second.accepted and first.digest != second.digest


def test_expiring_credentials_are_renewed_by_signing_in_again(fed_db: Any, token_spy: list[str]) -> None:
    # 33 s credentials with a 0.9 s token reuse and the 30 s margin: reusable for about 2.1 s.
    fed_db.idp.session_duration = 33
    fed_db.connect("okta", iam_token_expiration=1).close()
    time.sleep(1.2)
    fed_db.connect("okta", iam_token_expiration=1).close()
    assert fed_db.sts_calls() == 1
    time.sleep(1.5)
    fed_db.connect("okta", iam_token_expiration=1).close()
    assert fed_db.sts_calls() == 2
    assert fed_db.idp.count(OKTA_AUTHN_PATH) == 2
    assert len({i.access_key_id for i in fed_db.sts.issued}) == 2
    assert all(a.accepted for a in fed_db.front.attempts)


def test_the_role_is_chosen_among_several_by_iam_role_arn(fed_db: Any) -> None:
    fed_db.connect(idp_username=fed_db.MULTI_ROLE_USER, iam_role_arn=fed_db.OTHER_ROLE_ARN).close()
    assert [i.role_arn for i in fed_db.sts.issued] == [fed_db.OTHER_ROLE_ARN]


def test_the_only_role_is_used_when_none_is_named(fed_db: Any) -> None:
    fed_db.connect("okta", iam_role_arn=None, iam_idp_arn=None).close()
    assert fed_db.sts.issued[0].role_arn.endswith("role/payroll-db")
    assert fed_db.front.attempts[-1].accepted


def test_a_refused_login_makes_the_next_connect_federate_again(fed_db: Any) -> None:
    fed_db.connect().close()
    # The role loses rds-db:connect: the server refuses even a fresh token.
    fed_db.validator.users = set()
    with pytest.raises(fed_db.driver_error):
        fed_db.connect()
    fed_db.validator.users = {fed_db.user}
    fed_db.connect().close()
    assert fed_db.sts_calls() == 2
