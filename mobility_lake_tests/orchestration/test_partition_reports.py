"""An hour's figures and check verdicts are its own, whichever hours run with it: the same hour run alone
and inside a three-hour range shows the same figures and the same verdicts, and is the partition they are
recorded on."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from mobility_lake.definitions import build_definitions
from mobility_lake.partitions import hour_key
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import run_in_process

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)
MIDDLE = hour_key(START + HOUR)


def verdicts(result: dg.ExecuteInProcessResult, partition: str) -> dict[tuple[str, str], tuple[bool, dict]]:
    return {
        (e.asset_key.path[-1], e.check_name): (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
        if e.partition == partition
    }


def figures(result: dg.ExecuteInProcessResult, partition: str) -> dict[str, dict]:
    return {
        e.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
        if e.partition == partition
    }


def test_an_hour_shows_the_same_figures_and_verdicts_alone_and_inside_a_range(tmp_path):
    settings = load_settings(
        {"MOBILITY_LAKE_ROOT": str(tmp_path / "lake"), "MOBILITY_LAKE_START": "2026-03-01-00:00"}
    )
    simulate(Lake(settings), START, 3, vehicles=4, seed=8, defects=DefectShares(malformed=0.03))
    defs = build_definitions(settings)
    with dg.instance_for_test() as instance:
        assert run_in_process(defs, "bronze_hourly", START, START + 3 * HOUR, instance).success
        in_range = run_in_process(defs, "silver_hourly", START, START + 3 * HOUR, instance)
        alone = run_in_process(defs, "silver_hourly", START + HOUR, START + 2 * HOUR, instance)
    assert in_range.success and alone.success  # small hours with rejects are not judged by the share rule
    assert verdicts(in_range, MIDDLE) == verdicts(alone, MIDDLE)
    assert len(verdicts(alone, MIDDLE)) == 5 * 4  # every check of every table, for this hour
    assert figures(in_range, MIDDLE) == figures(alone, MIDDLE)
    share = verdicts(alone, MIDDLE)[("vehicle_telemetry", "quarantine_share")][1]
    assert share["bronze_rows"] == figures(alone, MIDDLE)["vehicle_telemetry"]["bronze_rows"]
    # each hour of the range shows its own rows, as the table holds them, not the range's totals
    silver = Lake(settings).read("silver", "vehicle_telemetry")
    for n in range(3):
        hour = START + n * HOUR
        shown = figures(in_range, hour_key(hour))["vehicle_telemetry"]["silver_rows"]
        assert shown == silver.filter(pl.col("event_time").dt.truncate("1h") == hour).height > 0
    assert not any(e.partition is None for e in in_range.get_asset_check_evaluations())
