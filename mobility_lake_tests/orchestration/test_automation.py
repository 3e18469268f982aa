"""Gold's automation conditions against a real instance and real runs: what the daemon would request.

A complete day whose silver checks passed is requested; a day with hours missing is built from the hours
present; an hour whose blocking check failed holds back only the gold partitions above it; and an update
to an hour of any age reaches the gold above it."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mobility_lake.definitions import build_definitions
from mobility_lake.gold.marts import MARTS
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import run_in_process

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
YESTERDAY = TODAY - timedelta(days=1)
HOUR = timedelta(hours=1)
DAILY = {"vehicle_utilization_daily", "revenue_by_vehicle_type_daily", "customer_journey_events"}
GOLD = dg.AssetSelection.groups("gold")
PASS = {"max_quarantine_share": 1.0, "quarantine_min_rows": 0}
FAIL = {"max_quarantine_share": 0.0, "quarantine_min_rows": 0}


def lake_defs(tmp_path, first_day: datetime) -> tuple[Lake, dg.Definitions]:
    settings = load_settings(
        {
            "MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
            "MOBILITY_LAKE_START": first_day.strftime("%Y-%m-%d-00:00"),
        }
    )
    return Lake(settings), build_definitions(settings)


def requested(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor
) -> tuple[dict[str, set[str]], object]:
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=GOLD, cursor=cursor
    )
    found = {
        key.path[-1]: set(result.get_requested_partitions(key))
        for key in GOLD.resolve(defs.resolve_asset_graph())
    }
    return {name: keys for name, keys in found.items() if keys}, result.cursor


def ingest(defs, instance, start: datetime, end: datetime, quality: dict = PASS) -> bool:
    assert run_in_process(defs, "bronze_hourly", start, end, instance).success
    return run_in_process(defs, "silver_hourly", start, end, instance, quality_policy=quality).success


def hour_keys(start: datetime, hours: int) -> set[str]:
    return {(start + n * HOUR).strftime("%Y-%m-%d-%H:%M") for n in range(hours)}


def test_a_complete_day_whose_checks_passed_is_requested(tmp_path):
    lake, defs = lake_defs(tmp_path, YESTERDAY)
    simulate(lake, YESTERDAY, 24, vehicles=3, seed=2, defects=DefectShares.none())
    with dg.instance_for_test() as instance:
        _, cursor = requested(defs, instance, None)
        assert ingest(defs, instance, YESTERDAY, TODAY)
        found, _ = requested(defs, instance, cursor)
    assert {name for name in found if name in DAILY} == DAILY
    assert all(found[name] == {YESTERDAY.strftime("%Y-%m-%d")} for name in DAILY)
    assert found["demand_by_zone_hour"] == hour_keys(YESTERDAY, 24)


def test_a_day_with_hours_missing_is_built_from_the_hours_present(tmp_path):
    lake, defs = lake_defs(tmp_path, YESTERDAY)
    simulate(lake, YESTERDAY, 3, vehicles=3, seed=2, defects=DefectShares.none())
    with dg.instance_for_test() as instance:
        _, cursor = requested(defs, instance, None)
        assert ingest(defs, instance, YESTERDAY, YESTERDAY + 3 * HOUR)
        found, _ = requested(defs, instance, cursor)
    assert DAILY <= set(found)
    assert found["demand_by_zone_hour"] == hour_keys(YESTERDAY, 3)


def test_a_failed_blocking_check_holds_back_only_the_gold_above_its_hour(tmp_path):
    lake, defs = lake_defs(tmp_path, YESTERDAY)
    simulate(lake, YESTERDAY, 2, vehicles=3, seed=2, defects=DefectShares(malformed=0.2))
    with dg.instance_for_test() as instance:
        _, cursor = requested(defs, instance, None)
        assert ingest(defs, instance, YESTERDAY, YESTERDAY + HOUR)  # passes
        assert run_in_process(defs, "bronze_hourly", YESTERDAY + HOUR, YESTERDAY + 2 * HOUR, instance).success
        second = run_in_process(
            defs, "silver_hourly", YESTERDAY + HOUR, YESTERDAY + 2 * HOUR, instance, quality_policy=FAIL
        )
        found, _ = requested(defs, instance, cursor)
    failed = {e.asset_key.path[-1] for e in second.get_asset_check_evaluations() if not e.passed}
    assert not second.success and "vehicle_telemetry" in failed
    assert found["demand_by_zone_hour"] == hour_keys(YESTERDAY, 1)  # 01:00 is held back, 00:00 is not
    for mart in MARTS:
        if mart.cadence == "daily":
            assert (mart.name in found) == (not failed & set(mart.reads)), mart.name


def test_an_update_to_an_hour_weeks_old_reaches_the_gold_above_it(tmp_path):
    old = TODAY - timedelta(days=20)
    lake, defs = lake_defs(tmp_path, old)
    simulate(lake, old, 1, vehicles=3, seed=2, defects=DefectShares.none())
    with dg.instance_for_test() as instance:
        _, cursor = requested(defs, instance, None)
        assert ingest(defs, instance, old, old + HOUR)
        found, _ = requested(defs, instance, cursor)
    assert found["demand_by_zone_hour"] == hour_keys(old, 1)
    assert DAILY <= set(found)
    assert "battery_health_metrics_weekly" in found
