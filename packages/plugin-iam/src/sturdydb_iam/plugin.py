"""The ``iam`` plugin: log in to RDS/Aurora with an IAM authentication token.

For each physical connect it puts a token from boto3's RDS signer in place of the password.
A token is a SigV4-presigned URL made locally from the AWS credentials (no AWS request); the
costly parts are creating the boto3 client (about 100 ms, done once per configuration, see
:mod:`sturdydb_aws.clients`) and, with temporary credentials, refreshing them. Tokens are cached
per (region, host, port, user, profile) for ``iam_expiration`` minus a safety margin, so a
token is never presented just as it expires; a cached token that the server refuses
(for example after a clock jump or a credentials change) is replaced once and the inner
connect retried. MySQL needs the clear-text password protocol: the driver dialect's
``enable_clear_text_password`` sets it up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import ConfigurationError, Plugin, PropertySpec, hookimpl
from sturdydb.plugin_api import RdsUrlType, connect_below, parse_rds_host
from sturdydb_aws import CredentialCache, aws_client, explain_refusal
from sturdydb_iam._info import IAM
from sturdydb_iam.global_region import global_writer_region
from sturdydb_iam.properties import PROPERTIES
from sturdydb_iam.redaction import install_redaction

if TYPE_CHECKING:
    from sturdydb import ConnectRequest

__all__ = ["IamAuthPlugin", "IamTarget", "token_lifetime"]

log = logging.getLogger("sturdydb.iam")

#: boto3 signs RDS tokens for 15 minutes; caching one longer than that cannot work.
TOKEN_VALIDITY_S = 900
#: Never present a token in its last 30 s (clock skew, slow connects): the reference's
#: "pam_authenticate failed every hour" bug was a token that expired between check and use.
SAFETY_MARGIN_S = 30.0

#: Where the RDS certificate authorities are published (named in the warning).
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"


def token_lifetime(expiration_s: float) -> float:
    """Seconds a token made now may be reused: ``iam_expiration`` capped and minus the margin."""
    lifetime = min(float(expiration_s), TOKEN_VALIDITY_S)
    return lifetime - min(SAFETY_MARGIN_S, lifetime * 0.1)


@dataclass(frozen=True, slots=True)
class IamTarget:
    """What a token is signed for; also its cache key."""

    region: str
    host: str
    port: int
    user: str
    profile: str | None

    def describe(self) -> str:
        return f"user {self.user!r} at {self.host}:{self.port} (region {self.region})"


class IamAuthPlugin(Plugin):
    """Authenticate every physical connection with an RDS IAM token."""

    code: ClassVar[str] = IAM.code
    weight: ClassVar[int] = IAM.weight
    #: ``source`` of this plugin's ``sturdydb_credentials_obtained`` reports.
    credential_source: ClassVar[str] = "iam"

    def __init__(self) -> None:
        self.tokens: CredentialCache[IamTarget, str] = CredentialCache()
        # (host, port, how it goes out) already warned about: one warning per host, not per connect.
        self._unverified_warned: set[tuple[str, int | None, str]] = set()
        install_redaction()

    # -- the connect wrapper ---------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        target = self.target_for(request)
        ttl = self.token_ttl(request)
        report = self._reporter(request)
        entry, fresh = self.tokens.get(target, lambda: self.generate_token(target), ttl, report)
        self._apply(request, entry.value)
        try:
            return (yield)
        except Exception as exc:
            driver = request.context.driver
            if not driver.is_login_error(exc):
                raise
            if fresh:
                self.tokens.invalidate(target, entry)
                _explain_refusal(exc, target)
                raise
            # A cached token was refused (expired early, credentials rotated, clock jump):
            # one retry with a fresh token, through the plugins inside this one only.
            log.info("the database refused a cached IAM token for %s; retrying once with a new token",
                     target.describe())
            entry = self.tokens.refresh(target, entry, lambda: self.generate_token(target), ttl, report)
        self._apply(request, entry.value)
        try:
            return connect_below(self, request)
        except Exception as exc:
            if request.context.driver.is_login_error(exc):
                self.tokens.invalidate(target, entry)
                _explain_refusal(exc, target)
            raise

    # -- pieces ----------------------------------------------------------------------
    def _reporter(self, request: ConnectRequest) -> Callable[[bool, float], None]:
        """Forward the token cache's hit/miss to the chain (never the token itself)."""
        context, host, source = request.context, request.host, self.credential_source

        def report(cached: bool, seconds: float) -> None:
            context.report_credentials(host, source, cached, seconds)

        return report

    def target_for(self, request: ConnectRequest) -> IamTarget:
        """Region, host, port and user the token must be signed for (validated)."""
        props = request.props
        host = props.get("iam_host") or request.host.host
        port = props.get("iam_default_port") or request.host.port or request.context.driver.default_port
        user = request.driver_kwargs.get("user") or props.get("user")
        if not user:
            raise ConfigurationError(
                "the iam plugin needs the database user the token is for: set `user` in the "
                "connection string or keyword arguments"
            )
        parsed = parse_rds_host(host)
        region = props.get("iam_region")
        if region is None:
            region = parsed.region
            if region is None and parsed.url_type is RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER:
                region = global_writer_region(str(host), props.get("aws_profile"))
            if region is None:
                kind = "an IP address" if parsed.url_type is RdsUrlType.IP_ADDRESS else "not an RDS host name"
                raise ConfigurationError(
                    f"the iam plugin cannot tell the AWS region from the host {host!r} ({kind}); "
                    "set iam_region (and iam_host to the database's RDS host name if you connect "
                    "through an IP address or another DNS name)"
                )
        elif parsed.region is not None and parsed.region != region.lower():
            raise ConfigurationError(
                f"iam_region={region!r} does not match the region {parsed.region!r} in the host "
                f"name {host!r}; RDS only accepts tokens signed for the database's own region. "
                "Remove iam_region or correct it"
            )
        return IamTarget(str(region), str(host), int(port), str(user), props.get("aws_profile"))

    def token_ttl(self, request: ConnectRequest) -> float:
        """Seconds a token made now is reused (subclasses read their own expiration property)."""
        return token_lifetime(request.props.get("iam_expiration"))

    def generate_token(self, target: IamTarget) -> str:
        """A new token from boto3's RDS signer (local signing, no AWS request)."""
        client = aws_client("rds", profile=target.profile, region=target.region)
        token: str = client.generate_db_auth_token(
            DBHostname=target.host, Port=target.port, DBUsername=target.user, Region=target.region
        )
        log.debug("generated an IAM token for %s", target.describe())
        return token

    def _apply(self, request: ConnectRequest, token: str) -> None:
        kwargs = request.driver_kwargs
        kwargs["password"] = token
        driver = request.context.driver
        if request.props.get("iam_require_tls"):
            gap = driver.require_tls(kwargs)
            if gap is not None:
                raise ConfigurationError(
                    f"{gap}: the IAM token would go out unencrypted; or set iam_require_tls=false "
                    "(trusted local networks only)"
                )
        driver.enable_clear_text_password(kwargs)
        gap = driver.verify_server_identity(kwargs, request.props.get("iam_ca_bundle"))
        if gap is not None:
            self._warn_unverified(request, gap)

    def _warn_unverified(self, request: ConnectRequest, gap: str) -> None:
        """Say once per host that a token goes out to a server whose identity is not checked.

        A token is a bearer credential for up to 15 minutes: whoever can impersonate the
        server (DNS, routing, a proxy) and is not stopped by certificate verification can
        replay it. The message names the host, never the token.
        """
        key = (request.host.host, request.host.port, gap)
        if key in self._unverified_warned:
            return
        self._unverified_warned.add(key)
        log.warning(
            "sturdydb %s: an IAM token is sent to %s without verifying the server's identity (%s); "
            "whoever can intercept the connection could reuse the token for up to 15 minutes. Set "
            "iam_ca_bundle to the RDS certificate bundle (%s) so that the certificate and host name are "
            "verified (psycopg sslmode=verify-full, mysql-connector ssl_verify_identity)",
            self.code, request.host.url, gap, RDS_CA_BUNDLE_URL,
        )

    def release_resources(self) -> None:
        self.tokens.clear()
        self._unverified_warned.clear()

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return PROPERTIES


def _explain_refusal(exc: BaseException, target: IamTarget) -> None:
    """Add what to check to the driver's own authentication error (its type is kept)."""
    note = (
        f"sturdydb iam: the database refused the IAM token for {target.describe()}. Check that "
        "the database user is enabled for IAM (PostgreSQL: GRANT rds_iam; MySQL: IDENTIFIED WITH "
        "AWSAuthenticationPlugin), that the IAM policy allows rds-db:connect for this user, and "
        "that iam_region, iam_host and iam_default_port describe the database."
    )
    explain_refusal(exc, note, log)

