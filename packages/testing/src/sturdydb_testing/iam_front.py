"""An authenticating front for the test databases that logs users in the way RDS does for IAM.

RDS accepts an IAM login by asking the client for a clear-text password (PostgreSQL:
``AuthenticationCleartextPassword``; MySQL: the ``mysql_clear_password`` plugin, through an
auth switch when the client proposed another plugin) and checking that the password is a
valid SigV4-presigned ``connect`` URL for ``rds-db``. :class:`AuthFront` does the same on a
loopback address: it speaks the server side of the login, checks the credential with an
authenticator, and only then opens a session on the real backend (the machine's own server
or a :mod:`sturdydb_testing` cluster instance) with the backend's own credentials and relays
the rest of the session byte for byte. A refused login gets the engine's normal error
(PostgreSQL ``ErrorResponse`` 28P01, MySQL error 1045), exactly what a driver sees from RDS.

Authenticators: :class:`IamTokenValidator` recomputes the token's signature with botocore's
SigV4 signer from the emulated credentials and checks expiry (``X-Amz-Date`` +
``X-Amz-Expires``), region, host, port and ``DBUser``; :class:`PasswordCheck` compares a
password (for Secrets Manager tests, where rotating the password must really lock out the old
one). The front can speak TLS on the client side with a throw-away self-signed certificate,
because IAM logins over RDS use TLS and mysql-connector refuses clear-text passwords without it.

Threads: one named daemon accept thread per front, one per connection (handshake, then a
``select`` relay). Everything stops with :meth:`AuthFront.close`.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
import select
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, quote, urlencode

__all__ = [
    "AuthAttempt",
    "AuthFront",
    "Authenticator",
    "IamTokenValidator",
    "PasswordCheck",
    "self_signed_context",
]

log = logging.getLogger("sturdydb_testing.iam_front")

Engine = Literal["pg", "mysql"]


# ----------------------------------------------------------------------------- authenticators
class Authenticator(Protocol):
    def check(self, user: str, secret: str) -> str | None:
        """``None`` when ``secret`` lets ``user`` in, else why not (never quoting the secret)."""


class PasswordCheck:
    """Accepts a user with the current password; :meth:`set` rotates it."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self._passwords = dict(passwords)
        self._lock = threading.Lock()

    def set(self, user: str, password: str) -> None:
        with self._lock:
            self._passwords[user] = password

    def check(self, user: str, secret: str) -> str | None:
        with self._lock:
            expected = self._passwords.get(user)
        if expected is None:
            return f"unknown user {user!r}"
        if not hmac.compare_digest(expected.encode(), secret.encode()):
            return f"wrong password for user {user!r}"
        return None


_SIGV4_DATE = "%Y%m%dT%H%M%SZ"


