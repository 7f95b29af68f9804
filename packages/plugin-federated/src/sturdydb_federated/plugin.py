"""The ``federated_auth`` (ADFS) and ``okta`` plugins: SAML federation to IAM database tokens.

Both are ``sturdydb-iam``'s :class:`~sturdydb_iam.IamAuthPlugin` with a different source of
AWS credentials: instead of the process's own, temporary credentials of a role obtained by
signing in to the identity provider and exchanging its SAML assertion with STS
``AssumeRoleWithSAML``. Everything else is the iam plugin's: the token is what the driver
gets as its password, tokens are cached (single flight) per database target, a cached token
that the server refuses is replaced once, and the TLS rules for sending a token apply.

Two caches make a warm connect free of network work: database tokens (the iam plugin's,
keyed by target *and* federated identity, reused for ``iam_token_expiration`` minus the
safety margin) and temporary credentials (keyed by identity, reused until the time left is
less than a token's reuse time plus the margin, so that no cached token outlives the
credentials that signed it). A connect with both cached makes no HTTP and no AWS request;
one with only credentials cached signs a token locally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import PropertySpec, hookimpl
from sturdydb_aws import CredentialCache
from sturdydb_federated import sts
from sturdydb_federated._info import FEDERATED_AUTH, OKTA
from sturdydb_federated.adfs import adfs_saml_response
from sturdydb_federated.errors import FederatedAuthError
from sturdydb_federated.identity import FederatedIdentity, identity_from
from sturdydb_federated.okta import okta_saml_response
from sturdydb_federated.properties import PROPERTIES
from sturdydb_federated.redaction import install_redaction
from sturdydb_federated.saml import choose_role, roles_in_response
from sturdydb_federated.sts import TemporaryCredentials
from sturdydb_federated.transport import IdpTransport
from sturdydb_iam import IamAuthPlugin, IamTarget, token_lifetime
from sturdydb_iam.plugin import SAFETY_MARGIN_S

if TYPE_CHECKING:
    import requests

    from sturdydb import ConnectRequest

__all__ = ["FederatedAuthPlugin", "FederatedTarget", "OktaAuthPlugin", "SamlFederationPlugin"]

log = logging.getLogger("sturdydb.federated")


@dataclass(frozen=True, slots=True)
class FederatedTarget(IamTarget):
    """A database token's target plus the identity whose credentials sign it (the cache key)."""

    identity: FederatedIdentity
    #: Seconds a token is reused (from ``iam_token_expiration``), needed by the credentials cache.
    token_ttl: float = 0.0


