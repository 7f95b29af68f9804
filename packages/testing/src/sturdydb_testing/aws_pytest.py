"""pytest fixtures for end-to-end tests of the AWS plugins (import them into a conftest).

Not registered through the ``pytest11`` entry point, so they cost nothing to suites that do
not use them; a conftest takes them with
``from sturdydb_testing.aws_pytest import aws_env, auth_fronts, ...  # noqa: F401``.

- ``moto_server`` (session): :class:`~sturdydb_testing.aws.MotoServer` on loopback;
- ``aws_env``: the environment pointed at it with fake credentials, moto wiped, a
  :class:`~sturdydb_testing.aws.LoopbackGuard` installed; yields the server;
- ``auth_fronts``: a factory of :class:`~sturdydb_testing.iam_front.AuthFront` servers on
  claimed loopback addresses, with host names pinned to them (pins restored afterwards);
- ``secret_log``: every log record of every logger at DEBUG, to assert that no secret leaks.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sturdydb
from sturdydb_testing.aws import LoopbackGuard, MotoServer, aws_environment
from sturdydb_testing.iam_front import Authenticator, AuthFront, Engine
from sturdydb_testing.loopback import claim_address

__all__ = ["SecretLog", "auth_fronts", "aws_env", "moto_server", "secret_log"]

_STANDARD_PORTS = {"pg": 5432, "mysql": 3306}


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """The AWS emulator for the whole session (state is wiped per test by ``aws_env``)."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MotoServer]:
    """Fake credentials and endpoints for boto3, a wiped emulator, and no traffic off loopback."""
    for name, value in aws_environment(moto_server.url, tmp_path).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    moto_server.reset()
    guard = LoopbackGuard().install()
    try:
        yield moto_server
    finally:
        guard.uninstall()
        sturdydb.release_resources()
    assert guard.violations == [], f"traffic tried to leave loopback: {guard.violations}"


FrontFactory = Callable[..., AuthFront]


@pytest.fixture
def auth_fronts() -> Iterator[FrontFactory]:
    """``make(engine, backend, authenticator, names=[...], **options)`` -> a started front.

    The front listens on a claimed loopback address with the engine's standard port when it
    is free there (so tokens carry the realistic port); each of ``names`` is pinned to it
    with :func:`sturdydb.map_host`. Fronts are closed and earlier pins restored afterwards.
    """
    fronts: list[AuthFront] = []
    claims: list[Any] = []
    saved: dict[str, Any] = {}

    def make(engine: Engine, backend: tuple[str, int], authenticator: Authenticator,
             names: list[str] | tuple[str, ...] = (), **options: Any) -> AuthFront:
        claim = claim_address(_STANDARD_PORTS[engine])
        claims.append(claim)
        front = AuthFront(engine, backend, authenticator, address=claim.address, port=claim.port,
                          **options).start()
        fronts.append(front)
        for name in names:
            saved.setdefault(name, sturdydb.resolve_host(name))
            sturdydb.map_host(name, front.address, front.port)
        return front

    yield make
    for front in fronts:
        front.close()
    for name, pin in saved.items():
        if pin is None:
            sturdydb.unmap_host(name)
        else:
            sturdydb.map_host(name, pin.address, pin.port)
    for claim in claims:
        claim.release()


class SecretLog(logging.Handler):
    """Keeps every formatted record; :meth:`assert_absent` checks that no secret is in them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._paused = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self._paused.is_set():
            return
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception as exc:  # a broken record must not hide the others
            text = f"{record.name}: <unformattable {exc!r}>"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" | {record.exc_info[1]!r}"
        self.lines.append(text)

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Stop recording (test setup that itself handles secrets, e.g. writing a secret)."""
        self._paused.set()
        try:
            yield
        finally:
            self._paused.clear()

    def assert_absent(self, *secrets: str) -> None:
        for secret in secrets:
            assert secret, "an empty string cannot be checked"
            leaks = [line for line in self.lines if secret in line]
            assert not leaks, f"a secret appeared in {len(leaks)} log line(s), first from {leaks[0].split(':')[0]}"


@pytest.fixture
def secret_log() -> Iterator[SecretLog]:
    """All log output of all loggers at DEBUG (botocore, urllib3, the drivers, sturdydb)."""
    handler = SecretLog()
    root = logging.getLogger()
    old_level = root.level
    # Libraries that set their own level would otherwise filter DEBUG before the root sees it.
    lowered = [(lg, lg.level) for lg in map(logging.getLogger, ("botocore", "boto3", "urllib3",
                                                               "mysql.connector", "psycopg", "sturdydb"))]
    for lg, _ in lowered:
        lg.setLevel(logging.DEBUG)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg, level in lowered:
            lg.setLevel(level)
