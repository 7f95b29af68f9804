"""Keep IAM tokens out of third-party debug logs.

sturdydb never logs a token, but two libraries it drives do at DEBUG level:

- botocore's SigV4 signer logs ``Signature: <hex>`` (``botocore.auth``). An RDS token is the
  presigned URL plus that signature, and the same records log the canonical query string,
  so the two lines together rebuild a usable token;
- mysql-connector's authentication plugins log ``# request: <bytes>``
  (``mysql.connector``): for ``mysql_clear_password`` those bytes are the token itself.

A filter on each of those loggers masks the sensitive argument (the record is kept, so the
debug trail stays readable). The filter machinery, and the mysql-connector mask that every
plugin supplying a password needs, are :mod:`sturdydb_aws.redaction`'s; this module names
what only the iam plugin has to mask. Filters are installed once per process, when the plugin is first
instantiated; they also protect other users of botocore in the application.
"""

from __future__ import annotations

from sturdydb_aws.redaction import MASK, ArgumentMask, install_driver_redaction, install_filters

__all__ = ["MASK", "install_redaction"]


def install_redaction() -> None:
    """Attach the masking filters (idempotent, thread-safe)."""
    install_filters("iam", {"botocore.auth": lambda: ArgumentMask("Signature:")})
    install_driver_redaction()
