"""vehicle_status_hourly on a hand-built hour of telemetry: each vehicle's last reading of the hour."""

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from mobility_lake.gold.vehicle_status import COLUMNS, SCHEMA, vehicle_status_hourly
from mobility_lake_tests.gold.rows import silver

HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)
END = HOUR + timedelta(hours=1)


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, second, tzinfo=UTC)


def reading(vehicle: str, time: datetime, status: str, battery: float, zone: str | None, **extra) -> dict:
    return {
        "vehicle_id": vehicle,
        "vehicle_type": "scooter",
        "city": "Berlin",
        "event_time": time,
        "status": status,
        "battery_level": battery,
        "zone_id": zone,
    } | extra


TELEMETRY = [
    reading("AB000001", at(7, 59, 59), "available", 90.0, "BER-01"),  # the hour before: ignored
    reading("AB000001", at(8, 0), "available", 80.0, "BER-01"),
    reading("AB000001", at(8, 30), "in_use", 75.0, "BER-02"),
    reading("AB000001", at(8, 59, 59), "available", 60.0, "BER-03"),
    reading("AB000001", at(9, 0), "charging", 59.0, "BER-03"),  # the hour after: ignored
    # CD000002: two readings at the same last time; the larger event_id ("e6" > "e5") wins, as on every re-run.
    reading("CD000002", at(8, 10), "charging", 20.0, None),
    reading("CD000002", at(8, 10), "maintenance", 21.0, None),
    reading("EF000003", at(9, 30), "available", 50.0, "BER-01"),  # seen only the next hour: no row
]


def test_the_last_reading_of_the_hour_per_vehicle():
    result = vehicle_status_hourly(silver("vehicle_telemetry", TELEMETRY), HOUR, END)
    rows = [
        ("AB000001", "BER-03", "available", 60.0, at(8, 59, 59), 3),
        ("CD000002", None, "maintenance", 21.0, at(8, 10), 2),
    ]
    expected = pl.DataFrame(
        [
            {
                "date": HOUR.date(),
                "hour": 8,
                "vehicle_id": vehicle,
                "vehicle_type": "scooter",
                "city": "Berlin",
                "zone_id": zone,
                "status": status,
                "battery_level": battery,
                "last_seen": seen,
                "readings": readings,
            }
            for vehicle, zone, status, battery, seen, readings in rows
        ],
        schema=COLUMNS,
    )
    assert_frame_equal(result, expected)
    SCHEMA.validate(result)


def test_the_order_of_the_input_does_not_change_the_rows():
    forward = vehicle_status_hourly(silver("vehicle_telemetry", TELEMETRY), HOUR, END)
    shuffled = silver("vehicle_telemetry", TELEMETRY).collect().sample(fraction=1.0, shuffle=True, seed=3)
    assert_frame_equal(vehicle_status_hourly(shuffled.lazy(), HOUR, END), forward)


def test_a_window_of_two_hours_has_a_row_per_vehicle_and_hour():
    result = vehicle_status_hourly(silver("vehicle_telemetry", TELEMETRY), HOUR, END + timedelta(hours=1))
    nine = result.filter(pl.col("hour") == 9)
    assert nine.select("vehicle_id", "status", "readings").rows() == [
        ("AB000001", "charging", 1),
        ("EF000003", "available", 1),
    ]
    assert result.filter(pl.col("hour") == 8).height == 2


def test_an_hour_without_telemetry_has_no_rows():
    result = vehicle_status_hourly(silver("vehicle_telemetry", []), HOUR, END)
    assert result.is_empty() and result.schema == pl.Schema(COLUMNS)
