"""Masking filters for the debug logs of the libraries the AWS plugins drive.

sturdydb never logs a secret, but botocore, urllib3 and mysql-connector do at DEBUG level:
request parameters, response bodies, signatures, the bytes an auth plugin sends. Each AWS
plugin knows which of those records carry its secrets and keeps that knowledge (patterns,
logger names, masks) in its own ``redaction`` module; this module holds what they share:

- :class:`ArgumentMask`: mask the argument of records whose format string starts with a
  known prefix (``"Signature:"``, ``"Response body"``...), optionally only when the
  argument looks secret;
- :class:`MessageRedactor`: rewrite the formatted message with a text-to-text function
  (for secrets recognised by their shape anywhere in a message);
- :func:`install_filters`: attach filters to named loggers once per process and owner,
  thread-safe, so that instantiating a plugin many times never stacks filters;
- :func:`install_driver_redaction`: the mask every plugin that supplies a database password
  or token needs, because mysql-connector's authentication plugins log what they send
  (``# request: <bytes>``): with ``mysql_clear_password``, or ``caching_sha2_password``
  over TLS, those bytes are the password or IAM token itself.

Records are always kept (a filter returns ``True``) so the debug trail stays readable.
Filters run only for records that pass the logger's level, so they cost nothing unless
DEBUG logging is on. They are attached to the library loggers themselves and so also
protect the application's own use of those libraries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

__all__ = ["MASK", "ArgumentMask", "MessageRedactor", "install_driver_redaction", "install_filters"]

MASK = "***"

_installed: set[tuple[str, str]] = set()
_lock = threading.Lock()


class ArgumentMask(logging.Filter):
    """Replace the first argument of records whose format string starts with ``prefix``.

    With ``when``, only arguments for which it returns ``True`` are masked. A matching record
    logged without arguments (the value already in the message) gets ``"<prefix> <mask>"``
    as its message, unless ``when`` is given: then there is no argument to judge and the
    record is left alone.
    """

    def __init__(self, prefix: str, mask: str = MASK, when: Callable[[object], bool] | None = None) -> None:
        super().__init__()
        self.prefix = prefix
        self.mask = mask
        self.when = when

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if not (isinstance(msg, str) and msg.startswith(self.prefix)):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        if args:
            if self.when is None or self.when(args[0]):
                record.args = (self.mask, *args[1:])
        elif self.when is None:
            record.msg = f"{self.prefix} {self.mask}"
            record.args = ()
        return True


class MessageRedactor(logging.Filter):
    """Pass every formatted message through ``redact``; keep the record, changed only if needed."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # the handler reports the broken record itself
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


def install_filters(owner: str, filters: Mapping[str, Callable[[], logging.Filter]]) -> None:
    """Attach ``filters`` (logger name -> filter factory) once per process for ``owner``.

    ``owner`` names the plugin installing them: two plugins may each put their own filter on
    the same logger (both run), but calling this again for the same owner adds nothing.
    """
    with _lock:
        for name, make in filters.items():
            key = (owner, name)
            if key in _installed:
                continue
            logging.getLogger(name).addFilter(make())
            _installed.add(key)


def install_driver_redaction() -> None:
    """Mask what mysql-connector's authentication plugins send (idempotent, thread-safe)."""
    install_filters("aws", {"mysql.connector": lambda: ArgumentMask("# request:")})
