"""Gold's automation conditions against a real instance: a complete day whose silver checks passed is
requested; a day held back by a failed blocking check, or with hours missing, is not."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mobility_lake.definitions import build_definitions
from mobility_lake.orchestration.resources import QualityPolicy
from mobility_lake.orchestration.runs import run_job
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

YESTERDAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
DAILY = {"vehicle_utilization_daily", "revenue_by_vehicle_type_daily", "customer_journey_events"}


def requested(tmp_path, hours: int, max_share: float) -> dict[str, set[str]]:
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
                              "MOBILITY_LAKE_START": YESTERDAY.strftime("%Y-%m-%d-00:00")})  # fmt: skip
    simulate(Lake(settings), YESTERDAY, hours, vehicles=3, seed=2, defects=DefectShares(malformed=0.2))
    defs = build_definitions(settings, QualityPolicy(max_quarantine_share=max_share))
    window = [(YESTERDAY, YESTERDAY + timedelta(hours=hours))]
    gold = dg.AssetSelection.groups("gold")
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=gold)
        run_job(defs, "bronze_hourly", window, instance, lambda _: None)
        try:
            run_job(defs, "silver_hourly", window, instance, lambda _: None)
        except RuntimeError:
            pass  # a failed blocking check fails the run; the condition must see it across runs
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, asset_selection=gold, cursor=first.cursor
        )
        found = {
            key.path[-1]: set(result.get_requested_partitions(key))
            for key in gold.resolve(defs.resolve_asset_graph())
        }
        return {name: keys for name, keys in found.items() if keys}


def test_a_complete_day_whose_checks_passed_is_requested(tmp_path):
    found = requested(tmp_path, 24, max_share=1.0)
    assert {name for name in found if name in DAILY} == DAILY
    assert all(found[name] == {YESTERDAY.strftime("%Y-%m-%d")} for name in DAILY)
    assert len(found["demand_by_zone_hour"]) == 24


def test_a_failed_blocking_check_holds_gold_back(tmp_path):
    # The same hours with passing checks request their demand partitions (see the test below).
    assert requested(tmp_path, 3, max_share=0.0) == {}


def test_a_day_with_hours_missing_is_not_requested(tmp_path):
    found = requested(tmp_path, 3, max_share=1.0)
    assert not DAILY & set(found)
    assert len(found["demand_by_zone_hour"]) == 3
