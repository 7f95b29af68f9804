"""What sturdydb-failover says about the AWS Advanced Python Wrapper's codes and properties.

sturdydb-failover replaces the reference's default plugin chain
(``initial_connection,aurora_connection_tracker,failover_v2,host_monitoring_v2``) and owns the
cluster topology, so it is the distribution that answers for the reference's topology-related
plugin codes:

- :data:`ALIASES`: reference codes whose job ``failover`` does (connect-time routing to the
  verified writer, stale-DNS protection, failover v2);
- :data:`REFUSED_CODES`: reference codes sturdydb deliberately does not provide, each with what
  to use instead (also the reference's diagnostic plugins, which no sturdydb plugin replaces);
- :func:`reference_only_properties`: the properties of those codes, accepted with a warning
  that they have no effect here and never passed to the driver (which would refuse them).

Kept free of imports beyond ``sturdydb`` so that reading it is cheap.
"""

from __future__ import annotations

from sturdydb import PropertySpec

__all__ = ["ALIASES", "REFUSED_CODES", "reference_only_properties"]

OWNER = "failover"

#: Reference codes that select ``failover``: it routes connect-time by the shared topology
#: (``initial_connection``), never trusts a cluster endpoint's DNS (``stale_dns``), and is
#: the monitor-based failover (``failover_v2``), and it applies the global database modes
#: (``gdb_failover``) whenever the topology reports regions.
ALIASES: tuple[str, ...] = ("failover_v2", "gdb_failover", "initial_connection", "stale_dns")

_SPLIT = ("read/write splitting is provided by the sturdydb-read-write distribution, which is "
          "not installed here: pip install sturdydb-read-write (or open a second connection to "
          "the reader cluster endpoint (cluster-ro-) for reads, both with the 'failover' plugin)")
_GDB_RW = ("gdb_rw (read/write splitting inside the home region of a global database) is "
           "provided by the sturdydb-read-write distribution, which is not installed here: pip "
           "install sturdydb-read-write")
_TIMING = ("it is provided by the sturdydb-timing distribution, which is not installed here: "
           "pip install sturdydb-timing")

#: Reference codes that sturdydb does not provide, and what to use instead.
REFUSED_CODES: dict[str, str] = {
    "read_write_splitting": _SPLIT,
    "srw": _SPLIT,
    "gdb_rw": _GDB_RW,
    "bg": ("it is provided by the sturdydb-blue-green distribution, which is not installed "
           "here: pip install sturdydb-blue-green"),
    "custom_endpoint": ("it is provided by the sturdydb-custom-endpoint distribution, which is "
                        "not installed here: pip install sturdydb-custom-endpoint"),
    "limitless": ("the 'limitless' plugin is provided by the sturdydb-limitless distribution, "
                  "which is not installed here: pip install sturdydb-limitless"),
    "fastest_response_strategy": ("the 'fastest_response' host selector is built into sturdydb "
                                  "and needs no plugin: set reader_host_selector_strategy (or "
                                  "failover_reader_host_selector_strategy) to fastest_response"),
    "connect_time": _TIMING,
    "execute_time": _TIMING,
    "dev": ("the reference's exception simulator is provided by the sturdydb-dev distribution, "
            "which is not installed here: pip install sturdydb-dev (test tooling; sturdydb-testing "
            "also injects real faults into local clusters)"),
}


def _no_effect(name: str, why: str, *, prefix: bool = False) -> PropertySpec:
    return PropertySpec(name, object, None, f"Reference-only: no effect in sturdydb. {why}",
                        owner=OWNER, prefix=prefix, no_effect=why)


def reference_only_properties() -> list[PropertySpec]:
    """The reference's properties in this distribution's area that have no effect here."""
    split = "read/write splitting needs the sturdydb-read-write distribution: pip install sturdydb-read-write"
    bg = "the 'bg' plugin (sturdydb-blue-green) is not installed"
    custom = "pip install sturdydb-custom-endpoint (see the 'custom_endpoint' code)"
    limitless = "the limitless plugin is not installed: pip install sturdydb-limitless"
    names: list[tuple[str, str]] = [
        ("telemetry_failover_additional_top_trace", "sturdydb has no telemetry backend; "
         "failovers are logged by the sturdydb.failover logger"),
        ("open_connection_retry_timeout_ms", "connect-time routing waits for the shared "
         "topology's verified writer within failover_timeout_sec; set enable_connect_failover "
         "to retry a failed first connect through the topology"),
        ("open_connection_retry_interval_ms", "connect-time routing has no retry loop of its "
         "own: see enable_connect_failover"),
        ("gdb_rw_home_region", _GDB_RW),
        ("gdb_rw_restrict_writer_to_home_region", _GDB_RW),
        ("gdb_rw_restrict_reader_to_home_region", _GDB_RW),
        ("gdb_enable_global_write_forwarding", _GDB_RW),
        ("srw_read_endpoint", split),
        ("srw_write_endpoint", split),
        ("srw_verify_new_connections", split),
        ("srw_verify_initial_connection_type", split),
        ("srw_connect_retry_timeout_ms", split),
        ("srw_connect_retry_interval_ms", split),
        ("bg_id", bg),
        ("bg_connect_timeout_ms", bg),
        ("bg_interval_baseline_ms", bg),
        ("bg_interval_increased_ms", bg),
        ("bg_interval_high_ms", bg),
        ("bg_switchover_timeout_ms", bg),
        ("bg_suspend_new_blue_connections", bg),
        ("custom_endpoint_info_refresh_rate_ms", custom),
        ("custom_endpoint_idle_monitor_expiration_ms", custom),
        ("wait_for_custom_endpoint_info", custom),
        ("wait_for_custom_endpoint_info_timeout_ms", custom),
        ("limitless_transaction_router_monitor_interval_ms", limitless),
        ("limitless_transaction_router_monitor_disposal_time_ms", limitless),
        ("limitless_wait_for_transaction_router_info", limitless),
        ("limitless_get_transaction_router_retry_interval_ms", limitless),
        ("limitless_get_transaction_router_max_retries", limitless),
        ("limitless_max_retries_ms", limitless),
    ]
    specs = [_no_effect(name, why) for name, why in names]
    specs += [
        _no_effect("blue-green-monitoring-", bg, prefix=True),
        _no_effect("limitless-router-monitor-", limitless, prefix=True),
    ]
    return specs
