"""The database dialect interface: how to recognise a kind of server and read its topology.

A dialect answers four questions with the same SQL the reference wrapper sends (so the real
Aurora and RDS answer them): is this server of my kind, what is the cluster's topology, which
instance am I connected to, and is it a reader. Dialects run their queries through the
driver dialect's ``query``, which preserves the application's transaction status.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sturdydb._hosts import HostInfo, parse_global_host_patterns
from sturdydb._topology import host_from_topology_row

if TYPE_CHECKING:
    from sturdydb._drivers.base import DriverDialect

__all__ = ["DatabaseDialect", "GlobalDialect", "MultiAzDialect"]


class DatabaseDialect:
    """Base class. ``family`` is ``"pg"`` or ``"mysql"``; ``code`` is the ``wrapper_dialect`` value."""

    code: ClassVar[str] = ""
    family: ClassVar[str] = ""
    default_port: ClassVar[int] = 0
    #: Dialect codes to try, in order, when this one was only a first guess.
    refinements: ClassVar[tuple[str, ...]] = ()
    #: Whether the dialect can list the cluster's instances.
    has_topology: ClassVar[bool] = False
    instance_id_query: ClassVar[str] = ""
    is_reader_query: ClassVar[str] = ""
    topology_query: ClassVar[str] = ""
    writer_id_query: ClassVar[str] = ""

    def is_dialect(self, driver: DriverDialect, conn: Any) -> bool:
        raise NotImplementedError

    def _first(self, driver: DriverDialect, conn: Any, sql: str) -> tuple[Any, ...] | None:
        try:
            rows = driver.query(conn, sql)
        except Exception as exc:
            if driver.is_network_error(exc):
                # The connection broke: "not my kind of server" would be a lie that detection
                # then caches for half an hour.
                raise
            # A probe for another kind of server fails with "no such function/table";
            # the connection stays usable because query() rolled its transaction back.
            return None
        return rows[0] if rows else None

    def instance_id(self, driver: DriverDialect, conn: Any) -> str | None:
        """The id of the instance ``conn`` is connected to (matches topology ids)."""
        row = driver.query(conn, self.instance_id_query)
        return None if not row or row[0][1] is None else str(row[0][1])

    def is_reader(self, driver: DriverDialect, conn: Any) -> bool:
        row = driver.query(conn, self.is_reader_query)
        return bool(row and row[0][0] and str(row[0][0]) not in ("0", "OFF", "off"))

    def is_writer(self, driver: DriverDialect, conn: Any) -> bool:
        """Whether ``conn`` is on the cluster's writer according to the server itself."""
        if self.writer_id_query:
            return bool(driver.query(conn, self.writer_id_query))
        return not self.is_reader(driver, conn)

    def topology(
        self, driver: DriverDialect, conn: Any, pattern: str, default_port: int | None
    ) -> list[HostInfo]:
        """The cluster's instances, readers first and the writer last.

        With several writers reported (a failover in progress), the most recently updated one
        wins and the others are listed as readers; no writer at all gives an empty list, which
        callers treat as "topology unknown".
        """
        if not self.has_topology:
            return []
        rows = driver.query(conn, self.topology_query)
        return self.hosts_from_rows(rows, pattern, default_port)

    def hosts_from_rows(
        self, rows: Sequence[tuple[Any, ...]], pattern: str, default_port: int | None
    ) -> list[HostInfo]:
        writers: list[tuple[float, str]] = []
        readers: list[str] = []
        lags: dict[str, float | None] = {}
        for row in rows:
            instance_id, is_writer = str(row[0]), bool(row[1])
            lags[instance_id] = _lag(row[3]) if len(row) > 3 else None
            if is_writer:
                updated = row[4] if len(row) > 4 else None
                stamp = updated.timestamp() if updated is not None and hasattr(updated, "timestamp") else time.time()
                writers.append((stamp, instance_id))
            else:
                readers.append(instance_id)
        if not writers:
            return []
        writers.sort()
        writer_id = writers[-1][1]
        readers.extend(w for _, w in writers[:-1])
        hosts = [host_from_topology_row(r, False, pattern, default_port, replica_lag_ms=lags.get(r))
                 for r in readers]
        hosts.append(host_from_topology_row(writer_id, True, pattern, default_port))
        return hosts

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.code}>"