class IamTokenValidator:
    """Validates RDS IAM tokens the way RDS does, with the emulated account's credentials.

    ``endpoints`` are the ``(host, port)`` pairs the database answers to (token host names
    compare case-insensitively); ``clock`` returns epoch seconds (tests move it ahead to
    expire tokens the client still trusts); ``max_skew`` is how far in the future a token's
    date may be; ``users`` are the database users enabled for IAM (``None``: all).
    """

    def __init__(
        self,
        *,
        credentials: dict[str, str],
        region: str,
        endpoints: Iterable[tuple[str, int]],
        clock: Callable[[], float] = time.time,
        max_skew: float = 300.0,
        users: Iterable[str] | None = None,
    ) -> None:
        #: Database users enabled for IAM (``GRANT rds_iam``); ``None``: every user.
        self.users = None if users is None else set(users)
        self.credentials = dict(credentials)
        self.region = region
        self.endpoints = {(h.lower().rstrip("."), int(p)) for h, p in endpoints}
        self.clock = clock
        self.max_skew = max_skew

    def add_endpoint(self, host: str, port: int) -> None:
        self.endpoints.add((host.lower().rstrip("."), int(port)))

    def check(self, user: str, secret: str) -> str | None:
        if self.users is not None and user not in self.users:
            return f"user {user!r} is not enabled for IAM authentication"
        host_port, sep, query = secret.partition("/?")
        if not sep or ":" not in host_port:
            return "the password is not an RDS IAM token"
        params = parse_qsl(query, keep_blank_values=True)
        values = dict(params)
        needed = ("Action", "DBUser", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                  "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")
        missing = [name for name in needed if name not in values]
        if missing:
            return f"the token lacks {', '.join(missing)}"
        if values["Action"] != "connect" or values["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
            return "the token is not an rds-db connect token"
        if values["DBUser"] != user:
            return f"the token is for user {values['DBUser']!r}, the login is for {user!r}"
        host, _, port_text = host_port.rpartition(":")
        try:
            port = int(port_text)
        except ValueError:
            return "the token's port is not a number"
        if (host.lower().rstrip("."), port) not in self.endpoints:
            return f"the token is signed for {host}:{port}, which is not this database"
        try:
            access_key, _date, region, service, terminator = values["X-Amz-Credential"].split("/")
        except ValueError:
            return "the token's credential scope is malformed"
        if service != "rds-db" or terminator != "aws4_request":
            return f"the token is signed for service {service!r}, not 'rds-db'"
        if region != self.region:
            return f"the token is signed for region {region!r}, the database is in {self.region!r}"
        secret_key = self.credentials.get(access_key)
        if secret_key is None:
            return f"unknown access key {access_key!r}"
        try:
            signed_at = datetime.datetime.strptime(values["X-Amz-Date"], _SIGV4_DATE).replace(
                tzinfo=datetime.timezone.utc).timestamp()
            expires = int(values["X-Amz-Expires"])
        except ValueError:
            return "the token's date or expiry is malformed"
        now = self.clock()
        if signed_at > now + self.max_skew:
            return "the token is dated in the future"
        if now > signed_at + expires:
            return f"the token expired {now - signed_at - expires:.0f} s ago"
        expected = _rds_signature(host_port, params, secret_key, access_key, region, expires,
                                  values["X-Amz-Date"], values.get("X-Amz-Security-Token"))
        if not hmac.compare_digest(expected, values["X-Amz-Signature"]):
            return "the token's signature does not match"
        return None


def _rds_signature(
    host_port: str,
    params: list[tuple[str, str]],
    secret_key: str,
    access_key: str,
    region: str,
    expires: int,
    amz_date: str,
    session_token: str | None,
) -> str:
    """Recompute a presigned ``rds-db`` URL's signature with botocore's SigV4 query signer."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    unsigned = [(k, v) for k, v in params if k != "X-Amz-Signature"]
    request = AWSRequest(method="GET", url=f"https://{host_port}/?" + urlencode(unsigned, quote_via=quote))
    request.context["timestamp"] = amz_date
    signer = SigV4QueryAuth(Credentials(access_key, secret_key, session_token), "rds-db", region, expires)
    canonical = signer.canonical_request(request)
    signature: str = signer.signature(signer.string_to_sign(request, canonical), request)
    return signature


@dataclass(frozen=True)
class AuthAttempt:
    """One login the front saw (the credential itself is never kept)."""

    user: str
    accepted: bool
    reason: str | None
    tls: bool
    at: float
    #: First 16 hex digits of the credential's SHA-256: tells tokens apart without keeping them.
    digest: str


# ----------------------------------------------------------------------------- TLS
_cert_lock = threading.Lock()
_cert_paths: tuple[str, str] | None = None


def _certificate() -> tuple[str, str]:
    """A throw-away self-signed certificate for 'localhost' (made once per process)."""
    global _cert_paths
    with _cert_lock:
        if _cert_paths is not None and all(os.path.exists(p) for p in _cert_paths):
            return _cert_paths
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sturdydb-testing front")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256())
        )
        folder = Path(tempfile.mkdtemp(prefix="sturdydb-front-tls-"))
        # Created once per process; removed when the process exits (no leftover folders).
        atexit.register(shutil.rmtree, folder, True)
        cert_path, key_path = folder / "cert.pem", folder / "key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        _cert_paths = (str(cert_path), str(key_path))
        return _cert_paths


def self_signed_context() -> ssl.SSLContext:
    """A server-side TLS context with the throw-away certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert, key = _certificate()
    context.load_cert_chain(cert, key)
    return context


# ----------------------------------------------------------------------------- socket helpers
class _Closed(Exception):
    """The peer went away during the login."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise _Closed()
        data += chunk
    return bytes(data)


def _relay(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    """Copy bytes both ways until either side closes (TLS-aware: drains ``pending()``)."""
    pair = {a: b, b: a}
    a.settimeout(None)
    b.settimeout(None)
    while not stop.is_set():
        ready: list[socket.socket] = [s for s in (a, b) if isinstance(s, ssl.SSLSocket) and s.pending()]
        if not ready:
            ready, _, _ = select.select([a, b], [], [], 0.5)
        for sock in ready:
            try:
                data = sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                return
            if not data:
                return
            try:
                pair[sock].sendall(data)
            except OSError:
                return


# ----------------------------------------------------------------------------- the front
class AuthFront:
    """A loopback TCP server that authenticates like RDS and relays to ``backend``.

    ``engine`` is ``"pg"`` or ``"mysql"``; ``authenticator`` checks the client's clear-text
    credential; ``backend_user``/``backend_password`` log in to the backend (``None`` user:
    the client's user). ``tls``: offer TLS to clients; ``require_tls``: refuse clients that
    do not use it. ``attempts`` records every login (without credentials).
    """

    def __init__(
        self,
        engine: Engine,
        backend: tuple[str, int],
        authenticator: Authenticator,
        *,
        backend_user: str | None = None,
        backend_password: str = "",
        tls: bool = True,
        require_tls: bool = False,
        address: str = "127.0.0.1",
        port: int = 0,
        name: str = "front",
    ) -> None:
        if not ipaddress.ip_address(address).is_loopback or not ipaddress.ip_address(backend[0]).is_loopback:
            raise ValueError("the front and its backend must be on loopback addresses")
        self.engine = engine
        self.backend = backend
        self.authenticator = authenticator
        self.backend_user = backend_user
        self.backend_password = backend_password
        self.tls_context = self_signed_context() if tls else None
        self.require_tls = require_tls
        self.name = name
        self.attempts: list[AuthAttempt] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((address, port))
        self._listener.listen(128)
        self.address, self.port = self._listener.getsockname()[:2]
        self._stop = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<AuthFront {self.engine} {self.address}:{self.port} -> {self.backend[0]}:{self.backend[1]}>"

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> AuthFront:
        self._thread = threading.Thread(target=self._accept_loop, name=f"sturdydb-testing-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            _shut(sock)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> AuthFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def accepted(self) -> int:
        return sum(1 for a in self.attempts if a.accepted)

    @property
    def rejected(self) -> int:
        return sum(1 for a in self.attempts if not a.accepted)

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listener.settimeout(0.5)
                client, _ = self._listener.accept()
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except TimeoutError:
                continue
            except OSError:  # closed by close(), possibly before this thread first ran
                return
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), name=f"sturdydb-testing-{self.name}-conn",
                             daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        backend: socket.socket | None = None
        session: _PgSession | _MysqlSession | None = None
        try:
            client.settimeout(30)
            session = _PgSession(self, client) if self.engine == "pg" else _MysqlSession(self, client)
            linked = session.run()
            if linked is not None:
                client_sock, backend = linked
                _relay(client_sock, backend, self._stop)
        except (_Closed, OSError, ssl.SSLError):
            pass
        except Exception:
            log.exception("%s: session failed", self)
        finally:
            # After a TLS upgrade the session holds the socket (the original is detached):
            # close that one, or the client would never see the backend go away.
            if session is not None:
                _shut(session.client)
            _shut(client)
            if backend is not None:
                _shut(backend)
            with self._lock:
                self._sockets.difference_update({client, backend} | ({session.client} if session else set()))

    def _record(self, user: str, reason: str | None, tls: bool, credential: bytes = b"") -> None:
        digest = hashlib.sha256(credential).hexdigest()[:16] if credential else ""
        self.attempts.append(AuthAttempt(user, reason is None, reason, tls, time.time(), digest))
        if reason is None:
            log.info("%s: accepted %r", self.name, user)
        else:
            log.info("%s: refused %r: %s", self.name, user, reason)

    def _connect_backend(self) -> socket.socket:
        sock = socket.create_connection(self.backend, timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._track(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


# ----------------------------------------------------------------------------- PostgreSQL
_PG_SSL_REQUEST = 80877103
_PG_GSS_REQUEST = 80877104
_PG_CANCEL = 80877102


def _pg_message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _pg_error(code: str, message: str) -> bytes:
    fields = b"".join(tag + value.encode() + b"\0" for tag, value in
                      ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)))
    return _pg_message(b"E", fields + b"\0")


def _pg_read(sock: socket.socket) -> tuple[bytes, bytes]:
    header = _recv_exact(sock, 5)
    (length,) = struct.unpack("!I", header[1:])
    return header[:1], _recv_exact(sock, length - 4)


class _PgSession:
    def __init__(self, front: AuthFront, client: socket.socket) -> None:
        self.front = front
        self.client = client
        self.tls = False

    def run(self) -> tuple[socket.socket, socket.socket] | None:
        front = self.front
        while True:
            (length,) = struct.unpack("!I", _recv_exact(self.client, 4))
            body = _recv_exact(self.client, length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code == _PG_SSL_REQUEST and not self.tls:
                if front.tls_context is None:
                    self.client.sendall(b"N")
                    continue
                self.client.sendall(b"S")
                self.client = front._track(front.tls_context.wrap_socket(self.client, server_side=True))
                self.tls = True
                continue
            if code == _PG_GSS_REQUEST:
                self.client.sendall(b"N")
                continue
            if code == _PG_CANCEL:
                backend = front._connect_backend()
                backend.sendall(struct.pack("!I", length) + body)
                return None
            break
        raw = body[4:].split(b"\0")
        params = {raw[i].decode(): raw[i + 1].decode() for i in range(0, len(raw) - 1, 2) if raw[i]}
        user = params.get("user", "")
        if front.require_tls and not self.tls:
            front._record(user, "the client did not use TLS", self.tls)
            self.client.sendall(_pg_error("28000", f'no pg_hba.conf entry for user "{user}", no encryption'))
            return None
        self.client.sendall(_pg_message(b"R", struct.pack("!I", 3)))  # AuthenticationCleartextPassword
        kind, payload = _pg_read(self.client)
        if kind != b"p":
            return None
        credential = payload.rstrip(b"\0")
        reason = front.authenticator.check(user, credential.decode("utf-8", "replace"))
        front._record(user, reason, self.tls, credential)
        if reason is not None:
            # The same message RDS gives, whatever the reason (the reason is in `attempts`).
            self.client.sendall(_pg_error("28P01", f'PAM authentication failed for user "{user}"'))
            return None
        backend = front._connect_backend()
        backend_user = front.backend_user or user
        params["user"] = backend_user
        startup = struct.pack("!I", 196608) + b"".join(
            k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
        backend.sendall(struct.pack("!I", len(startup) + 4) + startup)
        self._backend_login(backend, backend_user)
        self.client.sendall(_pg_message(b"R", struct.pack("!I", 0)))  # AuthenticationOk
        return self.client, backend

    def _backend_login(self, backend: socket.socket, user: str) -> None:
        password = self.front.backend_password
        scram: _Scram | None = None
        while True:
            kind, payload = _pg_read(backend)
            if kind == b"E":
                self.client.sendall(_pg_message(kind, payload))
                raise _Closed()
            if kind != b"R":
                raise _Closed()
            (code,) = struct.unpack("!I", payload[:4])
            if code == 0:
                return
            if code == 3:
                backend.sendall(_pg_message(b"p", password.encode() + b"\0"))
            elif code == 5:
                inner = hashlib.md5((password + user).encode()).hexdigest()
                outer = "md5" + hashlib.md5(inner.encode() + payload[4:8]).hexdigest()
                backend.sendall(_pg_message(b"p", outer.encode() + b"\0"))
            elif code == 10:
                scram = _Scram(password)
                first = scram.client_first()
                backend.sendall(_pg_message(
                    b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first))
            elif code == 11 and scram is not None:
                backend.sendall(_pg_message(b"p", scram.client_final(payload[4:])))
            elif code == 12:
                continue  # SASLFinal: the server's proof; AuthenticationOk follows
            else:
                raise _Closed()


class _Scram:
    """The client side of SCRAM-SHA-256 without channel binding (RFC 5802/7677)."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n=,r={self.nonce}"

    def client_first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def client_final(self, server_first: bytes) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(fields["s"]),
                                     int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", "sha256").digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={fields['r']}"
        message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, message, "sha256").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()


# ----------------------------------------------------------------------------- MySQL
_SSL = 1 << 11
_CONNECT_WITH_DB = 1 << 3
_SECURE_CONNECTION = 1 << 15
_PLUGIN_AUTH = 1 << 19
_CONNECT_ATTRS = 1 << 20
_LENENC_AUTH = 1 << 21
_CLEAR = "mysql_clear_password"


def _my_read(sock: socket.socket) -> tuple[int, bytes]:
    header = _recv_exact(sock, 4)
    length = header[0] | header[1] << 8 | header[2] << 16
    return header[3], _recv_exact(sock, length)


def _my_packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes((sequence & 0xFF,)) + payload


def _my_error(sequence: int, errno: int, state: str, message: str) -> bytes:
    return _my_packet(sequence, b"\xff" + struct.pack("<H", errno) + b"#" + state.encode() + message.encode())


def _lenenc_int(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first < 0xFB:
        return first, pos + 1
    size = {0xFC: 2, 0xFD: 3, 0xFE: 8}[first]
    return int.from_bytes(data[pos + 1:pos + 1 + size], "little"), pos + 1 + size


def _lenenc(value: int) -> bytes:
    if value < 0xFB:
        return bytes((value,))
    if value < 1 << 16:
        return b"\xfc" + value.to_bytes(2, "little")
    if value < 1 << 24:
        return b"\xfd" + value.to_bytes(3, "little")
    return b"\xfe" + value.to_bytes(8, "little")


def _cstring(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.index(b"\0", pos)
    return data[pos:end], end + 1


def _native_password(password: str, scramble: bytes) -> bytes:
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mixed = hashlib.sha1(scramble + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mixed, strict=True))


@dataclass
class _ServerHandshake:
    version: bytes
    connection_id: int
    scramble: bytes
    capabilities: int
    charset: int
    status: int
    reserved: bytes
    plugin: bytes

    @classmethod
    def parse(cls, payload: bytes) -> _ServerHandshake:
        if payload[:1] != b"\x0a":
            raise _Closed()
        version, pos = _cstring(payload, 1)
        connection_id = struct.unpack("<I", payload[pos:pos + 4])[0]
        part1 = payload[pos + 4:pos + 12]
        pos += 13
        cap_low = struct.unpack("<H", payload[pos:pos + 2])[0]
        charset = payload[pos + 2]
        status = struct.unpack("<H", payload[pos + 3:pos + 5])[0]
        cap_high = struct.unpack("<H", payload[pos + 5:pos + 7])[0]
        data_len = payload[pos + 7]
        reserved = payload[pos + 8:pos + 18]
        pos += 18
        part2_len = max(13, data_len - 8)
        part2 = payload[pos:pos + part2_len].rstrip(b"\0")
        pos += part2_len
        plugin = payload[pos:].split(b"\0", 1)[0] if pos < len(payload) else b""
        return cls(version, connection_id, part1 + part2, cap_low | cap_high << 16, charset, status,
                   reserved, plugin)

    def build(self) -> bytes:
        scramble = self.scramble
        return (b"\x0a" + self.version + b"\0" + struct.pack("<I", self.connection_id) + scramble[:8] + b"\0"
                + struct.pack("<H", self.capabilities & 0xFFFF) + bytes((self.charset,))
                + struct.pack("<H", self.status) + struct.pack("<H", self.capabilities >> 16)
                + bytes((len(scramble) + 1,)) + self.reserved + scramble[8:] + b"\0" + self.plugin + b"\0")


@dataclass
class _HandshakeResponse:
    capabilities: int
    max_packet: int
    charset: int
    filler: bytes
    user: str
    auth: bytes
    database: bytes | None
    plugin: bytes
    attrs: bytes

    @classmethod
    def parse(cls, payload: bytes) -> _HandshakeResponse:
        capabilities, max_packet, charset = struct.unpack("<IIB", payload[:9])
        filler = payload[9:32]
        user, pos = _cstring(payload, 32)
        if capabilities & _LENENC_AUTH:
            size, pos = _lenenc_int(payload, pos)
            auth, pos = payload[pos:pos + size], pos + size
        elif capabilities & _SECURE_CONNECTION:
            size = payload[pos]
            auth, pos = payload[pos + 1:pos + 1 + size], pos + 1 + size
        else:
            auth, pos = _cstring(payload, pos)
        database = None
        if capabilities & _CONNECT_WITH_DB and pos < len(payload):
            database, pos = _cstring(payload, pos)
        plugin = b""
        if capabilities & _PLUGIN_AUTH and pos < len(payload):
            plugin, pos = _cstring(payload, pos)
        attrs = payload[pos:] if capabilities & _CONNECT_ATTRS else b""
        return cls(capabilities, max_packet, charset, filler, user.decode(), auth, database, plugin, attrs)

    def build(self, user: str, auth: bytes, plugin: bytes, capabilities: int) -> bytes:
        out = struct.pack("<IIB", capabilities, self.max_packet, self.charset) + self.filler
        out += user.encode() + b"\0"
        out += _lenenc(len(auth)) + auth if capabilities & _LENENC_AUTH else bytes((len(auth),)) + auth
        if capabilities & _CONNECT_WITH_DB:
            out += (self.database or b"") + b"\0"
        if capabilities & _PLUGIN_AUTH:
            out += plugin + b"\0"
        if capabilities & _CONNECT_ATTRS:
            out += self.attrs or b"\0"
        return out


class _MysqlSession:
    def __init__(self, front: AuthFront, client: socket.socket) -> None:
        self.front = front
        self.client = client
        self.tls = False

    def run(self) -> tuple[socket.socket, socket.socket] | None:
        front = self.front
        # The backend speaks first: its greeting gives the version and capabilities to offer.
        backend = front._connect_backend()
        _, greeting = _my_read(backend)
        server = _ServerHandshake.parse(greeting)
        offered = _ServerHandshake(**vars(server))
        offered.scramble = bytes(secrets.choice(range(1, 128)) for _ in range(20))
        offered.capabilities = (server.capabilities | _SSL) if front.tls_context else (server.capabilities & ~_SSL)
        self.client.sendall(_my_packet(0, offered.build()))
        sequence, payload = _my_read(self.client)
        if len(payload) == 32 and struct.unpack("<I", payload[:4])[0] & _SSL:
            if front.tls_context is None:
                raise _Closed()
            self.client = front._track(front.tls_context.wrap_socket(self.client, server_side=True))
            self.tls = True
            sequence, payload = _my_read(self.client)
        response = _HandshakeResponse.parse(payload)
        user = response.user
        if front.require_tls and not self.tls:
            front._record(user, "the client did not use TLS", self.tls)
            self.client.sendall(_my_error(sequence + 1, 1045, "28000",
                                          f"Access denied for user '{user}'@'localhost' (TLS required)"))
            return None
        if response.plugin.decode() == _CLEAR:
            secret = response.auth
        else:
            # Like RDS for an IAM account: ask for the clear-text plugin. The answer is a bare
            # packet (no length byte), whatever the token's size.
            sequence += 1
            self.client.sendall(_my_packet(sequence, b"\xfe" + _CLEAR.encode() + b"\0" + offered.scramble + b"\0"))
            sequence, secret = _my_read(self.client)
        credential = secret.rstrip(b"\0")
        reason = front.authenticator.check(user, credential.decode("utf-8", "replace"))
        front._record(user, reason, self.tls, credential)
        if reason is not None:
            self.client.sendall(_my_error(sequence + 1, 1045, "28000",
                                          f"Access denied for user '{user}'@'localhost' (using password: YES)"))
            return None
        ok = self._backend_login(backend, server, response)
        self.client.sendall(_my_packet(sequence + 1, ok))
        return self.client, backend

    def _backend_login(self, backend: socket.socket, server: _ServerHandshake,
                       response: _HandshakeResponse) -> bytes:
        """Log in to the backend as the front's backend user; returns the backend's OK payload."""
        front = self.front
        password = front.backend_password
        user = front.backend_user or response.user
        capabilities = response.capabilities & ~_SSL
        plugin = server.plugin or b"mysql_native_password"
        auth = _native_password(password, server.scramble) if plugin == b"mysql_native_password" else b""
        sequence = 1
        backend.sendall(_my_packet(sequence, response.build(user, auth, plugin, capabilities)))
        while True:
            sequence, payload = _my_read(backend)
            if payload[:1] == b"\x00":
                return payload
            if payload[:1] == b"\xff":
                self.client.sendall(_my_packet(2, payload))
                raise _Closed()
            if payload[:1] == b"\xfe":
                name, pos = _cstring(payload, 1)
                data = payload[pos:].rstrip(b"\0")
                if name == b"mysql_native_password":
                    answer = _native_password(password, data[:20])
                elif name == b"mysql_clear_password":
                    answer = password.encode() + b"\0"
                else:
                    raise _Closed()
                sequence += 1
                backend.sendall(_my_packet(sequence, answer))
                continue
            raise _Closed()
