"""vehicle_utilization_daily on a hand-built day of silver rows; expected figures worked out by hand."""

from datetime import UTC, date, datetime

import pandera.errors
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mobility_lake.gold.utilization import COLUMNS, SCHEMA, vehicle_utilization_daily
from mobility_lake_tests.gold.rows import silver

DAY = date(2026, 3, 10)
COMPLETED = "com.mobilitycorp.booking.completed.v1"
CREATED = "com.mobilitycorp.booking.created.v1"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def reading(vehicle_id: str, vehicle_type: str, city: str, time: datetime) -> dict:
    return {"vehicle_id": vehicle_id, "vehicle_type": vehicle_type, "city": city, "event_time": time}


def trip(vehicle_id: str, vehicle_type: str, city: str, time: datetime, minutes, km, eur, **extra) -> dict:
    return {
        "event_type": COMPLETED,
        "vehicle_id": vehicle_id,
        "vehicle_type": vehicle_type,
        "city": city,
        "event_time": time,
        "trip_duration_min": minutes,
        "distance_km": km,
        "fare_amount_eur": eur,
    } | extra


TELEMETRY = [
    # AB000001: latest reading of the day is in Potsdam; the Munich reading is the next day's.
    reading("AB000001", "scooter", "Berlin", at(10, 8)),
    reading("AB000001", "scooter", "Potsdam", at(10, 20)),
    reading("AB000001", "scooter", "Munich", at(11, 0)),
    # CD000002: seen, never booked.
    reading("CD000002", "car", "Berlin", at(10, 12)),
    # GH000004: seen only the day before: not in the day's output.
    reading("GH000004", "ebike", "Berlin", at(9, 23, 59)),
]
BOOKINGS = [
    trip("AB000001", "scooter", "Berlin", at(10, 9), 30.0, 4.0, 5.0),
    trip("AB000001", "scooter", "Potsdam", at(10, 19), 45.5, 6.5, 7.25),
    trip("AB000001", "scooter", "Berlin", at(9, 23, 50), 100.0, 9.0, 9.0),  # the day before: ignored
    {"event_type": CREATED, "vehicle_id": "AB000001", "event_time": at(10, 18, 50)},  # not a trip
    # EF000003: no telemetry; two trips adding up to more than a day; latest trip is in Berlin.
    trip("EF000003", "van", "Munich", at(10, 10), 1000.0, 50.0, 80.0),
    trip("EF000003", "van", "Berlin", at(10, 22), 600.0, 30.0, 40.0),
]


def expected(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def test_a_day_of_telemetry_and_trips_gives_one_row_per_vehicle_seen():
    result = vehicle_utilization_daily(
        silver("vehicle_telemetry", TELEMETRY), silver("booking_events", BOOKINGS), DAY
    )

    assert_frame_equal(
        result,
        expected(
            [
                # AB000001: trips 9:00 and 19:00 only; 30 + 45.5 = 75.5 min, 4.0 + 6.5 = 10.5 km,
                # 5.0 + 7.25 = 12.25 EUR; 75.5 / 1440 = 0.05243055...; city of the 20:00 reading.
                (DAY, "AB000001", "scooter", "Potsdam", 2, 75.5, 10.5, 12.25, 0.0524305556),
                # CD000002: telemetry only: zeros, not nulls.
                (DAY, "CD000002", "car", "Berlin", 0, 0.0, 0.0, 0.0, 0.0),
                # EF000003: 1000 + 600 = 1600 min > 1440: utilization capped at 1.0; 50 + 30 = 80 km,
                # 80 + 40 = 120 EUR; city and type of the 22:00 trip.
                (DAY, "EF000003", "van", "Berlin", 2, 1600.0, 80.0, 120.0, 1.0),
            ]
        ),
    )
    SCHEMA.validate(result)


def test_rows_of_other_days_only_give_an_empty_day():
    result = vehicle_utilization_daily(
        silver("vehicle_telemetry", TELEMETRY), silver("booking_events", BOOKINGS), date(2026, 3, 12)
    )

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)


def test_empty_inputs_give_an_empty_frame_with_the_columns():
    result = vehicle_utilization_daily(silver("vehicle_telemetry", []), silver("booking_events", []), DAY)

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)
    SCHEMA.validate(result)


def test_schema_rejects_a_share_above_one_and_a_repeated_key():
    row = (DAY, "AB000001", "scooter", "Berlin", 1, 10.0, 1.0, 1.0, 0.5)
    with pytest.raises(pandera.errors.SchemaError):
        SCHEMA.validate(expected([row[:-1] + (1.5,)]))
    with pytest.raises(pandera.errors.SchemaError):
        SCHEMA.validate(expected([row, row]))


def test_readings_at_the_same_latest_time_are_told_apart_by_source_then_id():
    noon = at(10, 12)
    telemetry = silver(
        "vehicle_telemetry",
        [
            reading("AB000001", "scooter", "Zurich", at(10, 11)) | {"event_source": "/vehicles/z"},  # earlier
            reading("AB000001", "scooter", "Berlin", noon)
            | {"event_source": "/vehicles/b", "event_id": "e9"},
            reading("AB000001", "scooter", "Hamburg", noon)
            | {"event_source": "/vehicles/c", "event_id": "e1"},
            reading("AB000001", "scooter", "Bremen", noon)
            | {"event_source": "/vehicles/c", "event_id": "e0"},
            reading("CD000002", "car", "Munich", noon) | {"event_source": "/vehicles/a", "event_id": "e5"},
            reading("CD000002", "car", "Dresden", noon) | {"event_source": "/vehicles/a", "event_id": "e6"},
        ],
    )
    result = vehicle_utilization_daily(telemetry, silver("booking_events", []), DAY)
    assert result.select("vehicle_id", "city").rows() == [("AB000001", "Hamburg"), ("CD000002", "Dresden")]
