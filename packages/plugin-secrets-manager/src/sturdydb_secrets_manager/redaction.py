"""Keep secret values out of botocore's debug log.

At DEBUG level botocore logs every HTTP response body (``botocore.parsers``: ``Response
body: b'...'``). For ``GetSecretValue`` that body is the secret itself. A filter on that
logger replaces any body that carries ``SecretString`` or ``SecretBinary`` with a mask (the
record stays, so the debug trail is still readable). It is installed once per process when
the plugin is first instantiated and also protects other users of botocore in the
application.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["MASK", "install_redaction"]

MASK = "*** (secret value masked by sturdydb)"

_SECRET_MARKERS = (b"SecretString", b"SecretBinary")
_installed = False
_lock = threading.Lock()


class _SecretBodyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and msg.startswith("Response body") and isinstance(record.args, tuple):
            body = record.args[0] if record.args else b""
            raw = body.encode() if isinstance(body, str) else body
            if isinstance(raw, (bytes, bytearray)) and any(m in raw for m in _SECRET_MARKERS):
                record.args = (MASK,)
        return True


def install_redaction() -> None:
    """Attach the masking filter to ``botocore.parsers`` (idempotent, thread-safe)."""
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("botocore.parsers").addFilter(_SecretBodyFilter())
            _installed = True
