"""A SAML identity provider on loopback (ADFS- and Okta-shaped) and STS that checks its assertions.

Federated authentication (``sturdydb-federated``) signs in to an identity provider over HTTPS
and exchanges the SAML assertion it returns with STS ``AssumeRoleWithSAML``. To test that end
to end without any real endpoint:

- :class:`CertificateAuthority` makes a throw-away CA per run and a server certificate for
  ``127.0.0.1``/``localhost`` signed by it, so clients verify the IdP for real (``ca_bundle``);
- :class:`SamlIdentityProvider` is an HTTPS server on ``127.0.0.1`` (random port, one named
  daemon thread) that serves ADFS's IdP-initiated sign-on form and Okta's ``/api/v1/authn``
  plus the Amazon Web Services app, and answers with a signed SAML response listing the
  user's roles. It records every request (method and path, never the query or body);
- :class:`SamlSts` makes moto's STS (in this process, as ``sturdydb_testing.aws.MotoServer``
  runs it) behave like AWS for ``AssumeRoleWithSAML``: the assertion's signature must verify
  with the key of the IAM SAML provider named by ``PrincipalArn``, the role pair must be in
  the assertion, and it must not have expired. Issued credentials are handed to listeners
  (for example an :class:`~sturdydb_testing.iam_front.IamTokenValidator`, which must accept
  tokens signed with them, as RDS does).

``cryptography`` is imported on first use.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import hashlib
import http.server
import ipaddress
import json
import logging
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "CertificateAuthority",
    "IdpRequest",
    "IdpUser",
    "IssuedCredentials",
    "SamlIdentityProvider",
    "SamlSts",
    "build_saml_response",
    "iter_secrets",
]

log = logging.getLogger("sturdydb_testing.idp")

ADFS_PATH = "/adfs/ls/IdpInitiatedSignOn.aspx"
OKTA_AUTHN_PATH = "/api/v1/authn"
_OKTA_APP = re.compile(r"^/app/amazon_aws/([^/]+)/sso/saml$")
_ROLE = "https://aws.amazon.com/SAML/Attributes/Role"
_SAML_TIME = "%Y-%m-%dT%H:%M:%SZ"


# ----------------------------------------------------------------------------- certificates
class CertificateAuthority:
    """A CA made for this run, and server certificates it signs (PEM files in a temp folder)."""

    def __init__(self, name: str = "sturdydb-testing IdP CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.folder = Path(tempfile.mkdtemp(prefix="sturdydb-idp-ca-"))
        # Removed when the process exits (no leftover folders).
        atexit.register(shutil.rmtree, self.folder, True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_bundle = str(self.folder / "ca.pem")
        Path(self.ca_bundle).write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, names: tuple[str, ...] = ("localhost",), addresses: tuple[str, ...] = ("127.0.0.1",)) -> tuple[str, str]:
        """A server certificate and key signed by this CA: ``(cert_path, key_path)``."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else addresses[0])]))
            .issuer_name(self._cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False)
            .sign(self._key, hashes.SHA256())
        )
        stem = secrets.token_hex(4)
        cert_path, key_path = self.folder / f"{stem}.crt", self.folder / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        return str(cert_path), str(key_path)