class SamlFederationPlugin(IamAuthPlugin):
    """The iam plugin with temporary credentials from a SAML identity provider.

    Subclasses name the provider and implement :meth:`saml_response`.
    """

    provider: ClassVar[str] = ""
    #: Builds the HTTP session of each federation (tests substitute an in-process fake).
    session_factory: Callable[[], requests.Session] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.credentials: CredentialCache[FederatedIdentity, TemporaryCredentials] = CredentialCache()
        install_redaction()

    # -- the connect wrapper ---------------------------------------------------------
    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        identity: FederatedIdentity | None = None
        try:
            return (yield from super().sturdydb_connect(request))
        except FederatedAuthError as exc:
            driver_base = request.context.driver.operational_error
            if driver_base is None or isinstance(exc, driver_base):
                raise
            # Same message and step, but also the driver's OperationalError, so the
            # application's existing `except psycopg.OperationalError` catches it.
            flavoured = request.context.error(type(exc), str(exc))
            flavoured.step = exc.step
            raise flavoured from exc.__cause__
        except Exception as exc:
            if request.context.driver.is_login_error(exc):
                # The role may have lost rds-db:connect, or the credentials were revoked: the
                # next connect federates again instead of signing with the same credentials.
                identity = self._identity_of(request)
                if identity is not None:
                    self.credentials.invalidate(identity)
            raise

    def _identity_of(self, request: ConnectRequest) -> FederatedIdentity | None:
        try:
            return self.target_for(request).identity
        except Exception:
            return None

    # -- overrides of the iam plugin -------------------------------------------------
    def target_for(self, request: ConnectRequest) -> FederatedTarget:
        """The token target and the federated identity, every required property checked first."""
        props = request.props
        db_user = props.get("db_user") or request.driver_kwargs.get("user") or props.get("user")
        if db_user:
            request.driver_kwargs["user"] = db_user
        # The iam plugin checks the user and works out (or checks) the region.
        identity = identity_from(props, self.provider, props.get("iam_region") or "?", db_user)
        base = super().target_for(request)
        identity = _with_region(identity, base.region)
        values = {f.name: getattr(base, f.name) for f in fields(IamTarget)}
        return FederatedTarget(**values, identity=identity, token_ttl=self.token_ttl(request))

    def token_ttl(self, request: ConnectRequest) -> float:
        return token_lifetime(request.props.get("iam_token_expiration"))

    def generate_token(self, target: IamTarget) -> str:
        """A token signed with the identity's temporary credentials (federating if needed)."""
        if not isinstance(target, FederatedTarget):  # pragma: no cover - only our targets reach here
            raise TypeError(f"{type(self).__name__} signs tokens for FederatedTarget, not {type(target).__name__}")
        token_ttl = target.token_ttl
        entry, fresh = self.credentials.get(
            target.identity, lambda: self.federate(target.identity),
            lambda creds: max(0.0, creds.remaining() - token_ttl - SAFETY_MARGIN_S),
        )
        credentials = entry.value
        if fresh and credentials.remaining() < token_ttl + SAFETY_MARGIN_S:
            log.warning(
                "%s: the temporary credentials of %s last only %.0f s, less than a token's reuse time "
                "(%.0f s) plus %.0f s; lower iam_token_expiration or raise the role's session duration",
                self.code, credentials.role_arn, credentials.remaining(), token_ttl, SAFETY_MARGIN_S)
        token = sts.sign_db_token(credentials, target)
        log.debug("%s: signed an IAM token for %s with temporary credentials of %s",
                  self.code, target.describe(), credentials.role_arn)
        return token

    # -- federation ------------------------------------------------------------------
    def federate(self, identity: FederatedIdentity) -> TemporaryCredentials:
        """Sign in to the identity provider and exchange the assertion for credentials."""
        if identity.verify is False:
            log.warning(
                "%s: ssl_secure=false: the TLS certificate of the identity provider %s is not "
                "verified, so the password could be sent to an impostor; use idp_ca_bundle instead",
                self.code, identity.base_url)
        session = self.session_factory() if self.session_factory is not None else None
        with IdpTransport(verify=identity.verify, timeout=identity.timeout, session=session) as transport:
            saml_response = self.saml_response(identity, transport)
        role = choose_role(roles_in_response(saml_response), identity.role_arn, identity.idp_arn)
        credentials = sts.assume_role_with_saml(region=identity.region, profile=identity.profile, role=role,
                                                saml_response=saml_response)
        log.info("%s: signed in %s and assumed %s (credentials valid for %.0f s)",
                 self.code, identity.describe(), role.role_arn, credentials.remaining())
        return credentials

    def saml_response(self, identity: FederatedIdentity, transport: IdpTransport) -> str:
        """The identity provider's base64 ``SAMLResponse`` for ``identity``."""
        raise NotImplementedError

    def release_resources(self) -> None:
        super().release_resources()
        self.credentials.clear()

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return PROPERTIES


def _with_region(identity: FederatedIdentity, region: str) -> FederatedIdentity:
    from dataclasses import replace

    return replace(identity, region=region)


class FederatedAuthPlugin(SamlFederationPlugin):
    """``federated_auth``: sign in to ADFS with a user name and password."""

    code: ClassVar[str] = FEDERATED_AUTH.code
    credential_source: ClassVar[str] = "federated_auth"
    weight: ClassVar[int] = FEDERATED_AUTH.weight
    provider: ClassVar[str] = "adfs"

    def saml_response(self, identity: FederatedIdentity, transport: IdpTransport) -> str:
        return adfs_saml_response(identity, transport)


class OktaAuthPlugin(SamlFederationPlugin):
    """``okta``: sign in through Okta's authentication API and its Amazon Web Services app."""

    code: ClassVar[str] = OKTA.code
    credential_source: ClassVar[str] = "okta"
    weight: ClassVar[int] = OKTA.weight
    provider: ClassVar[str] = "okta"

    def saml_response(self, identity: FederatedIdentity, transport: IdpTransport) -> str:
        return okta_saml_response(identity, transport)