def _lag(value: Any) -> float | None:
    """The topology row's replica lag column in milliseconds (``None`` when absent or odd)."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class MultiAzDialect(DatabaseDialect):
    """An RDS Multi-AZ DB cluster: a writer and two readable standbys.

    Its topology rows are ``(id, endpoint, port)`` with no role; the writer's id comes from a
    separate query (:meth:`writer_topology_id`). Hosts are named by the instance part of the
    endpoint (``instance-1`` of ``instance-1.xyz.us-east-1.rds.amazonaws.com``) through the
    instance host pattern, so the host ids match what :attr:`instance_id_query` returns.
    """

    has_topology: ClassVar[bool] = True

    def writer_topology_id(self, driver: DriverDialect, conn: Any) -> str | None:
        """The topology ``id`` of the cluster's writer, as the server behind ``conn`` knows it."""
        raise NotImplementedError

    def topology(
        self, driver: DriverDialect, conn: Any, pattern: str, default_port: int | None
    ) -> list[HostInfo]:
        writer_id = self.writer_topology_id(driver, conn)
        if not writer_id:
            return []  # a standby that lost its source does not know the writer
        rows = driver.query(conn, self.topology_query)
        return self.hosts_from_rows([(row[1], str(row[0]) == writer_id) for row in rows], pattern, default_port)

    def hosts_from_rows(
        self, rows: Sequence[tuple[Any, ...]], pattern: str, default_port: int | None
    ) -> list[HostInfo]:
        """``rows`` are ``(endpoint, is_writer)``; readers first, the writer last, or ``[]``."""
        readers: list[str] = []
        writer: str | None = None
        for endpoint, is_writer in rows:
            name = str(endpoint).split(".", 1)[0]
            if is_writer:
                writer = name
            else:
                readers.append(name)
        if writer is None:
            return []
        hosts = [host_from_topology_row(r, False, pattern, default_port) for r in readers]
        hosts.append(host_from_topology_row(writer, True, pattern, default_port))
        return hosts


class GlobalDialect(DatabaseDialect):
    """An Aurora Global Database (either engine): the topology of every region, each host with its region.

    Topology rows are ``(server_id, is_writer, visibility_lag_ms, aws_region)`` on both engines;
    ``pattern`` is the ``global_cluster_instance_host_patterns`` value. A row whose region has
    no pattern is an error naming the region (the reference raises too). Mixed in before the
    engine's Aurora dialect, whose instance-id and reader queries stay valid.
    """

    def hosts_from_rows(
        self, rows: Sequence[tuple[Any, ...]], pattern: str, default_port: int | None
    ) -> list[HostInfo]:
        try:
            patterns = parse_global_host_patterns(pattern)
        except ValueError as exc:
            raise ValueError(
                f"the {self.code} dialect needs global_cluster_instance_host_patterns: {exc}"
            ) from None
        writers: list[HostInfo] = []
        readers: list[HostInfo] = []
        for row in rows:
            instance_id, is_writer, region = str(row[0]), bool(row[1]), str(row[3]).lower()
            template = patterns.get(region)
            if template is None:
                raise ValueError(
                    f"the global database has instance {instance_id} in region {region}, which "
                    f"global_cluster_instance_host_patterns does not name: add {region}:<host-pattern>"
                )
            host = host_from_topology_row(instance_id, is_writer, template, default_port, region=region)
            (writers if is_writer else readers).append(host)
        if len(writers) != 1:
            return []  # none, or several during a switchover: topology unknown for now
        return readers + writers
