"""Keep assertions, session tokens and temporary credentials out of third-party debug logs.

sturdydb never logs a secret, but the libraries that federation drives do at DEBUG level:
botocore logs each request's parameters (the ``SAMLAssertion``) and the raw STS answer (the
``SecretAccessKey`` and ``SessionToken``), its SigV4 signer logs the canonical request of
a token signed with temporary credentials (``X-Amz-Security-Token``), and urllib3 logs each
request line (Okta's ``onetimetoken`` is in the query string). A filter on each of those
loggers masks these values by their shape; records are kept so the debug trail stays
readable. ``sturdydb-iam`` installs its own filters for the token signature and
mysql-connector's clear-text password; these add to them. The filter machinery is
:mod:`sturdydb_aws.redaction`'s; this module holds the patterns. Filters run only for
records that pass the logger's level, so they cost nothing unless DEBUG logging is on.
"""

from __future__ import annotations

import re

from sturdydb_aws.redaction import MASK, MessageRedactor, install_filters

__all__ = ["LOGGERS", "MASK", "install_redaction", "redact"]

#: The loggers that write request parameters, answers or URLs.
LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.auth",
    "botocore.hooks",
    "botocore.httpsession",
    "botocore.retryhandler",
    "botocore.regions",
    "urllib3.connectionpool",
    "requests",
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # STS answers (XML), raw or as a bytes repr.
    (re.compile(r"(<(SecretAccessKey|SessionToken|SAMLAssertion)>)[^<]*(</\2>)"), rf"\1{MASK}\3"),
    # Parameters as a Python dict repr or JSON.
    (re.compile(r"""(['"](?:SAMLAssertion|SecretAccessKey|SessionToken|sessionToken|password|"""
                r"""aws_secret_access_key|aws_session_token)['"]\s*:\s*)(b?['"])(?:\\.|(?!\2).)*\2"""),
     rf"\1'{MASK}'"),
    # URL-encoded bodies and query strings.
    (re.compile(r"((?:SAMLAssertion|SAMLResponse|X-Amz-Security-Token|X-Amz-Signature|onetimetoken|"
                r"sessionToken|[Pp]assword)=)[^&\s'\"]+"), rf"\1{MASK}"),
)


def redact(text: str) -> str:
    """``text`` with every secret-shaped value masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def install_redaction() -> None:
    """Attach the masking filter to :data:`LOGGERS` (idempotent, thread-safe)."""
    shared = MessageRedactor(redact)
    install_filters("federated", {name: lambda: shared for name in LOGGERS})
