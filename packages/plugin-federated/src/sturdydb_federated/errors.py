"""The error raised when federation fails, naming the step that failed.

Federation is a chain of remote steps (the identity provider's sign-in page, the credential
post, the SAML assertion, the role choice, STS); a plain "login failed" would leave the user
guessing which one. :class:`FederatedAuthError` carries ``step`` and a message that says
what to check. Messages never contain a password, an assertion, a session token or a
credential: request errors are summarised rather than quoted, because their text contains the
request URL (an Okta one-time token travels in it).

At connect time the plugin raises it flavoured with the driver's ``OperationalError``
(``except psycopg.OperationalError`` catches it), like every sturdydb connect error.
"""

from __future__ import annotations

from sturdydb import OperationalError

__all__ = ["FederatedAuthError", "federation_error"]


class FederatedAuthError(OperationalError):
    """Signing in through the identity provider or exchanging the assertion failed."""

    #: Which step failed: "ADFS sign-in page", "ADFS sign-in", "Okta authentication",
    #: "Okta SAML app", "SAML assertion", "role selection" or "STS AssumeRoleWithSAML".
    step: str = ""


def federation_error(step: str, message: str) -> FederatedAuthError:
    """A :class:`FederatedAuthError` for ``step`` whose message starts with the step."""
    error = FederatedAuthError(f"federated authentication failed at step '{step}': {message}")
    error.step = step
    return error
