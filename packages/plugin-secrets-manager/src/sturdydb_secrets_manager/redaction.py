"""Keep secret values out of botocore's and mysql-connector's debug logs.

At DEBUG level botocore logs every HTTP response body (``botocore.parsers``: ``Response
body: b'...'``). For ``GetSecretValue`` that body is the secret itself. A filter on that
logger replaces any body that carries ``SecretString`` or ``SecretBinary`` with a mask (the
record stays, so the debug trail is still readable). mysql-connector's authentication
plugins log the password taken from the secret as they send it; that mask is shared with the
iam plugin (:func:`sturdydb_aws.redaction.install_driver_redaction`). The filter machinery
is :mod:`sturdydb_aws.redaction`'s; this module says which bodies to mask. The filters are
installed once per process when the plugin is first instantiated and also protect other
users of botocore in the application.
"""

from __future__ import annotations

from sturdydb_aws.redaction import ArgumentMask, install_driver_redaction, install_filters

__all__ = ["MASK", "install_redaction"]

MASK = "*** (secret value masked by sturdydb)"

_SECRET_MARKERS = (b"SecretString", b"SecretBinary")


def _holds_a_secret(body: object) -> bool:
    raw = body.encode() if isinstance(body, str) else body
    return isinstance(raw, (bytes, bytearray)) and any(marker in raw for marker in _SECRET_MARKERS)


def install_redaction() -> None:
    """Attach the masking filters (idempotent, thread-safe)."""
    install_filters("aws_secrets_manager",
                    {"botocore.parsers": lambda: ArgumentMask("Response body", MASK, when=_holds_a_secret)})
    install_driver_redaction()
