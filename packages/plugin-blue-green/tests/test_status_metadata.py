"""The status metadata as data: rows, phases, the blue-to-green routes."""

from __future__ import annotations

from bg_fakes import (
    BLUE_CLUSTER,
    BLUE_INSTANCE,
    DOMAIN,
    GREEN_CLUSTER,
    GREEN_INSTANCE,
    SOURCE,
    SUFFIX,
    resolve,
    rows,
)

from sturdydb_blue_green.status import Phase, Role, blue_name_of, build_routes, parse_rows, phase_of


def test_rows_are_parsed_and_unknown_versions_roles_and_statuses_are_skipped() -> None:
    parsed = parse_rows([
        ("1.0", "A.example", 5432, SOURCE, "SWITCHOVER_IN_PROGRESS"),
        ("2.0", "b.example", 5432, SOURCE, "AVAILABLE"),
        ("1.0", "c.example", 5432, "SOMETHING", "AVAILABLE"),
        ("1.0", "d.example", 5432, SOURCE, "NEW_STATUS"),
        ("1.0", "", 5432, SOURCE, "AVAILABLE"),
    ])
    assert [(r.endpoint, r.role, r.phase) for r in parsed] == [("a.example", Role.SOURCE, Phase.IN_PROGRESS)]


def test_the_phase_is_the_latest_any_endpoint_reports() -> None:
    assert phase_of([]) is Phase.NOT_CREATED
    mixed = parse_rows(rows("SWITCHOVER_INITIATED")[:3] + rows("SWITCHOVER_IN_PROGRESS")[3:])
    assert phase_of(mixed) is Phase.IN_PROGRESS
    assert phase_of(parse_rows(rows("SWITCHOVER_COMPLETED"))) is Phase.COMPLETED


def test_green_names_map_back_to_the_blue_names_they_replace() -> None:
    assert blue_name_of(GREEN_CLUSTER) == BLUE_CLUSTER
    assert blue_name_of(GREEN_INSTANCE) == BLUE_INSTANCE
    assert blue_name_of(BLUE_INSTANCE) is None
    assert blue_name_of(f"instance-1-green-toolongsuffix.{DOMAIN}") is None


def test_routes_send_each_blue_endpoint_to_its_green_counterparts_address() -> None:
    routes = build_routes(parse_rows(rows("AVAILABLE")), resolve)
    assert routes.role_of(BLUE_CLUSTER.upper()) is Role.SOURCE
    assert routes.role_of(GREEN_INSTANCE) is Role.TARGET
    assert routes.role_of("elsewhere.example") is None
    assert routes.green_for(BLUE_CLUSTER).host == "127.0.2.1"  # type: ignore[union-attr]
    assert routes.green_for(BLUE_INSTANCE).host == "127.0.2.3"  # type: ignore[union-attr]
    assert routes.green_for(GREEN_CLUSTER).host == "127.0.2.1"  # type: ignore[union-attr]
    # One instance per side is where the status is read, by address.
    assert [h.host for h in routes.status_hosts] == ["127.0.1.3", "127.0.2.3"]


def test_a_blue_endpoint_without_a_green_name_falls_back_to_greens_endpoint_of_its_kind() -> None:
    data = [r for r in rows("AVAILABLE") if r[1] != f"app-green-{SUFFIX}.cluster-ro-{DOMAIN}"]
    routes = build_routes(parse_rows(data), resolve)
    assert routes.counterpart[f"app.cluster-ro-{DOMAIN}"] == GREEN_CLUSTER


def test_old_names_of_a_previous_switchover_are_not_routed() -> None:
    routes = build_routes(parse_rows(rows("AVAILABLE", renamed=True)), resolve)
    assert routes.role_of(f"app-old1.cluster-{DOMAIN}") is None
