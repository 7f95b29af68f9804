"""The ``aws_secrets_manager`` plugin: database user and password from AWS Secrets Manager.

For each physical connect it sets ``user`` and ``password`` from a JSON secret. The secret
is cached per (secret id, region, endpoint, profile) for ``secrets_manager_expiration``, so
only the first connect of a process (and one per expiry) calls AWS; concurrent connects
that miss the cache share one ``GetSecretValue`` call. When the database refuses a cached
credential the secret has probably been rotated: it is fetched again once and, if it
changed, the inner connect is retried with the new value.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb import ConfigurationError, OperationalError, Plugin, PropertySpec, hookimpl
from sturdydb.plugin_api import connect_below
from sturdydb_aws import CredentialCache, aws_client, aws_session, explain_refusal
from sturdydb_secrets_manager._info import SECRETS_MANAGER
from sturdydb_secrets_manager.properties import ONE_YEAR_S, PROPERTIES
from sturdydb_secrets_manager.redaction import install_redaction

if TYPE_CHECKING:
    from sturdydb import ConnectRequest

__all__ = ["AwsSecretsManagerPlugin", "DatabaseCredentials", "SecretRef", "parse_secret"]

log = logging.getLogger("sturdydb.secrets_manager")


# arn:<partition>:secretsmanager:<region>:<account>:secret:<name>
_ARN = re.compile(r"^arn:[a-z0-9-]+:secretsmanager:(?P<region>[a-z0-9-]+):\d*:secret:.+$")

@dataclass(frozen=True, slots=True)
class SecretRef:
    """Which secret, where: also the cache key."""

    secret_id: str
    region: str
    endpoint: str | None
    profile: str | None


@dataclass(frozen=True, slots=True)
class DatabaseCredentials:
    """A user and password taken from a secret. The repr never shows the password."""

    user: str
    password: str

    def __repr__(self) -> str:
        return f"DatabaseCredentials(user={self.user!r}, password=***)"


def parse_secret(secret: str | bytes, user_key: str, password_key: str, secret_id: str) -> DatabaseCredentials:
    """The credentials in a secret's JSON; errors never quote the secret."""
    try:
        data = json.loads(secret)
    except ValueError:
        raise ConfigurationError(
            f"secret {secret_id!r} is not a JSON object; store the credentials as "
            f'{{"{user_key}": ..., "{password_key}": ...}}'
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(f"secret {secret_id!r} is JSON but not an object with the credentials")
    missing = [key for key in (user_key, password_key) if not isinstance(data.get(key), str)]
    if missing:
        raise ConfigurationError(
            f"secret {secret_id!r} has no string value for {', '.join(map(repr, missing))}; it has the "
            f"keys {sorted(map(str, data))}. Set secrets_manager_secret_username_key / "
            "secrets_manager_secret_password_key to the names your secret uses"
        )
    return DatabaseCredentials(data[user_key], data[password_key])


class AwsSecretsManagerPlugin(Plugin):
    """Take each physical connection's user and password from AWS Secrets Manager."""

    code: ClassVar[str] = SECRETS_MANAGER.code
    weight: ClassVar[int] = SECRETS_MANAGER.weight

    def __init__(self) -> None:
        self.secrets: CredentialCache[SecretRef, DatabaseCredentials] = CredentialCache()
        # Resolving the region may read the AWS configuration: do it once per configuration.
        self._refs: dict[tuple[Any, ...], SecretRef] = {}
        install_redaction()

    @hookimpl(wrapper=True)
    def sturdydb_connect(self, request: ConnectRequest) -> Generator[None, Any, Any]:
        ref = self.secret_ref(request)
        ttl = _ttl(request.props.get("secrets_manager_expiration"))
        fetch = lambda: self.fetch(ref, request)  # noqa: E731 - one closure, used twice
        context, host = request.context, request.host

        def report(cached: bool, seconds: float) -> None:
            # Where the credentials came from and how long it took: never the values.
            context.report_credentials(host, "secrets_manager", cached, seconds)

        entry, fresh = self.secrets.get(ref, fetch, ttl, report)
        _apply(request, entry.value)
        try:
            return (yield)
        except Exception as exc:
            if not request.context.driver.is_login_error(exc):
                raise
            if fresh:
                _explain_refusal(exc, ref, entry.value)
                raise
            stale = entry
            entry = self.secrets.refresh(ref, stale, fetch, ttl, report)
            if entry.value == stale.value:
                # Same credentials: retrying cannot help (and must not hammer the database).
                _explain_refusal(exc, ref, entry.value)
                raise
            log.info("the database refused the cached credentials from secret %r; the secret has "
                     "changed (rotated), retrying once with the new value", ref.secret_id)
        _apply(request, entry.value)
        try:
            return connect_below(self, request)
        except Exception as exc:
            if request.context.driver.is_login_error(exc):
                _explain_refusal(exc, ref, entry.value)
            raise

    def secret_ref(self, request: ConnectRequest) -> SecretRef:
        props = request.props
        secret_id = props.get("secrets_manager_secret_id")
        if not secret_id:
            raise ConfigurationError(
                "the aws_secrets_manager plugin needs secrets_manager_secret_id (the secret's name or ARN)"
            )
        profile = props.get("aws_profile")
        region = props.get("secrets_manager_region")
        endpoint = props.get("secrets_manager_endpoint")
        memo_key = (secret_id, region, endpoint, profile)
        found = self._refs.get(memo_key)
        if found is not None:
            return found
        if region is None:
            match = _ARN.match(secret_id)
            region = match["region"] if match else aws_session(profile).region_name
        if not region:
            raise ConfigurationError(
                f"cannot tell the AWS region of secret {secret_id!r}: set secrets_manager_region, "
                "use the secret's ARN, or configure a default region (AWS_REGION or the profile)"
            )
        ref = SecretRef(str(secret_id), str(region), endpoint, profile)
        self._refs[memo_key] = ref
        return ref

    def fetch(self, ref: SecretRef, request: ConnectRequest) -> DatabaseCredentials:
        """One ``GetSecretValue`` call, parsed."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = aws_client("secretsmanager", profile=ref.profile, region=ref.region, endpoint=ref.endpoint)
        try:
            response = client.get_secret_value(SecretId=ref.secret_id)
        except (ClientError, BotoCoreError) as exc:
            # botocore's messages name the operation and the error code, never the value.
            raise request.context.error(
                OperationalError,
                f"could not read secret {ref.secret_id!r} from AWS Secrets Manager in {ref.region}: {exc}. "
                "The caller needs secretsmanager:GetSecretValue on it (and kms:Decrypt for a "
                "customer-managed key)",
            ) from exc
        secret = response.get("SecretString")
        if secret is None:
            secret = response.get("SecretBinary", b"")
        props = request.props
        credentials = parse_secret(
            secret,
            props.get("secrets_manager_secret_username_key"),
            props.get("secrets_manager_secret_password_key"),
            ref.secret_id,
        )
        log.debug("fetched database credentials for user %r from secret %r", credentials.user, ref.secret_id)
        return credentials

    def release_resources(self) -> None:
        self.secrets.clear()

    @staticmethod
    @hookimpl
    def sturdydb_add_properties() -> Sequence[PropertySpec]:
        return PROPERTIES


def _ttl(expiration: Any) -> float:
    seconds = int(expiration)
    return float(ONE_YEAR_S if seconds < 0 else seconds)


def _apply(request: ConnectRequest, credentials: DatabaseCredentials) -> None:
    request.driver_kwargs["user"] = credentials.user
    request.driver_kwargs["password"] = credentials.password


def _explain_refusal(exc: BaseException, ref: SecretRef, credentials: DatabaseCredentials) -> None:
    note = (
        f"sturdydb aws_secrets_manager: the database refused user {credentials.user!r} with the password "
        f"from secret {ref.secret_id!r} (fetched again just now). Check that the secret holds the "
        "database's current credentials."
    )
    explain_refusal(exc, note, log)
