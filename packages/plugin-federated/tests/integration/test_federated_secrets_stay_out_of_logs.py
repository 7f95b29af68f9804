"""No password, assertion, session token, credential or database token in any log, repr or error."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sturdydb_federated import FederatedAuthError
from sturdydb_testing.idp import iter_secrets


def fragments(secret: str) -> list[str]:
    """The secret and, for long ones, a slice of its middle (a truncated leak is still a leak)."""
    if len(secret) <= 40:
        return [secret]
    middle = len(secret) // 2
    return [secret, secret[middle:middle + 24]]


@pytest.mark.parametrize("fed_db", ["pg", "mysql"], indirect=True)
def test_debug_logs_of_every_library_hold_no_secret(fed_db: Any, secret_log: Any, token_spy: list[str]) -> None:
    assert logging.getLogger("botocore").isEnabledFor(logging.DEBUG)
    fed_db.connect("federated_auth").close()
    fed_db.connect("okta").close()
    fed_db.connect("okta", iam_token_expiration=1, db_user=fed_db.user).close()
    with pytest.raises(FederatedAuthError):
        fed_db.connect("okta", idp_password="a-wrong-password-123")
    fed_db.sts.providers.clear()
    with pytest.raises(FederatedAuthError):
        fed_db.connect("federated_auth", iam_role_arn=fed_db.ROLE_ARN, idp_username=fed_db.MULTI_ROLE_USER)
    secrets = [*iter_secrets(fed_db.idp, fed_db.sts), *token_spy, "a-wrong-password-123"]
    assert len(fed_db.sts.issued) == 2 and len(token_spy) == 3
    assert any("botocore" in line for line in secret_log.lines)  # the capture really saw DEBUG output
    assert any("urllib3" in line for line in secret_log.lines)
    for secret in secrets:
        for fragment in fragments(secret):
            secret_log.assert_absent(fragment)


def test_reprs_hold_no_secret(pg_db: Any) -> None:
    conn = pg_db.connect("okta")
    plugin = conn.context.pipeline.get("okta")
    ((identity, entry),) = plugin.credentials._entries.items()
    targets = list(plugin.tokens._entries)
    texts = [repr(plugin), repr(identity), repr(entry), repr(entry.value), repr(targets),
             repr(conn.context.props), repr(plugin.credentials), repr(plugin.tokens)]
    conn.close()
    (issued,) = pg_db.sts.issued
    for text in texts:
        for secret in (pg_db.PASSWORD, issued.secret_access_key, issued.session_token, *pg_db.idp.issued_secrets):
            assert secret not in text
    assert pg_db.USERNAME in repr(identity)  # the identity is still recognisable
