"""AWS on loopback: a moto server that counts requests, fake credentials, and a network guard.

The AWS plugins (``sturdydb-iam``, ``sturdydb-secrets-manager``) are tested end to end against
moto in server mode: a real HTTP endpoint on ``127.0.0.1`` (random free port) that boto3
reaches through endpoint URLs, with fake credentials. :class:`MotoServer` wraps moto's WSGI
application to record every request (service operation and time), which is how tests prove
that a cached credential made no AWS call. :func:`aws_environment` is the set of variables
that points boto3 at the server and makes sure nothing falls back to a real AWS endpoint
(no profile, no instance metadata, no shared files); :class:`LoopbackGuard` turns any
attempt to resolve or connect to a non-loopback address into an immediate error.

moto and boto3 are imported on first use; this module may be imported without them.
RDS IAM tokens need no server at all: they are presigned URLs made locally. Aurora custom
endpoints, which moto lacks, are answered in front of it by
:class:`~sturdydb_testing.aws_cluster_endpoints.ClusterEndpoints` (``server.cluster_endpoints``).
"""

from __future__ import annotations

import io
import ipaddress
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sturdydb_testing.aws_cluster_endpoints import ACTIONS, ClusterEndpoints

__all__ = [
    "ACCESS_KEY",
    "REGION",
    "SECRET_KEY",
    "AwsRequest",
    "LoopbackGuard",
    "MotoServer",
    "aws_environment",
]

#: The emulated account's credentials (moto accepts any; the IAM front checks signatures with them).
ACCESS_KEY = "AKIASTURDYDBTESTING1"
SECRET_KEY = "sturdydb-testing-fake-secret-access-key00"
REGION = "us-east-1"


@dataclass(frozen=True)
class AwsRequest:
    """One request the emulator received."""

    method: str
    path: str
    operation: str  # "secretsmanager.GetSecretValue", "Action=..." or the path
    at: float


def _operation(environ: dict[str, Any]) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target)
    query = str(environ.get("QUERY_STRING", ""))
    for part in query.split("&"):
        if part.startswith("Action="):
            return part
    return str(environ.get("PATH_INFO", "/"))


class MotoServer:
    """moto in server mode on ``127.0.0.1:<free port>``, recording every request.

    ``requests`` lists what arrived (requests to moto's own ``/moto-api`` are not recorded);
    :meth:`count` filters them by operation, :meth:`reset` wipes moto's state and the record.
    """

    def __init__(self, address: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"the AWS emulator must listen on loopback, not {address}")
        self.address = address
        self.port = 0
        self.requests: list[AwsRequest] = []
        self._lock = threading.Lock()
        self._server: Any = None
        #: Aurora custom endpoints (moto has none): register a cluster, then use boto3's
        #: create/describe/modify/delete_db_cluster_endpoint against this server.
        self.cluster_endpoints = ClusterEndpoints(REGION)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> MotoServer:
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        recorder = self

        class _RecordingServer(ThreadedMotoServer):  # type: ignore[misc]
            def _server_entry(self) -> None:
                app = DomainDispatcherApplication(create_backend_app)

                def recording_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
                    path = str(environ.get("PATH_INFO", "/"))
                    form = _query_form(environ)
                    action = (form.get("Action") or [""])[0] if form is not None else ""
                    if not path.startswith("/moto-api"):
                        operation = f"Action={action}" if action else _operation(environ)
                        recorder._record(AwsRequest(str(environ.get("REQUEST_METHOD")), path,
                                                    operation, time.monotonic()))
                    if form is not None and action in ACTIONS:
                        return recorder.cluster_endpoints.handle(action, form, start_response)
                    return app(environ, start_response)

                self._server = make_server(self._ip_address, self._port, recording_app, True,
                                           request_handler=MotoRequestHandler)
                self._server_ready_event.set()
                self._server.serve_forever()

        server = _RecordingServer(ip_address=self.address, port=0, verbose=False)
        server.start()
        self._server = server
        self.port = int(server.get_host_and_port()[1])
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: AwsRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def count(self, operation: str | None = None) -> int:
        """How many requests arrived (whose operation ends with ``operation``, when given)."""
        with self._lock:
            return sum(1 for r in self.requests if operation is None or r.operation.endswith(operation))

    def clear_record(self) -> None:
        with self._lock:
            self.requests.clear()

    def reset(self) -> None:
        """Wipe moto's state (secrets, users...), the custom endpoints and the request record."""
        self.cluster_endpoints.reset()
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as response:  # loopback only
            response.read()
        self.clear_record()

    def client(self, service: str, region: str = REGION) -> Any:
        """A boto3 client for this server with the emulated credentials (for test setup)."""
        import boto3

        make_client: Any = boto3.client
        return make_client(service, region_name=region, endpoint_url=self.url,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)


