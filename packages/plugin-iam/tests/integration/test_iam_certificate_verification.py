"""Certificate verification before a token goes out: ``iam_ca_bundle`` and the warning without it.

The RDS-like front serves a certificate issued by a CA made for the test for the cluster's
host name and the front's loopback address (psycopg verifies the host name it was given,
mysql-connector the address a pinned name resolves to). With ``iam_ca_bundle`` set to that
CA the login succeeds with verification on and nothing is logged; with another CA the TLS
handshake fails before any token is sent; without verification the login works and a warning
names the host (never the token).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import pytest
from conftest import CLUSTER_HOST

from sturdydb_testing.idp import CertificateAuthority

WARNING = "without verifying the server's identity"


@pytest.fixture
def verifiable_front(iam_db: Any) -> tuple[Any, CertificateAuthority]:
    """The front of ``iam_db`` serving a certificate the returned CA has issued."""
    ca = CertificateAuthority()
    cert, key = ca.issue(names=(CLUSTER_HOST,), addresses=(iam_db.front.address,))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    iam_db.front.tls_context = context
    return iam_db, ca


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "sturdydb.iam" and r.levelno >= logging.WARNING]


def test_ca_bundle_verifies_the_server_and_logs_no_warning(
    verifiable_front: tuple[Any, CertificateAuthority], caplog: pytest.LogCaptureFixture, token_spy: list[str]
) -> None:
    db, ca = verifiable_front
    caplog.set_level(logging.INFO, logger="sturdydb.iam")
    conn = db.connect(iam_ca_bundle=ca.ca_bundle)
    raw = conn.target_connection
    if db.engine == "pg":
        # libpq's settings, as psycopg (info) or psycopg2 (get_dsn_parameters) reports them.
        params = raw.get_dsn_parameters() if hasattr(raw, "get_dsn_parameters") else raw.info.get_parameters()
        assert params.get("sslmode") == "verify-full"
        assert params.get("sslrootcert") == ca.ca_bundle
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert [tuple(r) for r in cur.fetchall()] == [(1,)]
    conn.close()
    (attempt,) = db.front.attempts
    assert attempt.accepted and attempt.tls
    assert _warnings(caplog) == []
    assert len(token_spy) == 1


def test_a_server_the_bundle_does_not_vouch_for_gets_no_token(
    verifiable_front: tuple[Any, CertificateAuthority], caplog: pytest.LogCaptureFixture
) -> None:
    db, _ = verifiable_front
    stranger = CertificateAuthority("some other CA")
    with pytest.raises(Exception) as info:
        db.connect(iam_ca_bundle=stranger.ca_bundle)
    assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower(), info.value
    # The handshake failed before the login: the front never received a credential.
    assert db.front.attempts == [] or not any(a.accepted for a in db.front.attempts)
    assert all(a.user is None or not a.accepted for a in db.front.attempts)


def test_a_token_sent_without_verification_is_warned_about_once_per_host(
    verifiable_front: tuple[Any, CertificateAuthority], caplog: pytest.LogCaptureFixture, token_spy: list[str]
) -> None:
    db, _ = verifiable_front
    caplog.set_level(logging.INFO, logger="sturdydb.iam")
    for _ in range(3):
        db.connect().close()
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert WARNING in warnings[0] and CLUSTER_HOST in warnings[0] and "iam_ca_bundle" in warnings[0]
    assert not any(token in warnings[0] for token in token_spy)
    assert all(a.accepted and a.tls for a in db.front.attempts)


def test_verify_ca_without_host_name_check_is_warned_about(
    verifiable_front: tuple[Any, CertificateAuthority], caplog: pytest.LogCaptureFixture
) -> None:
    db, ca = verifiable_front
    caplog.set_level(logging.INFO, logger="sturdydb.iam")
    if db.engine == "pg":
        db.connect(iam_ca_bundle=ca.ca_bundle, sslmode="verify-ca").close()
    else:
        db.connect(iam_ca_bundle=ca.ca_bundle, ssl_verify_identity=False).close()
    (warning,) = _warnings(caplog)
    assert "host name" in warning
