"""Per-vehicle marts built in vehicle parts equal the same marts built whole, through real Delta tables."""

from datetime import UTC, datetime, timedelta

import pytest
from polars.testing import assert_frame_equal

from mobility_lake import parts
from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS_BY_NAME
from mobility_lake.settings import load_settings
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

START = datetime(2026, 3, 10, 6, tzinfo=UTC)  # a Tuesday
FIRST = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path_factory.mktemp("lake"))}))
    simulate(lake, START, 2, vehicles=12, seed=4, defects=DefectShares.none())
    hours = [START, START + timedelta(hours=1)]
    for topic in TOPICS:
        ingest_hours(lake, topic.bronze_table, hours)
    for table in SILVER_TABLES:
        for hour in hours:
            materialize_hour(lake, table, hour, FIRST, reference_data())
    return lake


def test_a_mart_built_in_vehicle_parts_equals_the_mart_built_whole(lake, monkeypatch):
    mart, start = MARTS_BY_NAME["battery_health_metrics_weekly"], datetime(2026, 3, 9, tzinfo=UTC)
    whole = mart.build(lake, start, start + mart.step)
    monkeypatch.setattr(parts, "PART_ROWS", 200)
    in_parts = mart.build(lake, start, start + mart.step)
    assert lake.read("silver", "vehicle_telemetry").height > 5 * 200  # several parts
    assert whole.height == 12
    assert_frame_equal(in_parts, whole)  # floats to 1e-5: sums over parts add in another order
