"""Server processes and scratch folders that never outlive the test process.

Owns: running a server program as an unprivileged user (PostgreSQL refuses root), in its own
process group (so freeze/kill reach the server and every child it forked), with
``PR_SET_PDEATHSIG`` so the kernel kills it if the Python process dies without cleaning up;
scratch folders removed on stop, at interpreter exit and on SIGTERM/SIGHUP; and a sweep that
removes folders left by processes that were SIGKILLed.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import ctypes
import os
import pwd
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "ScratchDir",
    "ServerProcess",
    "ServerUser",
    "install_cleanup_handlers",
    "server_user",
]

_SCRATCH_PREFIX = "sturdydb-testing-"
_PR_SET_PDEATHSIG = 1

try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _libc = None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec, after subprocess switched user (a credential
    # change clears the parent-death signal, so it must be set afterwards). Only
    # async-signal-safe work here: one prctl call, resolved before the fork.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The OS account servers run as (``None`` ids: the current user)."""

    name: str
    uid: int | None
    gid: int | None

    def chown(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


def server_user(preferred: Sequence[str]) -> ServerUser:
    """The first existing account of ``preferred`` (then ``nobody``) when running as root."""
    if os.geteuid() != 0:
        return ServerUser(pwd.getpwuid(os.geteuid()).pw_name, None, None)
    for name in (*preferred, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ServerUser(name, entry.pw_uid, entry.pw_gid)
    raise RuntimeError(
        f"running as root but none of the accounts {', '.join((*preferred, 'nobody'))} exists; "
        "database servers refuse to run as root, so create one of them"
    )


def run_as(
    user: ServerUser, argv: Sequence[str], *, timeout: float = 60.0, env: dict[str, str] | None = None
) -> str:
    """Run a short helper program (``initdb``, ``pg_basebackup``) as ``user``; its output on success.

    Raises ``RuntimeError`` with the program's output when it fails.
    """
    process = _popen_as(user, argv, subprocess.PIPE, env)
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, _ = process.communicate()
        raise RuntimeError(
            f"{Path(argv[0]).name} did not finish within {timeout:.0f} s:\n{stdout.decode(errors='replace')}"
        ) from None
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed with exit code {process.returncode}:\n{output}")
    return output


class _Spawner:
    """The one long-lived thread that forks every server.

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked the child exits, not the
    process. Clusters build replicas from short-lived worker threads, so every fork happens
    on this daemon thread instead, which lives exactly as long as the process.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = (
            queue.SimpleQueue()
        )
        self.thread = threading.Thread(target=self._run, name="sturdydb-testing-spawner", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the waiting caller
                future.set_exception(exc)

    def run(self, job: Callable[[], T]) -> T:
        if threading.current_thread() is self.thread:
            return job()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawn(job: Callable[[], T]) -> T:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
    return _spawner.run(job)


def _popen_as(user: ServerUser, argv: Sequence[str], stdout: Any, env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    """Start ``argv`` as ``user`` in its own session, dying with this process, on the spawner thread.

    One place for the settings every server and helper program needs, so they cannot drift.
    """
    return _spawn(
        lambda: subprocess.Popen(
            list(argv),
            user=user.uid,
            group=user.gid,
            extra_groups=[] if user.uid is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/",
        )
    )


_live_processes: weakref.WeakSet[ServerProcess] = weakref.WeakSet()
_live_dirs: weakref.WeakSet[ScratchDir] = weakref.WeakSet()
_registry_lock = threading.Lock()


class ServerProcess:
    """One running server program in its own process group."""

    def __init__(
        self, argv: Sequence[str], user: ServerUser, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self._popen = _popen_as(user, self.argv, log, env)
        self.frozen = False
        with _registry_lock:
            _live_processes.add(self)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def _signal_group(self, signum: int) -> None:
        """Signal the leader's group, then every descendant.

        PostgreSQL's children call ``setsid()`` themselves, so the process group alone does
        not reach them; the leader is signalled first so that, when stopping, it cannot
        fork a new child in between.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)
        for pid in _descendants(self._popen.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def freeze(self) -> None:
        """SIGSTOP the server and all its children (the kernel still completes TCP handshakes)."""
        self._signal_group(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        self._signal_group(signal.SIGCONT)
        self.frozen = False

    def kill(self) -> None:
        """Stop every process of the group first, then SIGKILL them, and reap the leader.

        Stopping first matters: a PostgreSQL backend that outlives its postmaster by a few
        milliseconds tells its client "terminating connection due to unexpected postmaster
        exit", which a really crashed host never does.
        """
        self._signal_group(signal.SIGSTOP)
        # Everything is stopped, so the tree cannot change while we collect it; once the
        # leader dies its children are reparented and could no longer be found.
        tree = [self._popen.pid, *_descendants(self._popen.pid)]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=10)
        self.frozen = False

    def terminate(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Ask the server to shut down cleanly (thawed first), escalating to :meth:`kill`.

        ``signum`` is the server's "fast shutdown" signal (SIGINT for PostgreSQL, whose
        SIGTERM waits for every client to leave).
        """
        if not self.alive():
            return
        if self.frozen:
            self.thaw()
        tree = _descendants(self._popen.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self._popen.pid, signum)
        try:
            self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        # Children that outlived the leader (rare) must not linger.
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``ready`` until true; raise with the server log's tail when it dies or times out."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            if ready():
                return
            if not self.alive():
                raise RuntimeError(
                    f"{what}: the server exited with code {self._popen.returncode}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: not ready after {timeout:.0f} s\n{self.log_tail()}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root``, from ``/proc`` (parents before children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    pending = list(children.get(root, []))
    while pending:
        pid = pending.pop(0)
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


class ScratchDir:
    """A private scratch folder named after the owning pid (so orphans can be swept)."""

    def __init__(self, label: str) -> None:
        sweep_orphaned_scratch_dirs()
        self.path = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-{label}-"))
        # Servers run as another user: they must be able to enter our folder.
        os.chmod(self.path, 0o755)
        with _registry_lock:
            _live_dirs.add(self)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def sweep_orphaned_scratch_dirs() -> None:
    """Remove scratch folders whose owning process no longer exists (it was SIGKILLed)."""
    for candidate in Path(tempfile.gettempdir()).glob(f"{_SCRATCH_PREFIX}*-*"):
        owner = candidate.name[len(_SCRATCH_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(candidate, ignore_errors=True)
        except PermissionError:
            continue


def cleanup_everything() -> None:
    """Kill every server this process started and remove every scratch folder (idempotent)."""
    with _registry_lock:
        processes = list(_live_processes)
        dirs = list(_live_dirs)
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    for scratch in dirs:
        scratch.remove()


_handlers_installed = False


def install_cleanup_handlers() -> None:
    """Clean up at interpreter exit and on SIGTERM/SIGHUP (installed on first cluster start).

    Signal handlers are only installed from the main thread and only over the default
    disposition, so an application's own handlers are left alone.
    """
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(cleanup_everything)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _cleanup_and_die)


def _cleanup_and_die(signum: int, frame: FrameType | None) -> None:
    cleanup_everything()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
