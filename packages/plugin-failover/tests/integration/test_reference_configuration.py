"""The reference wrapper's default plugin list and common properties, against real servers.

A configuration written for the AWS Advanced Python Wrapper runs unchanged: its codes select
the sturdydb plugins that do the job, its properties are honoured or accepted with a warning,
and nothing of it reaches the driver (which would refuse an unknown option).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from scenario_helpers import driver_connect, instance_id

import sturdydb
from sturdydb_testing import Cluster

REFERENCE_DEFAULT = "initial_connection,aurora_connection_tracker,failover_v2,host_monitoring_v2"

#: The reference's commonly set properties (its README and docs), with reference-style values
#: (booleans and numbers as strings, hyphenated modes).
COMMON: dict[str, Any] = {
    "failover_mode": "strict-writer",
    "failover_timeout_sec": "60",
    "failover_cluster_topology_refresh_rate_sec": "2",
    "failover_writer_reconnect_interval_sec": "2",
    "failover_reader_connect_timeout_sec": "30",
    "failover_reader_host_selector_strategy": "random",
    "topology_refresh_ms": "30000",
    "cluster_topology_high_refresh_rate_ms": "100",
    "failure_detection_enabled": "True",
    "failure_detection_time_ms": "30000",
    "failure_detection_interval_ms": "5000",
    "failure_detection_count": "3",
    "monitor_disposal_time_ms": "600000",
    "monitoring-connect_timeout": "10",
    "topology-monitoring-connect_timeout": "5",
    "auxiliary_query_timeout_sec": "5",
    "transfer_session_state_on_switch": "True",
    "reset_session_state_on_close": "True",
    "rollback_on_switch": "True",
    "auto_sort_wrapper_plugin_order": "True",
    "reader_host_selector_strategy": "random",
    "reader_initial_connection_host_selector_strategy": "random",
    "open_connection_retry_timeout_ms": "30000",
    "open_connection_retry_interval_ms": "1000",
    "enable_telemetry": "False",
    "telemetry_traces_backend": "NONE",
    "telemetry_metrics_backend": "NONE",
    "telemetry_submit_toplevel": "False",
    "telemetry_failover_additional_top_trace": "False",
    "round_robin_default_weight": "1",
    "round_robin_host_weight_pairs": "",
    "weighted_random_default_weight": "1",
    "default_host_availability_strategy": "",
    "cluster_id": "reference-config",
    "connect_timeout": "3",
    "socket_timeout": "30",
    "tcp_keepalive": "True",
}

NO_EFFECT = {"reset_session_state_on_close", "open_connection_retry_timeout_ms",
             "open_connection_retry_interval_ms", "enable_telemetry", "telemetry_traces_backend",
             "telemetry_metrics_backend", "telemetry_submit_toplevel",
             "telemetry_failover_additional_top_trace", "default_host_availability_strategy"}


def _options(cluster: Cluster, **props: Any) -> dict[str, Any]:
    if cluster.engine == "mysql":
        props["use_pure"] = True  # host monitoring aborts calls through the pure-Python socket
    return props


def test_the_reference_default_plugin_list_runs(aurora_cluster: Cluster) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no unknown-property or no-effect warning here
        conn = sturdydb.connect(driver_connect(aurora_cluster), aurora_cluster.conninfo(),
                                **_options(aurora_cluster, plugins=REFERENCE_DEFAULT,
                                           autocommit=True))
    try:
        assert conn.context.pipeline.codes[:3] == (
            "aurora_connection_tracker", "failover", "host_monitoring")
        assert instance_id(conn, aurora_cluster) == aurora_cluster.writer.name  # type: ignore[union-attr]
    finally:
        conn.close()


def test_the_reference_common_properties_connect_and_warn_once(aurora_cluster: Cluster) -> None:
    sturdydb.reset_process_state()
    dialect = "aurora-pg" if aurora_cluster.engine == "pg" else "aurora-mysql"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        conns = [
            sturdydb.connect(driver_connect(aurora_cluster), aurora_cluster.conninfo(),
                             **_options(aurora_cluster, plugins=REFERENCE_DEFAULT,
                                        wrapper_dialect=dialect, autocommit=True, **COMMON))
            for _ in range(2)
        ]
    try:
        warned = [str(w.message) for w in caught]
        assert not [m for m in warned if "unknown property" in m], warned
        no_effect = [m for m in warned if "has no effect in sturdydb" in m]
        # One warning per reference-only name, though two connections were opened.
        assert sorted(m.split("'")[1] for m in no_effect) == sorted(NO_EFFECT)
        for conn in conns:
            assert instance_id(conn, aurora_cluster) == aurora_cluster.writer.name  # type: ignore[union-attr]
            props = conn.context.props
            assert props.get("failover_timeout_sec") == 60.0
            assert props.get("failover_mode") == "strict_writer"
            assert not NO_EFFECT & set(props.driver_kwargs())
    finally:
        for conn in conns:
            conn.close()


def test_a_reference_code_sturdydb_does_not_provide_fails_before_connecting(
    aurora_cluster: Cluster,
) -> None:
    with pytest.raises(sturdydb.ConfigurationError, match="is not provided by the installed sturdydb distributions"):
        sturdydb.connect(driver_connect(aurora_cluster), aurora_cluster.conninfo(),
                         plugins="failover,fastest_response_strategy")


#: Every property name of the reference (its WrapperProperties, per plugin and core).
REFERENCE_PROPERTIES = """
enable_failover failover_mode failover_timeout_sec failover_cluster_topology_refresh_rate_sec
failover_writer_reconnect_interval_sec failover_reader_connect_timeout_sec
cluster_instance_host_pattern telemetry_failover_additional_top_trace
failover_reader_host_selector_strategy enable_connect_failover topology_refresh_ms
cluster_topology_high_refresh_rate_ms failover_home_region active_home_failover_mode
inactive_home_failover_mode global_cluster_instance_host_patterns failure_detection_enabled
failure_detection_time_ms failure_detection_interval_ms failure_detection_count
monitor_disposal_time_ms iam_host iam_default_port iam_region iam_expiration aws_profile
secrets_manager_secret_id secrets_manager_region secrets_manager_endpoint
secrets_manager_secret_username_key secrets_manager_secret_password_key
secrets_manager_expiration idp_endpoint idp_port rp_identifier iam_role_arn iam_idp_arn
db_user idp_username idp_password idp_name iam_token_expiration http_request_connect_timeout
ssl_secure app_id reader_host_selector_strategy srw_read_endpoint srw_write_endpoint
srw_verify_new_connections srw_verify_initial_connection_type srw_connect_retry_timeout_ms
srw_connect_retry_interval_ms gdb_rw_home_region gdb_rw_restrict_writer_to_home_region
gdb_rw_restrict_reader_to_home_region gdb_enable_global_write_forwarding
reader_initial_connection_host_selector_strategy open_connection_retry_timeout_ms
open_connection_retry_interval_ms response_measurement_interval_ms
custom_endpoint_info_refresh_rate_ms custom_endpoint_idle_monitor_expiration_ms
wait_for_custom_endpoint_info wait_for_custom_endpoint_info_timeout_ms
limitless_transaction_router_monitor_interval_ms
limitless_transaction_router_monitor_disposal_time_ms limitless_wait_for_transaction_router_info
limitless_get_transaction_router_retry_interval_ms limitless_get_transaction_router_max_retries
limitless_max_retries_ms bg_id bg_connect_timeout_ms bg_interval_baseline_ms
bg_interval_increased_ms bg_interval_high_ms bg_switchover_timeout_ms
bg_suspend_new_blue_connections plugins auto_sort_wrapper_plugin_order profile_name
wrapper_dialect wrapper_driver_dialect connect_timeout socket_timeout tcp_keepalive
tcp_keepalive_time tcp_keepalive_interval tcp_keepalive_probes database user password
cluster_id auxiliary_query_timeout_sec transfer_session_state_on_switch
reset_session_state_on_close rollback_on_switch default_host_availability_strategy
host_availability_strategy_max_retries host_availability_strategy_initial_backoff_time
round_robin_default_weight round_robin_host_weight_pairs weighted_random_default_weight
weighted_random_host_weight_pairs enable_telemetry telemetry_traces_backend
telemetry_metrics_backend telemetry_submit_toplevel
""".split()  # noqa: SIM905 - a word list copied from the reference digest
REFERENCE_PREFIXES = ["monitoring-", "topology-monitoring-", "frt-", "blue-green-monitoring-",
                      "limitless-router-monitor-"]

REFERENCE_CODES = ["custom_endpoint", "initial_connection", "aurora_connection_tracker",
                   "stale_dns", "read_write_splitting", "srw", "gdb_rw", "failover",
                   "failover_v2", "gdb_failover", "host_monitoring", "host_monitoring_v2", "bg",
                   "fastest_response_strategy", "iam", "aws_secrets_manager", "federated_auth",
                   "limitless", "okta", "connect_time", "execute_time", "dev"]


def test_every_reference_property_and_code_is_known_with_all_distributions_installed() -> None:
    cat = sturdydb.catalog()
    unknown = [n for n in REFERENCE_PROPERTIES if cat.registry.get(n) is None]
    assert not unknown
    assert all(cat.registry.prefix_of(p + "x") is not None for p in REFERENCE_PREFIXES)
    for code in REFERENCE_CODES:
        if code in cat.entries or code in cat.aliases:
            cat.resolve(code)  # implemented (or an alias of the plugin that does the job)
            continue
        with pytest.raises(sturdydb.ConfigurationError, match="is not provided by the installed sturdydb distributions"):
            cat.resolve(code)