# ----------------------------------------------------------------------------- SAML
class _SigningKey:
    """The identity provider's token-signing key (RSA, as ADFS and Okta use)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, data: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)


_SIGNATURE_BLOCK = re.compile(r"<ds:Signature\b.*?</ds:Signature>", re.S)
_ASSERTION_BLOCK = re.compile(r"<saml:Assertion\b.*?</saml:Assertion>", re.S)


def build_saml_response(
    *,
    issuer: str,
    username: str,
    roles: list[tuple[str, str]],
    sign: Callable[[bytes], bytes],
    session_duration: int | None = 3600,
    lifetime: float = 300.0,
    audience: str = "urn:amazon:webservices",
    now: float | None = None,
) -> str:
    """A base64 SAML 2.0 response for AWS, with an enveloped RSA-SHA256 signature.

    ``roles`` are ``(role_arn, provider_arn)`` pairs. The signature covers the assertion's
    bytes without the signature block (a simplification of XML-DSig's canonicalisation that
    :class:`SamlSts` mirrors), so any edit of the assertion breaks it.
    """
    moment = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    issued = moment.strftime(_SAML_TIME)
    expires = (moment + datetime.timedelta(seconds=lifetime)).strftime(_SAML_TIME)
    values = "".join(f"<saml:AttributeValue>{escape(f'{r},{p}')}</saml:AttributeValue>" for r, p in roles)
    attributes = (
        f'<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">'
        f"<saml:AttributeValue>{escape(username)}</saml:AttributeValue></saml:Attribute>"
        f"<saml:Attribute Name={quoteattr(_ROLE)}>{values}</saml:Attribute>"
    )
    if session_duration is not None:
        attributes += (f'<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration">'
                       f"<saml:AttributeValue>{int(session_duration)}</saml:AttributeValue></saml:Attribute>")
    assertion_id = f"_{secrets.token_hex(16)}"
    assertion = (
        f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id}" '
        f'IssueInstant="{issued}" Version="2.0">'
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>{{signature}}"
        f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
        f"{escape(username)}</saml:NameID>"
        f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{expires}" '
        f'Recipient="https://signin.aws.amazon.com/saml"/></saml:SubjectConfirmation></saml:Subject>'
        f'<saml:Conditions NotBefore="{issued}" NotOnOrAfter="{expires}"><saml:AudienceRestriction>'
        f"<saml:Audience>{escape(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"
        f"<saml:AttributeStatement>{attributes}</saml:AttributeStatement>"
        f'<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="{assertion_id}">'
        f"<saml:AuthnContext><saml:AuthnContextClassRef>"
        f"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        f"</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement></saml:Assertion>"
    )
    unsigned = assertion.replace("{signature}", "")
    digest = base64.b64encode(hashlib.sha256(unsigned.encode()).digest()).decode()
    signature_value = base64.b64encode(sign(unsigned.encode())).decode()
    signature = (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        '<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        '<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="#{assertion_id}"><ds:DigestMethod '
        f'Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>{digest}</ds:DigestValue>'
        f"</ds:Reference></ds:SignedInfo><ds:SignatureValue>{signature_value}</ds:SignatureValue>"
        "</ds:Signature>"
    )
    response = (
        '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'ID="_{secrets.token_hex(16)}" Version="2.0" IssueInstant="{issued}" '
        'Destination="https://signin.aws.amazon.com/saml">'
        f'<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{escape(issuer)}</saml:Issuer>'
        '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
        f"{assertion.replace('{signature}', signature)}</samlp:Response>"
    )
    return base64.b64encode(response.encode()).decode()


# ----------------------------------------------------------------------------- the IdP
@dataclass
class IdpUser:
    password: str
    #: ``(role_arn, provider_arn)`` pairs the assertion lists for this user.
    roles: list[tuple[str, str]]
    #: Okta answers ``MFA_REQUIRED`` instead of a session token.
    mfa: bool = False


@dataclass(frozen=True)
class IdpRequest:
    """One request the IdP received (the query string and body are never kept)."""

    method: str
    path: str
    at: float


class SamlIdentityProvider:
    """An HTTPS identity provider on ``127.0.0.1`` with ADFS- and Okta-shaped sign-in.

    Knobs for failure tests: ``adfs_form`` (``False``: the sign-on page has no form),
    ``delay`` (seconds before each answer), ``session_duration`` (the assertion's
    ``SessionDuration``, ``None`` to omit), ``sign`` (replace the signer, e.g. to forge).
    """

    def __init__(
        self,
        ca: CertificateAuthority,
        *,
        users: dict[str, IdpUser] | None = None,
        rp_identifier: str = "urn:amazon:webservices",
        app_id: str = "0oa1sturdydbaws",
        issuer: str = "http://sturdydb-testing/adfs/services/trust",
        address: str = "127.0.0.1",
    ) -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"the identity provider must listen on loopback, not {address}")
        self.ca = ca
        self.users: dict[str, IdpUser] = dict(users or {})
        self.rp_identifier = rp_identifier
        self.app_id = app_id
        self.issuer = issuer
        self.signing_key = _SigningKey()
        self.sign: Callable[[bytes], bytes] = self.signing_key.sign
        self.adfs_form = True
        self.delay = 0.0
        self.session_duration: int | None = 3600
        self.requests: list[IdpRequest] = []
        #: Every Okta session token and SAML response handed out (for leak checks).
        self.issued_secrets: list[str] = []
        self._okta_tokens: dict[str, str] = {}
        self._adfs_contexts: set[str] = set()
        self._lock = threading.Lock()
        cert, key = ca.issue()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._server = _Server((address, 0), _Handler, self)
        # The handshake happens in the handler thread, so a silent client cannot stall accept().
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.address, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> SamlIdentityProvider:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sturdydb-testing-idp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> SamlIdentityProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def endpoint(self) -> str:
        return str(self.address)

    def count(self, path_prefix: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path.startswith(path_prefix))

    def clear_record(self) -> None:
        with self._lock:
            self.requests.clear()

    def saml_response_for(self, username: str) -> str:
        user = self.users[username]
        response = build_saml_response(issuer=self.issuer, username=username, roles=user.roles, sign=self.sign,
                                       session_duration=self.session_duration)
        with self._lock:
            self.issued_secrets.append(response)
        return response

    # -- request handling (called from the handler threads) --------------------------
    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append(IdpRequest(method, path, time.monotonic()))

    def _check(self, username: str, password: str) -> IdpUser | None:
        user = self.users.get(username)
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            return None
        return user

    def handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        self._record(method, parts.path)
        if self.delay:
            time.sleep(self.delay)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == ADFS_PATH:
            self._adfs(handler, method, query)
        elif parts.path == OKTA_AUTHN_PATH and method == "POST":
            self._okta_authn(handler)
        elif (match := _OKTA_APP.match(parts.path)) and method == "GET":
            self._okta_app(handler, match.group(1), query)
        else:
            handler.reply(404, "<html><body>Not found</body></html>")

    def _adfs_form_page(self, error: str | None = None) -> str:
        if not self.adfs_form:
            return "<html><head><title>Sign In</title></head><body><p>Service unavailable.</p></body></html>"
        request_id = secrets.token_hex(8)
        message = f'<span id="errorText" class="fieldMargin error">{escape(error)}</span>' if error else ""
        return (
            "<!DOCTYPE html><html><head><title>Sign In</title></head><body>"
            f'<form method="post" id="loginForm" autocomplete="off" novalidate '
            f'action="{ADFS_PATH}?loginToRp={escape(self.rp_identifier)}&amp;client-request-id={request_id}">'
            f"{message}"
            '<input id="userNameInput" name="UserName" type="email" value="" placeholder="someone@example.com">'
            '<input id="passwordInput" name="Password" type="password" placeholder="Password">'
            '<input id="kmsiInput" type="checkbox" name="Kmsi">'
            '<input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>'
            '<span id="submitButton" class="submit" role="button">Sign in</span>'
            "</form></body></html>"
        )

    def _saml_page(self, saml_response: str) -> str:
        return (
            "<html><head><title>Working...</title></head><body>"
            '<form method="POST" name="hiddenform" action="https://signin.aws.amazon.com:443/saml">'
            f'<input type="hidden" name="SAMLResponse" value="{saml_response}" />'
            "<noscript><p>Script is disabled. Click Submit to continue.</p>"
            '<input type="submit" value="Submit" /></noscript></form></body></html>'
        )

    def _adfs(self, handler: _Handler, method: str, query: dict[str, str]) -> None:
        if query.get("loginToRp") != self.rp_identifier:
            handler.reply(400, "<html><body>MSIS7012: An error occurred while processing the request."
                               "</body></html>")
            return
        if method == "GET":
            context = secrets.token_hex(16)
            with self._lock:
                self._adfs_contexts.add(context)
            handler.reply(200, self._adfs_form_page(), cookies={"MSISContext": context})
            return
        form = {k: v[0] for k, v in parse_qs(handler.body().decode(), keep_blank_values=True).items()}
        with self._lock:
            known_context = handler.cookie("MSISContext") in self._adfs_contexts
        if not known_context or form.get("AuthMethod") != "FormsAuthentication":
            handler.reply(200, self._adfs_form_page("Your session has expired; sign in again."))
            return
        username = form.get("UserName", "")
        user = self._check(username, form.get("Password", ""))
        if user is None:
            handler.reply(200, self._adfs_form_page("Incorrect user ID or password. Type the correct user ID "
                                                    "and password, and try again."))
            return
        handler.reply(200, self._saml_page(self.saml_response_for(username)))

    def _okta_authn(self, handler: _Handler) -> None:
        try:
            body = json.loads(handler.body())
            username, password = str(body["username"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            handler.reply_json(400, {"errorCode": "E0000003", "errorSummary": "The request body was not well-formed."})
            return
        user = self._check(username, password)
        if user is None:
            handler.reply_json(401, {"errorCode": "E0000004", "errorSummary": "Authentication failed",
                                     "errorCauses": []})
            return
        if user.mfa:
            handler.reply_json(200, {"status": "MFA_REQUIRED", "stateToken": secrets.token_urlsafe(16)})
            return
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._okta_tokens[token] = username
            self.issued_secrets.append(token)
        handler.reply_json(200, {"status": "SUCCESS", "sessionToken": token,
                                 "expiresAt": time.strftime(_SAML_TIME, time.gmtime(time.time() + 300))})

    def _okta_app(self, handler: _Handler, app_id: str, query: dict[str, str]) -> None:
        if app_id != self.app_id:
            handler.reply(404, "<html><body>The app you requested does not exist.</body></html>")
            return
        with self._lock:
            username = self._okta_tokens.pop(query.get("onetimetoken", ""), None)  # one-time
        if username is None:
            # Okta shows its sign-in page for a missing or used token.
            handler.reply(200, "<html><body><div id='okta-sign-in'>Sign In</div></body></html>")
            return
        handler.reply(200, self._saml_page(self.saml_response_for(username)))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], idp: SamlIdentityProvider) -> None:
        self.idp = idp
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("identity provider: a connection from %s failed", client_address, exc_info=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(30)

    def do_GET(self) -> None:
        self.server.idp.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.idp.handle(self, "POST")

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def cookie(self, name: str) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def reply(self, status: int, html: str, *, cookies: dict[str, str] | None = None,
              content_type: str = "text/html; charset=utf-8") -> None:
        data = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (cookies or {}).items():
            self.send_header("Set-Cookie", f"{key}={value}; Path=/; Secure; HttpOnly")
        self.end_headers()
        self.wfile.write(data)

    def reply_json(self, status: int, value: object) -> None:
        self.reply(status, json.dumps(value), content_type="application/json")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        # The request line carries Okta's one-time token in its query: log the path only.
        log.debug("identity provider: %s %s", self.command, urlsplit(self.path).path)


# ----------------------------------------------------------------------------- STS
@dataclass(frozen=True)
class IssuedCredentials:
    """Temporary credentials STS issued for a SAML assertion."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    role_arn: str
    expiration: float


