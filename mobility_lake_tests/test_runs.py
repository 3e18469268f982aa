"""`materialize` on a lake that started this hour: cadences with no complete partition yet are skipped."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from mobility_lake.definitions import build_definitions
from mobility_lake.orchestration.runs import materialize
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake


def test_a_lake_younger_than_a_day_materializes_its_hours(tmp_path):
    # Daily and weekly partitions only exist once complete: a lake started an hour ago has none (bar Monday
    # just after midnight), and the hourly work must still run.
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    env = {
        "MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
        "MOBILITY_LAKE_START": hour.strftime("%Y-%m-%d-%H:%M"),
    }
    settings = load_settings(env)
    lake = Lake(settings)
    simulate(lake, hour, 1, vehicles=4, seed=5, defects=DefectShares.none())
    with dg.DagsterInstance.ephemeral() as instance:
        results = materialize(
            build_definitions(settings), settings, hour, hour + timedelta(hours=1), instance
        )
    assert {r.job for r in results} >= {"bronze_hourly", "silver_hourly", "gold_hourly"}
    assert lake.read("silver", "vehicle_telemetry").height > 0
    assert lake.read("gold", "demand_by_zone_hour").height > 0
