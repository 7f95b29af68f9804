"""Credential requests as telemetry: the real iam plugin signing tokens on the local server.

The iam plugin signs RDS tokens locally with boto3 (fake AWS credentials, no network); the
driver function connects to the machine's PostgreSQL (trust authentication), so the token
goes through the whole chain while the server does not check it. A cache miss must give a
``sturdydb.credentials`` span inside the connect's span, every request a counter point, and
no token or key anywhere in the telemetry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from otel_capture import Capture

import sturdydb
import sturdydb_aws

PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"
RDS_HOST = "orders.cluster-abc123def456.eu-west-1.rds.amazonaws.com"
SECRET_KEY = "otel-test-secret-key-not-real-000000000"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTELTESTKEY00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    sturdydb_aws.clear_clients()
    yield
    sturdydb_aws.clear_clients()


class LocalServer:
    """A psycopg connect function: takes the token the chain built, connects to the local server."""

    def __init__(self) -> None:
        self.passwords: list[str] = []

    def __call__(self, **kwargs: Any) -> psycopg.Connection[Any]:
        self.passwords.append(kwargs["password"])
        return psycopg.connect(PG)


def test_a_token_fetch_is_a_span_in_the_connect_and_every_request_is_counted(capture: Capture) -> None:
    driver = LocalServer()
    for _ in range(3):
        conn = sturdydb.connect(driver, host="127.0.0.1", port=5432, user="app_user", dbname="test",
                                iam_host=RDS_HOST, plugins="otel,iam", wrapper_driver_dialect="psycopg")
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.close()
    assert len(driver.passwords) == 3 and driver.passwords[0].startswith(f"{RDS_HOST}:5432/?Action=connect")

    (fetch,) = capture.spans("sturdydb.credentials")  # one miss, then the cache
    attrs = dict(fetch.attributes or {})
    assert attrs["sturdydb.credentials.source"] == "iam"
    assert attrs["sturdydb.credentials.cached"] is False
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == 5432
    assert attrs["db.system"] == "postgresql"
    assert fetch.start_time is not None and fetch.end_time is not None and fetch.end_time >= fetch.start_time
    connects = capture.spans("sturdydb.connect")
    assert len(connects) == 3
    assert fetch.parent is not None and fetch.parent.span_id == connects[0].context.span_id
    assert fetch.context.trace_id == connects[0].context.trace_id

    counted = {(a["sturdydb.credentials.source"], a["sturdydb.credentials.cached"]): p.value
               for a, p in capture.points("sturdydb.credentials.requests")}
    assert counted == {("iam", False): 1, ("iam", True): 2}

    leaked = [s for s in capture.strings()
              if any(secret in s for secret in (*driver.passwords, SECRET_KEY, "X-Amz-Signature"))]
    assert leaked == []
