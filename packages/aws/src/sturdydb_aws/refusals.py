"""Explaining a login the database refused, the same way in every AWS auth plugin.

When the database refuses a credential a plugin supplied (an IAM token, a password from a
secret), the driver's error says only that authentication failed. The plugin knows what to
check; it adds that as a note to the driver's own exception (so its type, and the
application's ``except`` clauses, are unchanged) and logs it once as a warning, because
pools and frameworks often swallow the exception's notes. Notes never contain the credential.
"""

from __future__ import annotations

import logging

__all__ = ["explain_refusal"]


def explain_refusal(exc: BaseException, note: str, log: logging.Logger) -> None:
    """Add ``note`` to ``exc`` (Python 3.11+; older versions only log it) and log it as a warning."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)
    log.warning("%s", note)
