"""Keep IAM tokens out of third-party debug logs.

sturdydb never logs a token, but two libraries it drives do at DEBUG level:

- botocore's SigV4 signer logs ``Signature: <hex>`` (``botocore.auth``). An RDS token is the
  presigned URL plus that signature, and the same records log the canonical query string,
  so the two lines together rebuild a usable token;
- mysql-connector's authentication plugins log ``# request: <bytes>``
  (``mysql.connector``): for ``mysql_clear_password`` those bytes are the token itself.

A filter on each of those loggers masks the sensitive argument (the record is kept, so the
debug trail stays readable). Filters are installed once per process, when the plugin is
first instantiated; they also protect other users of botocore in the application.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["MASK", "install_redaction"]

MASK = "***"

_installed: set[str] = set()
_lock = threading.Lock()


class _SignatureFilter(logging.Filter):
    """``botocore.auth``: mask the computed signature."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Signature:"):
            record.args = (MASK,)
        return True


class _AuthRequestFilter(logging.Filter):
    """``mysql.connector``: mask what an auth plugin sends (a password or token)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("# request:"):
            args = record.args if isinstance(record.args, tuple) else ()
            record.args = (MASK, *args[1:]) if args else ()
            if not args:
                record.msg = f"# request: {MASK}"
        return True


_FILTERS: dict[str, type[logging.Filter]] = {
    "botocore.auth": _SignatureFilter,
    "mysql.connector": _AuthRequestFilter,
}


def install_redaction() -> None:
    """Attach the masking filters (idempotent, thread-safe)."""
    with _lock:
        for name, filter_class in _FILTERS.items():
            if name in _installed:
                continue
            logging.getLogger(name).addFilter(filter_class())
            _installed.add(name)
