"""HTTPS to the identity provider: certificate checks, timeouts, and errors that name the step.

One :class:`IdpTransport` serves one federation (a few requests, then closed): a
``requests.Session`` keeps the identity provider's cookies between the sign-in page and the
credential post, as ADFS requires. Certificates are verified against ``idp_ca_bundle`` or the
system's trust store unless ``ssl_secure=false``. Every failure becomes a
:class:`~sturdydb_federated.errors.FederatedAuthError` for the step; the request library's own
exception text is not quoted because it contains the full URL, and an Okta one-time token
travels in the query string.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from sturdydb_federated.errors import federation_error

if TYPE_CHECKING:
    import requests

__all__ = ["IdpTransport", "expect_success", "https_only"]

_MAX_REDIRECTS = 10

log = logging.getLogger("sturdydb.federated")


def https_only(url: str, step: str) -> str:
    """``url`` if it is HTTPS; credentials are never sent in the clear."""
    if urlsplit(url).scheme.lower() != "https":
        raise federation_error(step, f"the identity provider sent the sign-in to a non-HTTPS address "
                                     f"({_where(url)}); refusing to send credentials there")
    return url


def _where(url: str) -> str:
    """Scheme, host, port and path of ``url``: never its query (it may hold a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _reason(exc: BaseException) -> str:
    """A short cause for a connection failure, from the innermost OS error when there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror.lower()
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        reason = getattr(current, "reason", None)
        current = nested or (reason if isinstance(reason, BaseException) else None) or current.__cause__ \
            or current.__context__
    text = str(exc).lower()
    for known in ("connection refused", "name or service not known", "no route to host",
                  "network is unreachable", "connection reset"):
        if known in text:
            return known
    return type(exc).__name__


class IdpTransport:
    """A short-lived HTTPS session with the identity provider."""

    def __init__(self, *, verify: bool | str, timeout: float, session: requests.Session | None = None) -> None:
        import requests

        self.session = session if session is not None else requests.Session()
        self.verify = verify
        self.timeout = timeout

    def request(self, step: str, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send one request; connection and TLS failures become errors naming ``step``."""
        where = _where(url)
        kwargs.setdefault("timeout", self.timeout)
        for _ in range(_MAX_REDIRECTS + 1):
            https_only(url, step)
            response = self._send(step, method, url, kwargs)
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                log.debug("federated auth: %s: HTTP %s from %s", step, response.status_code, _where(url))
                return response
            # Follow redirects here rather than in requests, so that every hop is checked to be
            # HTTPS *before* anything (a 307 keeps the posted password) is sent to it.
            url = urljoin(url, location)
            kwargs.pop("params", None)  # the new location is a complete URL
            if response.status_code in (301, 302, 303) and method != "HEAD":
                method = "GET"
                for body in ("data", "json", "files"):
                    kwargs.pop(body, None)
            response.close()
        raise federation_error(step, f"the identity provider at {where} redirected more than "
                                     f"{_MAX_REDIRECTS} times")

    def _send(self, step: str, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        import requests

        where = _where(url)
        log.debug("federated auth: %s: %s %s", step, method, where)
        try:
            # verify per request: a session-level value loses to REQUESTS_CA_BUNDLE in requests.
            return self.session.request(method, url, allow_redirects=False, verify=self.verify, **kwargs)
        except requests.exceptions.SSLError:
            hint = ("set idp_ca_bundle to the CA that signed it" if self.verify is True
                    else "check that idp_ca_bundle holds the CA that signed it")
            raise federation_error(
                step, f"the identity provider's TLS certificate at {where} could not be verified; {hint} "
                      "(ssl_secure=false skips the check, for testing only)") from None
        except requests.exceptions.ConnectTimeout:
            raise federation_error(
                step, f"could not connect to the identity provider at {where} within {self.timeout:g} s "
                      "(http_request_connect_timeout); check idp_endpoint, idp_port and the network") from None
        except requests.exceptions.ReadTimeout:
            raise federation_error(
                step, f"the identity provider at {where} did not answer within {self.timeout:g} s "
                      "(http_request_connect_timeout)") from None
        except requests.exceptions.ConnectionError as exc:
            raise federation_error(
                step, f"could not reach the identity provider at {where} ({_reason(exc)}); check "
                      "idp_endpoint, idp_port and the network") from None
        except requests.exceptions.RequestException as exc:
            raise federation_error(step, f"the request to {where} failed ({type(exc).__name__})") from None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> IdpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def expect_success(step: str, response: requests.Response, what: str) -> None:
    """Raise when ``response`` is not a 2xx answer (the body is not quoted)."""
    if not 200 <= response.status_code < 300:
        raise federation_error(step, f"{what} answered HTTP {response.status_code} ({_where(response.url)})")

