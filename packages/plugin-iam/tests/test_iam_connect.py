"""The iam plugin on the connect path: what is signed, caching, retry, TLS and region rules."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qs

import mysql.connector
import psycopg
import pytest

import sturdydb
from sturdydb import ConfigurationError, ConnectRequest, Plugin, hookimpl
from sturdydb_aws import AWS_PROFILE_PROPERTY
from sturdydb_iam import IamAuthPlugin, token_lifetime

RDS_HOST = "orders.cluster-abc123def456.eu-west-1.rds.amazonaws.com"


class CountingOuterPlugin(Plugin):
    """Stands where failover sits (outside iam) and counts the connects it sees."""

    code: ClassVar[str] = "test_outer_counter"
    weight: ClassVar[int] = 400
    seen = 0

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        type(self).seen += 1
        return (yield)


@pytest.fixture(autouse=True)
def _outer() -> Iterator[None]:
    sturdydb.register_plugin(CountingOuterPlugin)
    CountingOuterPlugin.seen = 0
    yield
    sturdydb.unregister_plugin(CountingOuterPlugin.code)


def connect(driver: Any, **kwargs: Any) -> sturdydb.Connection:
    options: dict[str, Any] = {"host": RDS_HOST, "user": "app_user", "dbname": "test",
                               "plugins": "iam,test_outer_counter", "wrapper_driver_dialect": "psycopg"}
    options.update(kwargs)
    return sturdydb.connect(driver, **options)


def iam_plugin(conn: sturdydb.Connection) -> IamAuthPlugin:
    plugin = conn.context.pipeline.get("iam")
    assert isinstance(plugin, IamAuthPlugin)
    return plugin


def parse_token(token: str) -> tuple[str, dict[str, str]]:
    host_port, _, query = token.partition("/?")
    return host_port, {k: v[0] for k, v in parse_qs(query).items()}


def test_the_token_is_signed_for_host_port_user_and_the_hosts_region(fake_driver: Any) -> None:
    with connect(fake_driver):
        pass
    call = fake_driver.calls[0]
    host_port, query = parse_token(call["password"])
    assert host_port == f"{RDS_HOST}:5432"
    assert query["DBUser"] == "app_user"
    assert query["Action"] == "connect"
    assert query["X-Amz-Credential"].split("/")[0] == "AKIASTURDYDBTESTKEY1"  # the fake key from conftest
    assert query["X-Amz-Credential"].split("/")[2:4] == ["eu-west-1", "rds-db"]
    assert call["sslmode"] == "require"


def test_iam_host_and_port_override_what_is_signed(fake_driver: Any) -> None:
    with connect(fake_driver, host="127.0.0.1", iam_host=RDS_HOST, iam_default_port=6543):
        pass
    host_port, _ = parse_token(fake_driver.calls[0]["password"])
    assert host_port == f"{RDS_HOST}:6543"


def test_a_cached_token_is_reused_by_later_connects(fake_driver: Any) -> None:
    for _ in range(3):
        connect(fake_driver).close()
    assert len(set(fake_driver.passwords)) == 1


def test_an_expired_token_is_replaced(fake_driver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = connect(fake_driver, iam_expiration=1)
    conn.close()
    cache = iam_plugin(conn).tokens
    (entry,) = cache._entries.values()
    entry.expires_at -= 5  # as if its lifetime had passed
    # A token made in the same second as the first one would be byte-identical, so check
    # that a new one was generated rather than comparing values.
    generated: list[str] = []
    original = IamAuthPlugin.generate_token
    monkeypatch.setattr(IamAuthPlugin, "generate_token",
                        lambda self, target: generated.append("x") or original(self, target))
    connect(fake_driver, iam_expiration=1).close()
    assert generated == ["x"]


def test_a_refused_cached_token_is_replaced_and_retried_once_inside_the_chain(
    fake_driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect(fake_driver).close()
    generated: list[str] = []
    original = IamAuthPlugin.generate_token
    monkeypatch.setattr(IamAuthPlugin, "generate_token",
                        lambda self, target: generated.append("x") or original(self, target))
    fake_driver.refuse_next = 1  # the server no longer accepts the cached token
    conn = connect(fake_driver)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.close()
    assert len(fake_driver.calls) == 3  # first connect; then the cached token, one retry
    assert generated == ["x"]
    # The outer plugin saw one connect per application connect: the retry stayed inside.
    assert CountingOuterPlugin.seen == 2


def test_a_refused_fresh_token_is_not_retried_and_says_what_to_check(fake_driver: Any) -> None:
    fake_driver.refuse_all = True
    with pytest.raises(psycopg.OperationalError) as info:
        connect(fake_driver)
    assert len(fake_driver.calls) == 1
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "rds-db:connect" in notes and "app_user" in notes and "eu-west-1" in notes
    assert fake_driver.passwords[0] not in str(info.value) + notes


def test_a_token_refused_even_after_the_retry_is_forgotten(fake_driver: Any) -> None:
    conn = connect(fake_driver)
    conn.close()
    fake_driver.refuse_all = True
    with pytest.raises(psycopg.OperationalError):
        connect(fake_driver)
    assert len(fake_driver.calls) == 3
    assert len(iam_plugin(conn).tokens) == 0


def test_the_region_cannot_be_guessed_from_an_ip_address(fake_driver: Any) -> None:
    with pytest.raises(ConfigurationError, match="set iam_region"):
        connect(fake_driver, host="127.0.0.1")
    assert fake_driver.calls == []


def test_a_region_that_contradicts_the_host_name_is_rejected(fake_driver: Any) -> None:
    with pytest.raises(ConfigurationError, match="does not match the region 'eu-west-1'"):
        connect(fake_driver, iam_region="us-east-1")


def test_a_user_is_required(fake_driver: Any) -> None:
    with pytest.raises(ConfigurationError, match="needs the database user"):
        connect(fake_driver, user=None)


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
def test_sslmodes_that_allow_plain_text_are_refused(fake_driver: Any, mode: str) -> None:
    with pytest.raises(ConfigurationError, match="unencrypted"):
        connect(fake_driver, sslmode=mode)
    assert fake_driver.calls == []


def test_plain_text_can_be_allowed_explicitly(fake_driver: Any) -> None:
    connect(fake_driver, sslmode="disable", iam_require_tls=False).close()
    assert fake_driver.calls[0]["sslmode"] == "disable"


def test_a_stronger_sslmode_is_kept(fake_driver: Any) -> None:
    connect(fake_driver, sslmode="verify-full").close()
    assert fake_driver.calls[0]["sslmode"] == "verify-full"


def test_the_token_lifetime_keeps_a_safety_margin() -> None:
    assert token_lifetime(900) == 870
    assert token_lifetime(3600) == 870  # capped at the token's own validity
    assert token_lifetime(10) == 9


class RecordingMysql:
    def __init__(self) -> None:
        self.kwargs: dict[str, Any] = {}

    def __call__(self, **kwargs: Any) -> Any:
        self.kwargs = kwargs
        raise mysql.connector.errors.InterfaceError("recorded", errno=2003)


@pytest.mark.parametrize(("use_pure", "expected"), [(True, None), (False, "mysql_clear_password"),
                                                    ("yes", None), ("off", "mysql_clear_password")])
def test_mysql_gets_the_clear_text_plugin_the_way_each_implementation_needs(use_pure: bool | str,
                                                                           expected: str | None) -> None:
    target = RecordingMysql()
    with pytest.raises(mysql.connector.errors.InterfaceError):
        sturdydb.connect(target, host=RDS_HOST, user="app_user", plugins="iam", use_pure=use_pure,
                         wrapper_driver_dialect="mysql-connector-python")
    assert target.kwargs.get("auth_plugin") == expected
    assert target.kwargs["password"].startswith(f"{RDS_HOST}:3306/?Action=connect")


@pytest.mark.parametrize("disabled", [True, "true", "1", "on"])
def test_mysql_refuses_ssl_disabled(disabled: bool | str) -> None:
    target = RecordingMysql()
    with pytest.raises(ConfigurationError, match="unencrypted"):
        sturdydb.connect(target, host=RDS_HOST, user="app_user", plugins="iam", ssl_disabled=disabled,
                         wrapper_driver_dialect="mysql-connector-python")
    assert target.kwargs == {}


def test_an_unreadable_ssl_disabled_is_an_error_not_a_silent_false() -> None:
    target = RecordingMysql()
    with pytest.raises(ConfigurationError, match="ssl_disabled"):
        sturdydb.connect(target, host=RDS_HOST, user="app_user", plugins="iam", ssl_disabled="maybe",
                         wrapper_driver_dialect="mysql-connector-python")
    assert target.kwargs == {}


def test_the_plugin_is_published_under_its_code() -> None:
    entry = sturdydb.catalog().resolve("iam")
    assert entry.cls is IamAuthPlugin
    assert IamAuthPlugin.weight == 700


def test_aws_profile_is_the_one_shared_spec() -> None:
    assert any(spec is AWS_PROFILE_PROPERTY for spec in IamAuthPlugin.sturdydb_add_properties())
    assert sturdydb.catalog().registry.get("aws_profile") is AWS_PROFILE_PROPERTY


def test_a_ca_bundle_turns_on_full_verification_for_psycopg(fake_driver: Any) -> None:
    connect(fake_driver, iam_ca_bundle="/etc/rds/global-bundle.pem").close()
    assert fake_driver.calls[0]["sslmode"] == "verify-full"
    assert fake_driver.calls[0]["sslrootcert"] == "/etc/rds/global-bundle.pem"


def test_a_ca_bundle_keeps_an_explicit_verify_ca(fake_driver: Any) -> None:
    connect(fake_driver, iam_ca_bundle="/etc/rds/global-bundle.pem", sslmode="verify-ca").close()
    assert fake_driver.calls[0]["sslmode"] == "verify-ca"


def test_a_ca_bundle_turns_on_identity_verification_for_mysql() -> None:
    target = RecordingMysql()
    with pytest.raises(mysql.connector.errors.InterfaceError):
        sturdydb.connect(target, host=RDS_HOST, user="app_user", plugins="iam", use_pure=True,
                         iam_ca_bundle="/etc/rds/global-bundle.pem", wrapper_driver_dialect="mysql-connector-python")
    assert target.kwargs["ssl_ca"] == "/etc/rds/global-bundle.pem"
    assert target.kwargs["ssl_verify_cert"] is True and target.kwargs["ssl_verify_identity"] is True


def test_an_unverified_token_is_warned_about_once(fake_driver: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="sturdydb.iam")
    for _ in range(2):
        connect(fake_driver).close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "sturdydb.iam"]
    assert len(warnings) == 1 and "sslmode=require" in warnings[0] and RDS_HOST in warnings[0]
    caplog.clear()
    connect(fake_driver, sslmode="verify-full").close()
    assert [r for r in caplog.records if r.name == "sturdydb.iam"] == []


class CredentialListener(Plugin):
    """Records the chain's ``sturdydb_credentials_obtained`` broadcasts."""

    code: ClassVar[str] = "test_credential_listener"
    reports: ClassVar[list[tuple[Any, ...]]] = []

    @hookimpl
    def sturdydb_credentials_obtained(self, context: Any, host: Any, source: str, cached: bool,
                                      seconds: float) -> None:
        type(self).reports.append((context, host.url, source, cached, seconds))


def test_each_connect_reports_a_token_cache_miss_or_hit_without_the_token(fake_driver: Any) -> None:
    sturdydb.register_plugin(CredentialListener)
    CredentialListener.reports = []
    try:
        plugins = "iam,test_outer_counter,test_credential_listener"
        with connect(fake_driver, plugins=plugins) as first:
            pass
        with connect(fake_driver, plugins=plugins) as second:
            pass
        fake_driver.refuse_next = 1  # the cached token is refused: the retry signs a new one
        connect(fake_driver, plugins=plugins).close()
    finally:
        sturdydb.unregister_plugin(CredentialListener.code)
    reports = CredentialListener.reports
    assert [r[1:4] for r in reports] == [
        (RDS_HOST, "iam", False),  # signed now
        (RDS_HOST, "iam", True),  # from the cache
        (RDS_HOST, "iam", True),  # the cached token, refused ...
        (RDS_HOST, "iam", False),  # ... so a new one for the retry
    ]
    assert reports[0][0] is first.context and reports[1][0] is second.context
    assert reports[0][4] > 0.0 and reports[1][4] == 0.0
    tokens = set(fake_driver.passwords)  # two tokens signed in the same second are equal
    assert not any(token in repr(report[1:]) for report in reports for token in tokens)
