"""Failover modes of an Aurora Global Database, chosen by where the writer is (reference ``gdb_failover``).

A global database's topology gives each instance its region. The application names its home
region (``failover_home_region``, else the region of its RDS host name) and two modes: the one
used while the writer is in the home region (``active_home_failover_mode``) and the one used
while it is elsewhere (``inactive_home_failover_mode``). Each mode maps onto the plain
failover machinery as a :class:`Plan`: writer failover, or reader failover over the readers of
some regions, with or without the writer as the last resort. Only topologies that report
regions (the ``global-aurora-pg`` dialect) use these modes; a plain Aurora cluster ignores them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from sturdydb import ConfigurationError, HostInfo, PropertySpec
from sturdydb.plugin_api import ImmutableRecord, RdsUrlType, normalize_choice, parse_rds_host
from sturdydb_failover.settings import FailoverMode

if TYPE_CHECKING:
    from sturdydb.plugin_api import Properties

__all__ = ["GlobalMode", "GlobalSettings", "Plan", "global_properties", "plan"]

OWNER = "failover"


class GlobalMode(enum.Enum):
    """The reference's global failover modes (hyphens and underscores both accepted)."""

    STRICT_WRITER = "strict_writer"
    STRICT_HOME_READER = "strict_home_reader"
    STRICT_OUT_OF_HOME_READER = "strict_out_of_home_reader"
    STRICT_ANY_READER = "strict_any_reader"
    HOME_READER_OR_WRITER = "home_reader_or_writer"
    OUT_OF_HOME_READER_OR_WRITER = "out_of_home_reader_or_writer"
    ANY_READER_OR_WRITER = "any_reader_or_writer"


_CHOICES = tuple(m.value for m in GlobalMode)


def global_properties() -> list[PropertySpec]:
    """The global-database properties of ``failover`` (the reference's ``gdb_failover``)."""
    mode_doc = ("Hyphens accepted. Unset: strict_writer for a writer or global writer cluster "
                "endpoint, else home_reader_or_writer.")
    return [
        PropertySpec("failover_home_region", str, None,
                     "Aurora Global Database: the application's home AWS region (e.g. us-east-1). "
                     "Unset: the region of the connection string's RDS host name; required for a "
                     "global writer endpoint, an IP address or a custom domain.", owner=OWNER),
        PropertySpec("active_home_failover_mode", str, None,
                     "Aurora Global Database: the failover mode while the writer is in the home "
                     "region. " + mode_doc, owner=OWNER, choices=_CHOICES, normalize=normalize_choice),
        PropertySpec("inactive_home_failover_mode", str, None,
                     "Aurora Global Database: the failover mode while the writer is outside the "
                     "home region. " + mode_doc, owner=OWNER, choices=_CHOICES, normalize=normalize_choice),
    ]


class GlobalSettings(ImmutableRecord):
    """One connection's global failover configuration (read once at connect).

    An :class:`~sturdydb.plugin_api.ImmutableRecord`, not a frozen dataclass: this module is
    imported by every first connect with ``failover``, where a dataclass's generated methods
    would be compiled from source in each fresh process.
    """

    __slots__ = ("active", "home_region", "inactive")
    home_region: str | None
    active: GlobalMode
    inactive: GlobalMode

    def __init__(self, home_region: str | None, active: GlobalMode, inactive: GlobalMode) -> None:
        self._set(home_region=home_region, active=active, inactive=inactive)

    @classmethod
    def from_props(cls, props: Properties, initial_host: str) -> GlobalSettings:
        parsed = parse_rds_host(initial_host)
        writer_url = parsed.url_type in (RdsUrlType.RDS_WRITER_CLUSTER, RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER)
        default = GlobalMode.STRICT_WRITER if writer_url else GlobalMode.HOME_READER_OR_WRITER
        home = props.get("failover_home_region") or parsed.region
        active = props.get("active_home_failover_mode")
        inactive = props.get("inactive_home_failover_mode")
        return cls(
            home_region=str(home).strip().lower() if home else None,
            active=GlobalMode(active) if active else default,
            inactive=GlobalMode(inactive) if inactive else default,
        )

    def mode_for(self, writer_region: str | None) -> GlobalMode:
        """The mode that applies while the writer is in ``writer_region``."""
        if self.home_region is None:
            raise ConfigurationError(
                "failover on an Aurora Global Database needs the home region: set "
                "failover_home_region (e.g. us-east-1); the connection string's host names none")
        return self.active if writer_region == self.home_region else self.inactive


class Plan(ImmutableRecord):
    """How one global failover runs on the plain machinery (a record, as GlobalSettings)."""

    __slots__ = ("mode", "reader_ok")
    mode: FailoverMode
    #: Which readers may be chosen (None: any).
    reader_ok: Callable[[HostInfo], bool] | None

    def __init__(self, mode: FailoverMode, reader_ok: Callable[[HostInfo], bool] | None) -> None:
        self._set(mode=mode, reader_ok=reader_ok)


def plan(mode: GlobalMode, home: str) -> Plan:
    """The :class:`Plan` of ``mode`` for an application whose home region is ``home``."""
    def in_home(host: HostInfo) -> bool:
        return host.region == home

    def out_of_home(host: HostInfo) -> bool:
        return host.region != home

    table: dict[GlobalMode, Plan] = {
        GlobalMode.STRICT_WRITER: Plan(FailoverMode.STRICT_WRITER, None),
        GlobalMode.STRICT_HOME_READER: Plan(FailoverMode.STRICT_READER, in_home),
        GlobalMode.STRICT_OUT_OF_HOME_READER: Plan(FailoverMode.STRICT_READER, out_of_home),
        GlobalMode.STRICT_ANY_READER: Plan(FailoverMode.STRICT_READER, None),
        GlobalMode.HOME_READER_OR_WRITER: Plan(FailoverMode.READER_OR_WRITER, in_home),
        GlobalMode.OUT_OF_HOME_READER_OR_WRITER: Plan(FailoverMode.READER_OR_WRITER, out_of_home),
        GlobalMode.ANY_READER_OR_WRITER: Plan(FailoverMode.READER_OR_WRITER, None),
    }
    return table[mode]
