"""boto3 sessions and clients, created once per configuration and reused.

Creating a boto3 client costs about 100 ms (it loads the service model); doing it per
connect was the reference wrapper's latency regression. Sessions are kept per profile and
clients per (profile, service, region, endpoint). boto3 clients are thread-safe; sessions are
not, so client creation is serialised. boto3 is imported on first use, never at import time,
so installing this plugin does not slow down ``import sturdydb``.
"""

from __future__ import annotations

import threading
from typing import Any

from sturdydb import register_process_state

__all__ = ["aws_client", "aws_session", "clear_clients"]

_sessions: dict[str | None, Any] = {}
_clients: dict[tuple[str | None, str, str | None, str | None], Any] = {}
_lock = threading.Lock()


def _reset_after_fork() -> None:
    # urllib3 connection pools must not be shared with a parent process.
    global _lock
    _lock = threading.Lock()
    _sessions.clear()
    _clients.clear()


# One piece of sturdydb's process state: the core's fork handler (and reset_process_state)
# runs it.
register_process_state("sturdydb_aws.clients", _reset_after_fork)


def aws_session(profile: str | None) -> Any:
    """The shared ``boto3.Session`` for ``profile`` (``None``: the default credential chain)."""
    found = _sessions.get(profile)
    if found is None:
        with _lock:
            found = _sessions.get(profile)
            if found is None:
                import boto3

                found = boto3.Session(profile_name=profile)
                _sessions[profile] = found
    return found


def aws_client(service: str, *, profile: str | None, region: str | None, endpoint: str | None = None) -> Any:
    """The shared boto3 client for this configuration."""
    key = (profile, service, region, endpoint)
    found = _clients.get(key)
    if found is None:
        session = aws_session(profile)
        with _lock:
            found = _clients.get(key)
            if found is None:
                found = session.client(service, region_name=region, endpoint_url=endpoint)
                _clients[key] = found
    return found


def clear_clients() -> None:
    """Forget every session and client (tests; credentials changed on disk)."""
    with _lock:
        _sessions.clear()
        _clients.clear()
