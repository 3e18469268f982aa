"""The asset graph as the UI shows it: a snapshot, so any change to lineage is a reviewed change."""

import subprocess
import sys

import dagster as dg
import yaml

from mobility_lake.definitions import build_definitions
from mobility_lake.orchestration.jobs import ATTRIBUTE, LOCATION, MODULE
from mobility_lake.settings import PROJECT_ROOT, load_settings

EXPECTED_GRAPH = {
    "audit/query_log": [],
    "bronze/app_events": ["landing/app_events"],
    "bronze/domain_events": ["landing/domain_events"],
    "bronze/payment_events": ["landing/payment_events"],
    "bronze/vehicle_telemetry": ["landing/vehicle_telemetry"],
    "bronze/weather": ["landing/weather"],
    "landing/app_events": [],
    "landing/domain_events": [],
    "landing/payment_events": [],
    "landing/vehicle_telemetry": [],
    "landing/weather": [],
    "maintenance/delta_tables": [],
    "silver/app_events": ["bronze/app_events"],
    "silver/booking_events": ["bronze/domain_events"],
    "silver/payment_events": ["bronze/payment_events"],
    "silver/vehicle_telemetry": ["bronze/vehicle_telemetry"],
    "silver/weather": ["bronze/weather"],
    "gold/battery_health_metrics_weekly": ["silver/vehicle_telemetry"],
    "gold/customer_journey_events": ["silver/app_events", "silver/booking_events", "silver/payment_events"],
    "gold/demand_by_zone_hour": ["silver/booking_events", "silver/vehicle_telemetry"],
    "gold/revenue_by_vehicle_type_daily": ["silver/booking_events", "silver/payment_events"],
    "gold/vehicle_status_hourly": ["silver/vehicle_telemetry"],
    "gold/vehicle_utilization_daily": ["silver/booking_events", "silver/vehicle_telemetry"],
}
SILVER_CHECKS = ["conservation", "quarantine_share", "silver_schema", "unique_identity"]


def test_asset_graph_snapshot():
    graph = build_definitions(load_settings({})).resolve_asset_graph()
    snapshot = {
        key.to_user_string(): sorted(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    }
    assert snapshot == EXPECTED_GRAPH


def test_every_silver_asset_declares_its_blocking_checks():
    defs = build_definitions(load_settings({}))
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key.path[0] != "silver":
            continue
        assets_def = defs.resolve_assets_def(key)
        specs = list(assets_def.check_specs)
        assert sorted(s.name for s in specs) == SILVER_CHECKS
        assert all(s.blocking for s in specs)
        assert all(s.partitions_def == assets_def.partitions_def for s in specs)  # a verdict per hour


def test_hourly_assets_start_at_the_configured_hour_and_backfill_in_runs_the_queue_can_spread():
    settings = load_settings({"MOBILITY_LAKE_START": "2026-03-01-06:00"})
    graph = build_definitions(settings).resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.path[0] in ("bronze", "silver"):
            assert node.partitions_def.get_first_partition_key() == "2026-03-01-06:00"
            # A day's backfill is several runs, so the run queue can run them side by side.
            assert 1 < node.backfill_policy.max_partitions_per_run < 24


def test_definitions_load_without_warnings():
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import mobility_lake.definitions as d; assert d.defs"],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stderr == ""


def test_gold_marts_have_their_cadence_automation_freshness_schema_and_blocking_check():
    settings = load_settings({"MOBILITY_LAKE_START": "2026-03-04-05:00"})  # a Wednesday
    defs = build_definitions(settings)
    cadence = {
        "demand_by_zone_hour": "2026-03-04-05:00",
        "vehicle_utilization_daily": "2026-03-04",
        "revenue_by_vehicle_type_daily": "2026-03-04",
        "customer_journey_events": "2026-03-04",
        "battery_health_metrics_weekly": "2026-03-02",  # the Monday on or before the start
    }
    for name, first_key in cadence.items():
        assets_def = defs.resolve_assets_def(["gold", name])
        key = assets_def.key
        assert assets_def.partitions_def.get_first_partition_key() == first_key
        assert assets_def.automation_conditions_by_key[key] is not None
        spec = next(s for s in defs.resolve_all_asset_specs() if s.key == key)
        assert spec.freshness_policy is not None
        columns = [c.name for c in spec.metadata["dagster/column_schema"].columns]
        assert columns and len(columns) == len(set(columns))
        assert [c.blocking for c in assets_def.check_specs] == [True]
        assert [c.partitions_def for c in assets_def.check_specs] == [assets_def.partitions_def]


def test_sensors_and_automation_are_on_by_default():
    defs = build_definitions(load_settings({}))
    names = {s.name: s.default_status for s in defs.sensors}
    assert names == dict.fromkeys(
        ["landing_sensor", "silver_sensor", "demand_sensor", "gold_automation"],
        dg.DefaultSensorStatus.RUNNING,
    )


def test_each_sensor_requests_runs_of_the_job_that_holds_its_assets():
    """A sensor without a target cannot request runs in the daemon; with one, its runs are listed under it."""
    repository = build_definitions(load_settings({})).get_repository_def()
    targets = {
        "landing_sensor": "bronze_hourly",
        "silver_sensor": "silver_hourly",
        "demand_sensor": "gold_hourly",
    }
    for sensor, job in targets.items():
        assert repository.get_sensor_def(sensor).job_name == job


def test_the_workspace_loads_the_code_location_the_cli_launches_runs_in():
    (entry,) = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"]
    module = entry["python_module"]
    assert (module["module_name"], module["attribute"], module["location_name"]) == (
        MODULE,
        ATTRIBUTE,
        LOCATION,
    )
