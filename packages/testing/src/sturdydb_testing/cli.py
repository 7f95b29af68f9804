"""``python -m sturdydb_testing``: start a cluster and drive faults from a shell.

``up`` starts a cluster in the foreground (its servers and proxies live in that process and
die with it), prints connection strings, and listens on a Unix control socket; the other
commands (``status``, ``failover``, ``freeze``, ``thaw``, ``kill``, ``blackhole``, ``reset``,
``latency``, ``refuse``, ``restore``, ``rejoin``, ``heal``, ``events``, ``down``) send one
request to that socket and print the answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import socketserver
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sturdydb_testing.cluster import Cluster
from sturdydb_testing.mariadb import MariaDBCluster
from sturdydb_testing.postgres import PostgresCluster

__all__ = ["main"]

CONTROL_DIR = Path(os.environ.get("STURDYDB_TESTING_CONTROL_DIR", "/tmp/sturdydb-testing-control"))
_INSTANCE_COMMANDS = ("freeze", "thaw", "kill", "blackhole", "reset", "refuse", "restore", "rejoin")


def describe(cluster: Cluster) -> str:
    """Human-readable connection strings for every endpoint and instance."""
    lines = [f"{cluster.name}: {cluster.engine} cluster, emulating {cluster.kind}"]
    targets: list[tuple[str, str]] = [("cluster endpoint", "cluster"), ("reader endpoint", "reader")]
    targets += [
        (f"{i.name} ({'writer' if i.is_writer else 'reader'}, {i.state.value})", i.name)
        for i in cluster.instances
    ]
    for label, target in targets:
        kwargs = cluster.connect_kwargs(target)
        address = cluster.address_kwargs(target)["host"]
        if cluster.engine == "pg":
            text = cluster.conninfo(target, hostaddr=address)
        else:
            text = f"mysql -h {address} -P {kwargs['port']} -u {cluster.user} -p{cluster.password} {cluster.dbname}   # {kwargs['host']}"
        lines.append(f"  {label:<28} {text}")
    lines.append(f"  instance host pattern        {cluster.instance_host_pattern}")
    lines.append(
        "  (names resolve only inside processes that pin them: sturdydb.map_host(name, address, port))"
    )
    return "\n".join(lines)


def _socket_path(name: str) -> Path:
    return CONTROL_DIR / f"{name}.sock"


def _handle(cluster: Cluster, request: dict[str, Any]) -> str:
    command = request["command"]
    target = request.get("instance")
    if command == "status":
        return describe(cluster)
    if command == "events":
        return "\n".join(
            f"{e.wall_time:.3f} {e.kind:<16} {e.instance_name:<12} {e.detail}" for e in cluster.events
        )
    if command == "failover":
        began = time.monotonic()
        new = cluster.failover(target, request.get("promote_delay"), request.get("old_writer") or "kill")
        return f"{new.name} is the writer (failover took {time.monotonic() - began:.2f} s)\n" + describe(
            cluster
        )
    if command == "heal":
        cluster.heal()
        return describe(cluster)
    if command == "latency":
        if target is None:
            raise ValueError("latency needs an instance name and seconds, e.g. instance-1 0.2")
        cluster.add_latency(target, float(request["seconds"]))
        return f"{target}: +{request['seconds']} s per round trip"
    if command in _INSTANCE_COMMANDS:
        if target is None:
            raise ValueError(f"{command} needs an instance name, e.g. instance-1")
        method = {"reset": "reset_connections", "refuse": "refuse_connections"}.get(command, command)
        result = getattr(cluster, method)(target)
        return f"{command} {target}: done ({result!r})"
    raise ValueError(f"unknown command {command!r}")


def _serve(cluster: Cluster, path: Path) -> None:
    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            request = json.loads(self.rfile.readline())
            try:
                reply = {
                    "ok": True,
                    "output": "stopping" if request["command"] == "down" else _handle(cluster, request),
                }
            except Exception as exc:  # reported to the caller, the cluster keeps running
                reply = {"ok": False, "output": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            if request["command"] == "down":
                self.server.shutdown_requested = True  # type: ignore[attr-defined]

    with socketserver.UnixStreamServer(str(path), Handler) as server:
        server.shutdown_requested = False  # type: ignore[attr-defined]
        server.timeout = 0.5
        while not server.shutdown_requested:  # type: ignore[attr-defined]
            server.handle_request()


def _up(args: argparse.Namespace) -> int:
    cluster_type: type[Cluster] = PostgresCluster if args.engine == "pg" else MariaDBCluster
    name = args.name or f"sturdydb-{args.engine}"
    path = _socket_path(name)
    CONTROL_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as probe:
            probe.connect(str(path))
            print(
                f"a cluster named {name} is already up (control socket {path}); use --name", file=sys.stderr
            )
            return 1
        path.unlink()
    began = time.monotonic()
    cluster = cluster_type(
        args.replicas,
        aurora=not args.plain,
        kind="plain" if args.plain else args.kind,
        dns_delay=args.dns_delay,
        promote_delay=args.promote_delay,
        name=name,
    )
    with cluster:
        print(f"up in {time.monotonic() - began:.1f} s")
        print(describe(cluster))
        print(
            f"control: python -m sturdydb_testing <command> --name {name}   (Ctrl-C or 'down' stops it)",
            flush=True,
        )
        try:
            _serve(cluster, path)
        except KeyboardInterrupt:
            pass
        finally:
            path.unlink(missing_ok=True)
    print(f"{name} stopped")
    return 0


def _send(args: argparse.Namespace) -> int:
    name = args.name
    if name is None:
        sockets = sorted(CONTROL_DIR.glob("*.sock")) if CONTROL_DIR.exists() else []
        if len(sockets) != 1:
            found = ", ".join(p.stem for p in sockets) or "none"
            print(f"say which cluster with --name (running: {found})", file=sys.stderr)
            return 2
        name = sockets[0].stem
    request = {
        key: value for key, value in vars(args).items() if key not in ("name", "func") and value is not None
    }
    with socket.socket(socket.AF_UNIX) as conn:
        try:
            conn.connect(str(_socket_path(name)))
        except OSError as exc:
            print(
                f"no cluster {name} is up ({exc}); start one with: python -m sturdydb_testing up",
                file=sys.stderr,
            )
            return 2
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply = json.loads(conn.makefile("rb").readline())
    print(reply["output"], file=sys.stdout if reply["ok"] else sys.stderr)
    return 0 if reply["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sturdydb_testing", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start a cluster in the foreground")
    up.add_argument("--engine", choices=("pg", "mysql"), default="pg")
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--name", default=None)
    up.add_argument("--dns-delay", type=float, default=5.0)
    up.add_argument("--promote-delay", type=float, default=1.0)
    up.add_argument("--plain", action="store_true", help="no Aurora emulation (same as --kind plain)")
    up.add_argument("--kind", choices=("aurora", "multi-az", "plain"), default=None,
                    help="the emulated surface: Aurora (default) or an RDS Multi-AZ DB cluster")
    up.set_defaults(func=_up)
    for command in ("status", "events", "heal", "down"):
        sub = commands.add_parser(command)
        sub.add_argument("--name", default=None)
        sub.set_defaults(func=_send)
    failover = commands.add_parser("failover", help="kill/freeze/demote the writer and promote a replica")
    failover.add_argument(
        "instance", nargs="?", default=None, help="the replica to promote (default: random)"
    )
    failover.add_argument("--old-writer", choices=("kill", "freeze", "demote"), default=None)
    failover.add_argument("--promote-delay", type=float, default=None)
    failover.add_argument("--name", default=None)
    failover.set_defaults(func=_send)
    for command in _INSTANCE_COMMANDS:
        sub = commands.add_parser(command)
        sub.add_argument("instance")
        sub.add_argument("--name", default=None)
        sub.set_defaults(func=_send)
    latency = commands.add_parser("latency")
    latency.add_argument("instance")
    latency.add_argument("seconds", type=float)
    latency.add_argument("--name", default=None)
    latency.set_defaults(func=_send)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
