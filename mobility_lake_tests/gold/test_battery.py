"""battery_health_metrics_weekly on a hand-built week of telemetry; expected figures worked out by hand."""

from datetime import UTC, date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mobility_lake.gold.battery import COLUMNS, SCHEMA, battery_health_metrics_weekly
from mobility_lake_tests.gold.rows import silver

MONDAY = date(2026, 3, 9)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def reading(vehicle_id: str, vehicle_type: str, time: datetime, status: str, battery: float) -> dict:
    return {
        "vehicle_id": vehicle_id,
        "vehicle_type": vehicle_type,
        "event_time": time,
        "status": status,
        "battery_level": battery,
    }


SCOOTER = [  # AB000001, given out of order on purpose: the mart orders by event_time itself
    reading("AB000001", "scooter", at(9, 9), "in_use", 70),  # r2
    reading("AB000001", "scooter", at(9, 8), "in_use", 80),  # r1
    reading("AB000001", "scooter", at(9, 9, 30), "in_use", 72),  # r3
    reading("AB000001", "scooter", at(9, 10), "available", 60),  # r4
    reading("AB000001", "scooter", at(9, 12), "charging", 8),  # r5
    reading("AB000001", "scooter", at(9, 14), "charging", 50),  # r6
    reading("AB000001", "scooter", at(9, 15), "available", 9),  # r7
    reading("AB000001", "scooter", at(9, 18), "charging", 20),  # r8
    # Outside the week (Sunday before, and the next Monday 00:00 exactly): ignored.
    reading("AB000001", "scooter", at(8, 23), "charging", 5),
    reading("AB000001", "scooter", at(16, 0), "in_use", 1),
]
EBIKE = [  # CD000002: the week starts while it charges; never two in_use readings in a row
    reading("CD000002", "ebike", at(10, 6), "charging", 40),
    reading("CD000002", "ebike", at(10, 7), "available", 95),
]
LAST_WEEK = [reading("EF000003", "car", at(6, 12), "in_use", 50)]  # EF000003: not seen this week


def test_a_week_of_readings_gives_one_row_per_vehicle_seen():
    result = battery_health_metrics_weekly(silver("vehicle_telemetry", SCOOTER + EBIKE + LAST_WEEK), MONDAY)

    expected = pl.DataFrame(
        [
            # AB000001: 8 readings in the week.
            #   mean (80 + 70 + 72 + 60 + 8 + 50 + 9 + 20) / 8 = 369 / 8 = 46.125; min 8.
            #   in_use pairs: r1->r2 drop 80-70 = 10 over 1 h; r2->r3 drop max(70-72, 0) = 0 over 0.5 h;
            #   drain (10 + 0) / (1 + 0.5) = 6.666... %/h.
            #   sessions: r5 (after available r4) and r8 (after available r7); r6 follows charging: 2.
            #   below 10: r5 (8) -> r6 is 2 h, r7 (9) -> r8 is 3 h: 5 h.
            (MONDAY, "AB000001", "scooter", 8, 46.125, 8.0, 10 / 1.5, 2, 5.0),
            # CD000002: mean (40 + 95) / 2 = 67.5; no in_use pair: null drain; the week's first reading
            # is charging: 1 session; never below 10: 0 h.
            (MONDAY, "CD000002", "ebike", 2, 67.5, 40.0, None, 1, 0.0),
        ],
        schema=COLUMNS,
        orient="row",
    )
    assert_frame_equal(result, expected)
    SCHEMA.validate(result)


@pytest.mark.parametrize("not_monday", [date(2026, 3, 10), date(2026, 3, 8)])  # a Tuesday; Dagster's Sunday
def test_a_week_start_that_is_not_a_monday_is_refused(not_monday):
    with pytest.raises(ValueError, match="Monday"):
        battery_health_metrics_weekly(silver("vehicle_telemetry", SCOOTER), not_monday)


def test_empty_input_gives_an_empty_frame_with_the_columns():
    result = battery_health_metrics_weekly(silver("vehicle_telemetry", []), MONDAY)

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)
    SCHEMA.validate(result)
