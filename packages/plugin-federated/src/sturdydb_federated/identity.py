"""Who signs in where: the identity a federation is done for, read from the properties.

:class:`FederatedIdentity` is the key of the temporary-credentials cache, so it holds what
makes credentials different (identity provider, user, role, region, profile) and compares
on nothing else; the password and the transport options ride along without taking part in
equality, hashing or the repr. A keyed digest of the password (the key is random per
process) does take part, so that a connect with a wrong password never reuses credentials
obtained with the right one. All required properties are checked together, before any
request is made, and a missing one is an error: there is no placeholder fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sturdydb import ConfigurationError
from sturdydb.plugin_api import Properties

__all__ = ["FederatedIdentity", "identity_from", "password_digest"]

_DIGEST_KEY = secrets.token_bytes(32)


def password_digest(password: str) -> str:
    """A keyed SHA-256 of ``password``: tells passwords apart, useless outside this process."""
    return hmac.new(_DIGEST_KEY, password.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class FederatedIdentity:
    """One user at one identity provider, federated into one AWS account and region."""

    provider: str  # "adfs" or "okta"
    host: str
    port: int
    username: str
    role_arn: str | None
    idp_arn: str | None
    region: str
    profile: str | None
    rp_identifier: str | None = None
    app_id: str | None = None
    password_digest: str = field(default="", repr=False)
    password: str = field(default="", repr=False, compare=False)
    #: ``True``, ``False`` or the path of a CA bundle (requests' ``verify``).
    verify: bool | str = field(default=True, compare=False)
    timeout: float = field(default=60.0, compare=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}" if self.port == 443 else f"https://{host}:{self.port}"

    def describe(self) -> str:
        return f"{self.username!r} at {self.provider} {self.base_url}"


def _endpoint(value: str, port: int) -> tuple[str, int]:
    """``idp_endpoint`` may be a bare host, ``host:port`` or an ``https://`` URL."""
    text = value.strip().rstrip("/")
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme != "https":
            raise ConfigurationError(
                f"idp_endpoint={value!r}: the identity provider is only ever reached over HTTPS; "
                "give its host name (for example adfs.example.com)"
            )
    else:
        text = f"https://{text}"
    parts = urlsplit(text)
    if not parts.hostname or parts.path not in ("", "/"):
        raise ConfigurationError(
            f"idp_endpoint={value!r} is not a host name; give the identity provider's host name, "
            "for example adfs.example.com or example.okta.com"
        )
    return parts.hostname, parts.port or port


def identity_from(props: Properties, provider: str, region: str | None, db_user: str | None) -> FederatedIdentity:
    """Validate the properties a federation needs (all at once) and build the identity."""
    required = ["idp_endpoint", "idp_username", "idp_password"]
    if provider == "okta":
        required.append("app_id")
    missing = [name for name in required if not props.get(name)]
    if not db_user:
        missing.append("db_user")
    if missing:
        plugin = "okta" if provider == "okta" else "federated_auth"
        raise ConfigurationError(
            f"the {plugin} plugin needs {', '.join(missing)}: set "
            f"{'it' if len(missing) == 1 else 'them'} in the connection string or keyword arguments "
            "(db_user may also be given as user)"
        )
    if provider == "adfs" and str(props.get("idp_name")).lower() != "adfs":
        raise ConfigurationError(
            f"idp_name={props.get('idp_name')!r}: the federated_auth plugin supports only adfs; "
            "use plugins=okta for Okta"
        )
    host, port = _endpoint(str(props.get("idp_endpoint")), int(props.get("idp_port")))
    verify: bool | str = True
    if not props.get("ssl_secure"):
        verify = False
    elif props.get("idp_ca_bundle"):
        verify = str(props.get("idp_ca_bundle"))
    return FederatedIdentity(
        provider=provider,
        host=host,
        port=port,
        username=str(props.get("idp_username")),
        role_arn=props.get("iam_role_arn"),
        idp_arn=props.get("iam_idp_arn"),
        region=str(region),
        profile=props.get("aws_profile"),
        rp_identifier=str(props.get("rp_identifier")) if provider == "adfs" else None,
        app_id=props.get("app_id") if provider == "okta" else None,
        password_digest=password_digest(str(props.get("idp_password"))),
        password=str(props.get("idp_password")),
        verify=verify,
        timeout=float(props.get("http_request_connect_timeout")),
    )