class SamlSts:
    """``AssumeRoleWithSAML`` in moto made strict: signature, role pair and expiry are checked.

    ``trust(provider_arn, idp)`` registers an IAM SAML provider with the identity provider's
    signing key. ``on_issue`` listeners receive every issued credential. ``reject_next``
    makes the next call fail with the given ``(code, message)`` (a throttle or outage).
    Works while installed (:meth:`install`/context manager); moto must run in this process.
    """

    def __init__(self) -> None:
        self.providers: dict[str, bytes] = {}
        self.issued: list[IssuedCredentials] = []
        self.on_issue: list[Callable[[IssuedCredentials], None]] = []
        self.reject_next: tuple[str, str] | None = None
        self.calls = 0
        self._saved: Any = None

    def trust(self, provider_arn: str, idp: SamlIdentityProvider) -> None:
        self.providers[provider_arn] = idp.signing_key.public_pem()

    def install(self) -> SamlSts:
        from moto.sts.models import STSBackend

        sts = self
        self._saved = STSBackend.assume_role_with_saml

        def assume_role_with_saml(backend: Any, **kwargs: Any) -> Any:
            return sts._assume(backend, kwargs["role_arn"], kwargs["principal_arn"], kwargs["saml_assertion"])

        STSBackend.assume_role_with_saml = assume_role_with_saml  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            from moto.sts.models import STSBackend

            STSBackend.assume_role_with_saml = self._saved  # type: ignore[method-assign]
            self._saved = None

    def __enter__(self) -> SamlSts:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    def _assume(self, backend: Any, role_arn: str, provider_arn: str, assertion: str) -> Any:
        from moto.sts.exceptions import STSClientError

        self.calls += 1
        if self.reject_next is not None:
            code, message = self.reject_next
            self.reject_next = None
            raise STSClientError(code, message)
        reason, code, fields = self._verify(role_arn, provider_arn, assertion)
        if reason is not None:
            raise STSClientError(code, reason)
        role = backend.assume_role(region_name=backend.region_name, role_session_name=fields["session"],
                                   role_arn=role_arn, policy=None, duration=fields["duration"], external_id=None)
        issued = IssuedCredentials(role.access_key_id, role.secret_access_key, role.session_token, role_arn,
                                   role.expiration.replace(tzinfo=datetime.timezone.utc).timestamp())
        self.issued.append(issued)
        for listener in self.on_issue:
            listener(issued)
        return role

    def _verify(self, role_arn: str, provider_arn: str, assertion: str) -> tuple[str | None, str, dict[str, Any]]:
        import xml.etree.ElementTree as ET

        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key_pem = self.providers.get(provider_arn)
        if key_pem is None:
            return f"SAML provider {provider_arn} does not exist", "InvalidIdentityToken", {}
        try:
            text = base64.b64decode(assertion, validate=True).decode()
            block = _ASSERTION_BLOCK.search(text)
            signature = _SIGNATURE_BLOCK.search(block.group(0)) if block else None
            if block is None or signature is None:
                return "the SAML assertion is not signed", "InvalidIdentityToken", {}
            unsigned = block.group(0).replace(signature.group(0), "")
            value = re.search(r"<ds:SignatureValue>([^<]+)</ds:SignatureValue>", signature.group(0))
            public_key = serialization.load_pem_public_key(key_pem)
            if value is None or not isinstance(public_key, rsa.RSAPublicKey):
                return "the SAML assertion's signature is malformed", "InvalidIdentityToken", {}
            public_key.verify(base64.b64decode(value.group(1)), unsigned.encode(), padding.PKCS1v15(),
                              hashes.SHA256())
        except InvalidSignature:
            return "Specified provider doesn't match the signature of the SAML assertion", "InvalidIdentityToken", {}
        except (ValueError, UnicodeDecodeError):
            return "the SAML assertion is not base64-encoded XML", "InvalidIdentityToken", {}
        ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
        root = ET.fromstring(unsigned)
        conditions = root.find("saml:Conditions", ns)
        not_after = conditions.get("NotOnOrAfter") if conditions is not None else None
        if not_after is None or datetime.datetime.strptime(not_after, _SAML_TIME).replace(
                tzinfo=datetime.timezone.utc).timestamp() <= time.time():
            return "Token is expired", "ExpiredTokenException", {}
        attributes: dict[str, list[str]] = {}
        for attribute in root.iter("{urn:oasis:names:tc:SAML:2.0:assertion}Attribute"):
            attributes[attribute.get("Name", "")] = [v.text or "" for v in attribute.findall("saml:AttributeValue", ns)]
        pairs = {frozenset(p.strip() for p in value.split(",")) for value in attributes.get(_ROLE, [])}
        if frozenset((role_arn, provider_arn)) not in pairs:
            return "Not authorized to perform sts:AssumeRoleWithSAML", "AccessDenied", {}
        session = (attributes.get("https://aws.amazon.com/SAML/Attributes/RoleSessionName") or ["session"])[0]
        duration_values = attributes.get("https://aws.amazon.com/SAML/Attributes/SessionDuration")
        duration = int(duration_values[0]) if duration_values else 3600
        return None, "", {"session": session, "duration": duration}


def iter_secrets(idp: SamlIdentityProvider, sts: SamlSts) -> Iterator[str]:
    """Every secret these emulators know of (passwords, issued credentials), for leak checks."""
    for user in idp.users.values():
        yield user.password
    yield from list(idp.issued_secrets)
    for issued in sts.issued:
        yield issued.secret_access_key
        yield issued.session_token

