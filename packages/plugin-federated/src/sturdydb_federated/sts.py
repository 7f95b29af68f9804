"""The AWS side of federation: assertion to temporary credentials, credentials to a token.

``AssumeRoleWithSAML`` is an unsigned STS call (the assertion is the proof), made with the
shared boto3 client of ``sturdydb-iam`` for the region, so it honours ``aws_profile`` and the
usual endpoint configuration (``AWS_ENDPOINT_URL_STS``, VPC endpoints in the config file).
The database token is then signed locally with the temporary credentials by an RDS client
bound to them; clients are kept for the few most recent credentials, because creating one
costs tens of milliseconds and credentials change only about once an hour.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sturdydb_aws as aws
from sturdydb import register_process_state
from sturdydb_federated.errors import federation_error

if TYPE_CHECKING:
    from sturdydb_federated.saml import SamlRole
    from sturdydb_iam import IamTarget

__all__ = ["TemporaryCredentials", "assume_role_with_saml", "clear_clients", "sign_db_token"]

log = logging.getLogger("sturdydb.federated")

STEP = "STS AssumeRoleWithSAML"
_MAX_CLIENTS = 8


@dataclass(frozen=True)
class TemporaryCredentials:
    """STS credentials; the secret parts never appear in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    #: Epoch seconds at which STS stops honouring them.
    expiration: float
    role_arn: str

    def remaining(self, now: float | None = None) -> float:
        return self.expiration - (time.time() if now is None else now)


def assume_role_with_saml(*, region: str, profile: str | None, role: SamlRole, saml_response: str) -> TemporaryCredentials:
    """Exchange the assertion for temporary credentials of ``role``."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = aws.aws_client("sts", profile=profile, region=region)
    try:
        answer: dict[str, Any] = client.assume_role_with_saml(
            RoleArn=role.role_arn, PrincipalArn=role.provider_arn, SAMLAssertion=saml_response
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "error")
        message = str(error.get("Message", "")).strip()
        raise federation_error(
            STEP, f"STS in {region} refused the assertion for role {role.role_arn} (provider "
                  f"{role.provider_arn}): {code}{': ' + message if message else ''}. Check that the IAM "
                  "SAML provider trusts this identity provider and that the role's trust policy "
                  "allows sts:AssumeRoleWithSAML") from None
    except BotoCoreError as exc:
        raise federation_error(STEP, f"could not call STS in {region} ({type(exc).__name__})") from None
    creds = answer["Credentials"]
    expiration = creds["Expiration"]
    expires = expiration.timestamp() if hasattr(expiration, "timestamp") else float(expiration)
    return TemporaryCredentials(str(creds["AccessKeyId"]), str(creds["SecretAccessKey"]),
                                str(creds["SessionToken"]), expires, role.role_arn)


_clients: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()
_session: Any = None


def _reset_after_fork() -> None:
    global _lock, _session
    _lock = threading.Lock()
    _session = None
    _clients.clear()


# One piece of sturdydb's process state: the core's fork handler (and reset_process_state)
# runs it.
register_process_state("sturdydb_federated.sts", _reset_after_fork)


def _rds_client(credentials: TemporaryCredentials, region: str) -> Any:
    global _session
    key = (region, credentials.access_key_id)
    with _lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        client = _session.create_client(
            "rds", region_name=region, aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key, aws_session_token=credentials.session_token,
        )
        _clients[key] = client
        while len(_clients) > _MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def sign_db_token(credentials: TemporaryCredentials, target: IamTarget) -> str:
    """An RDS IAM token for ``target`` signed with ``credentials`` (local, no AWS request)."""
    client = _rds_client(credentials, target.region)
    token: str = client.generate_db_auth_token(
        DBHostname=target.host, Port=target.port, DBUsername=target.user, Region=target.region
    )
    return token


def clear_clients() -> None:
    """Forget the RDS clients bound to temporary credentials (and the session's cached config)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
