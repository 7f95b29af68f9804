"""Federated tokens get the same certificate verification as IAM tokens (``iam_ca_bundle``).

The front serves a certificate issued by the test CA for the cluster's host name and the
front's address: with ``iam_ca_bundle`` the login is verified and nothing is logged; without
verification it works and the warning names the host once.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import pytest
from conftest import CLUSTER_HOST

from sturdydb_testing.idp import CertificateAuthority

PLUGINS = ["federated_auth", "okta"]


def _verifiable(fed_db: Any, ca: CertificateAuthority) -> None:
    cert, key = ca.issue(names=(CLUSTER_HOST,), addresses=(fed_db.front.address,))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fed_db.front.tls_context = context


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("sturdydb") and r.levelno >= logging.WARNING and "IAM token" in r.getMessage()]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_federated_token_goes_out_only_to_a_verified_server(
    fed_db: Any, plugin: str, caplog: pytest.LogCaptureFixture, certificate_authority: CertificateAuthority,
) -> None:
    _verifiable(fed_db, certificate_authority)
    caplog.set_level(logging.INFO, logger="sturdydb")
    conn = fed_db.connect(plugin, iam_ca_bundle=certificate_authority.ca_bundle)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert [tuple(r) for r in cur.fetchall()] == [(1,)]
    conn.close()
    (attempt,) = fed_db.front.attempts
    assert attempt.accepted and attempt.tls
    assert _warnings(caplog) == []

    stranger = CertificateAuthority("some other CA")
    with pytest.raises(Exception, match=r"(?i)certificate|ssl"):
        fed_db.connect(plugin, iam_ca_bundle=stranger.ca_bundle)
    assert len(fed_db.front.attempts) == 1  # the unverified server never saw a credential


@pytest.mark.parametrize("plugin", PLUGINS)
def test_an_unverified_federated_login_is_warned_about(
    fed_db: Any, plugin: str, caplog: pytest.LogCaptureFixture, token_spy: list[str]
) -> None:
    caplog.set_level(logging.INFO, logger="sturdydb")
    fed_db.connect(plugin).close()
    fed_db.connect(plugin).close()
    (warning,) = _warnings(caplog)
    assert CLUSTER_HOST in warning and "iam_ca_bundle" in warning and plugin in warning
    assert not any(token in warning for token in token_spy)
