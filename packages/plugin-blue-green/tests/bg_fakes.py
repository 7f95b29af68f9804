"""Fakes for the unit tests: status rows, a resolver, a driver and a connection context."""

from __future__ import annotations

from typing import Any

from sturdydb import HostInfo

DOMAIN = "abcdefghijkl.us-east-1.rds.amazonaws.com"
SUFFIX = "q1w2e3"
SOURCE = "BLUE_GREEN_DEPLOYMENT_SOURCE"
TARGET = "BLUE_GREEN_DEPLOYMENT_TARGET"
BLUE_CLUSTER = f"app.cluster-{DOMAIN}"
GREEN_CLUSTER = f"app-green-{SUFFIX}.cluster-{DOMAIN}"
BLUE_INSTANCE = f"instance-1.{DOMAIN}"
GREEN_INSTANCE = f"instance-1-green-{SUFFIX}.{DOMAIN}"

ADDRESSES = {
    BLUE_CLUSTER: "127.0.1.1", f"app.cluster-ro-{DOMAIN}": "127.0.1.2", BLUE_INSTANCE: "127.0.1.3",
    GREEN_CLUSTER: "127.0.2.1", f"app-green-{SUFFIX}.cluster-ro-{DOMAIN}": "127.0.2.2",
    GREEN_INSTANCE: "127.0.2.3",
}


def rows(status: str, renamed: bool = False) -> list[tuple[Any, ...]]:
    """The metadata of a deployment with one instance per side, in ``status``."""
    blue = [BLUE_CLUSTER, f"app.cluster-ro-{DOMAIN}", BLUE_INSTANCE]
    green = [GREEN_CLUSTER, f"app-green-{SUFFIX}.cluster-ro-{DOMAIN}", GREEN_INSTANCE]
    if renamed:
        green = [h.replace(f"-green-{SUFFIX}", "") for h in green]
        blue = [h.replace(".", "-old1.", 1) for h in blue]
    return [("1.0", h, 5432, SOURCE, status) for h in blue] + [("1.0", h, 5432, TARGET, status) for h in green]


def resolve(host: str, port: int | None) -> HostInfo | None:
    address = ADDRESSES.get(host)
    return HostInfo(address, port) if address else None


class FakeDriver:
    database_family = "pg"

    def __init__(self) -> None:
        self.in_tx = False
        self.closed: list[Any] = []

    def is_network_error(self, exc: BaseException) -> bool:
        return isinstance(exc, ConnectionError)

    def is_read_only_error(self, exc: BaseException) -> bool:
        return isinstance(exc, PermissionError)

    def is_unsent_error(self, exc: BaseException) -> bool:
        return False

    def in_transaction(self, conn: Any) -> bool:
        return self.in_tx

    def close_quietly(self, conn: Any) -> None:
        self.closed.append(conn)

    def abort_connection(self, conn: Any) -> None:
        pass


class FakeSession:
    read_only = False


class FakeContext:
    """What the plugin uses of a ConnectionContext."""

    def __init__(self) -> None:
        self.driver = FakeDriver()
        self.session = FakeSession()
        self.connection: Any = "blue-conn"
        self.host = HostInfo(BLUE_CLUSTER, 5432)
        self.plugin_state: dict[str, Any] = {}
        self.opened: list[HostInfo] = []

    def open(self, host: HostInfo, **kwargs: Any) -> Any:
        if kwargs.get("purpose") == "auxiliary":
            raise ConnectionError("the fake servers have no status monitor connections")
        self.opened.append(host)
        return f"conn-to-{host.host}"

    def set_connection(self, new: Any, host: HostInfo) -> None:
        self.connection = new
        self.host = host

    def error(self, cls: type[Exception], message: str) -> Exception:
        return cls(message)


class FakeCall:
    def __init__(self, context: FakeContext, method: str, target: Any = None) -> None:
        self.context = context
        self.method = method
        self.target = target
        self.func: Any = None
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