def _query_form(environ: dict[str, Any]) -> dict[str, list[str]] | None:
    """The form of a query-protocol POST (RDS, STS...), the body put back for moto; else None."""
    if environ.get("REQUEST_METHOD") != "POST" or "x-www-form-urlencoded" not in str(
            environ.get("CONTENT_TYPE", "")):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return ClusterEndpoints.parse(body)


def aws_environment(endpoint_url: str, config_dir: Path, region: str = REGION) -> dict[str, str | None]:
    """Environment variables that point boto3 at ``endpoint_url`` with fake credentials.

    ``None`` means "unset". Writes empty AWS config/credentials files into ``config_dir`` so
    that no user profile on the machine is read.
    """
    config = config_dir / "aws-config"
    credentials = config_dir / "aws-credentials"
    config.write_text("")
    credentials.write_text("")
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": None,
        "AWS_SECURITY_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        # Every service client without an explicit endpoint goes to the emulator.
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": None,
        # No instance metadata service, no container credentials, no shared files.
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
    }


def _is_loopback_host(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class LoopbackGuard:
    """Refuse, inside this process, any name resolution or TCP connect that leaves loopback.

    Patches ``socket.getaddrinfo`` and ``socket.socket.connect`` (Python-level sockets:
    botocore/urllib3, mysql-connector, moto). libpq resolves in C and is not covered; its
    host names are pinned to loopback by ``sturdydb.map_host``. ``violations`` records what
    was refused, so a test can assert it stayed empty even if the error was swallowed.
    """

    def __init__(self, allowed_names: Iterable[str] = ()) -> None:
        self.allowed_names = {n.lower() for n in allowed_names}
        self.violations: list[str] = []
        self._saved: tuple[Any, Any] | None = None

    def _check(self, host: object, what: str) -> None:
        if _is_loopback_host(host) or (isinstance(host, str) and host.lower() in self.allowed_names):
            return
        self.violations.append(f"{what} {host!r}")
        raise OSError(f"sturdydb-testing LoopbackGuard: refused to {what} {host!r}; tests must stay on loopback")

    def install(self) -> LoopbackGuard:
        original_getaddrinfo = socket.getaddrinfo
        original_connect = socket.socket.connect
        guard = self

        def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None:
                guard._check(host.decode() if isinstance(host, bytes) else host, "resolve")
            return original_getaddrinfo(host, *args, **kwargs)

        def guarded_connect(sock: socket.socket, address: Any) -> Any:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                guard._check(address[0], "connect to")
            return original_connect(sock, address)

        self._saved = (original_getaddrinfo, original_connect)
        socket.getaddrinfo = guarded_getaddrinfo
        setattr(socket.socket, "connect", guarded_connect)  # noqa: B010 - mypy rejects assigning a method
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            socket.getaddrinfo = self._saved[0]
            setattr(socket.socket, "connect", self._saved[1])  # noqa: B010
            self._saved = None

    def __enter__(self) -> LoopbackGuard:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

