"""demand_by_zone_hour on hand-built silver rows; expected figures worked out by hand."""

from datetime import UTC, date, datetime, timedelta

import pandera.errors
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mobility_lake.gold.demand import (
    BOOKINGS_LOOKBACK,
    COLUMNS,
    SCHEMA,
    TRIP_LOOKAHEAD,
    demand_by_zone_hour,
)
from mobility_lake_tests.gold.rows import silver

DAY = date(2026, 3, 10)
CREATED = "com.mobilitycorp.booking.created.v1"
COMPLETED = "com.mobilitycorp.booking.completed.v1"


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


START, END = at(10, 8), at(10, 9)  # the hour 2026-03-10 08:00 UTC


def created(booking_id: str, time: datetime, zone: str | None, vehicle_type: str, user: str = "u1") -> dict:
    return {
        "event_type": CREATED,
        "booking_id": booking_id,
        "event_time": time,
        "zone_id": zone,
        "vehicle_type": vehicle_type,
        "user_id": user,
    }


def completed(booking_id: str, time: datetime, zone, vehicle_type: str, started, minutes, eur) -> dict:
    """A completed trip; `zone` is the event's own zone (silver zones it by where the trip ended)."""
    return {
        "event_type": COMPLETED,
        "booking_id": booking_id,
        "event_time": time,
        "zone_id": zone,
        "vehicle_type": vehicle_type,
        "started_at": started,
        "trip_duration_min": minutes,
        "fare_amount_eur": eur,
    }


def reading(
    vehicle_id: str, time: datetime, zone: str | None, vehicle_type: str, status: str, battery
) -> dict:
    return {
        "vehicle_id": vehicle_id,
        "event_time": time,
        "zone_id": zone,
        "vehicle_type": vehicle_type,
        "status": status,
        "battery_level": battery,
    }


def demand(bookings: list[dict], telemetry: list[dict], start=START, end=END) -> pl.DataFrame:
    result = demand_by_zone_hour(
        silver("booking_events", bookings), silver("vehicle_telemetry", telemetry), start, end
    )
    SCHEMA.validate(result)
    return result


def expected(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def test_an_hour_gives_one_row_per_zone_and_vehicle_type_with_activity():
    bookings = [
        created("b1", at(10, 8, 5), "Z1", "scooter", "u1"),
        created("b2", at(10, 8, 20), "Z1", "scooter", "u1"),  # the same user again
        created("b3", at(10, 8, 40), "Z1", "scooter", "u2"),
        created("b4", at(10, 8, 10), "Z2", "ebike", "u3"),
        created("b5", at(10, 9, 0), "Z1", "scooter", "u4"),  # the next hour: not counted
        # Trips. b1 and b2 ended in Z2 and Z1, but were picked up in Z1 (their created events).
        completed("b1", at(10, 8, 25), "Z2", "scooter", at(10, 8, 6), 19.0, 4.0),
        completed("b2", at(10, 8, 50), "Z1", "scooter", at(10, 8, 21), 29.0, 6.0),
        # b4 started in the hour and completed in the next one: counted at 8:00, in its pick-up zone Z2.
        completed("b4", at(10, 9, 30), "Z1", "ebike", at(10, 8, 15), 75.0, 12.5),
        # b7's created event is not in the input: placed by its own zone, Z2.
        completed("b7", at(10, 8, 40), "Z2", "scooter", at(10, 8, 30), 10.0, 3.0),
        # b8 started the hour before: not counted, though it completed in the hour.
        completed("b8", at(10, 8, 10), "Z1", "scooter", at(10, 7, 50), 20.0, 5.0),
    ]
    telemetry = [
        reading("AB000001", at(10, 8, 0), "Z1", "scooter", "available", 80.0),
        reading("AB000001", at(10, 8, 30), "Z1", "scooter", "available", 70.0),  # same vehicle: counted once
        reading("AB000002", at(10, 8, 15), "Z1", "scooter", "in_use", 50.0),
        reading("CD000003", at(10, 8, 20), "Z2", "ebike", "charging", 20.0),
        reading("EF000004", at(10, 8, 45), "Z1", "car", "available", 90.0),
        reading("AB000001", at(10, 9, 5), "Z1", "scooter", "available", 10.0),  # the next hour: ignored
    ]

    result = demand(bookings, telemetry)

    assert_frame_equal(
        result,
        expected(
            [
                # Z1 car: telemetry only: no bookings, no trips; 1 available; 100 * 0 / 1 = 0.0.
                ("Z1", "car", DAY, 8, 0, 0, None, 0.0, 1, 90.0, 0.0, 0.0, 0.0),
                # Z1 scooter: b1, b2, b3 by u1, u1, u2: 3 bookings, 2 users; trips b1, b2:
                # (19 + 29) / 2 = 24.0 min, 4.0 + 6.0 = 10.0 EUR; available AB000001 only: 1;
                # battery (80 + 70 + 50) / 3 = 66.666...; averages 3 / 7 and 3 / 28; 100 * 3 / 1 = 300.0.
                ("Z1", "scooter", DAY, 8, 3, 2, 24.0, 10.0, 1, 200 / 3, 3 / 7, 3 / 28, 300.0),
                # Z2 ebike: b4; its trip 75 min, 12.5 EUR; CD000003 charging: none available, so
                # utilization null; battery 20.0; averages 1 / 7 and 1 / 28.
                ("Z2", "ebike", DAY, 8, 1, 1, 75.0, 12.5, 0, 20.0, 1 / 7, 1 / 28, None),
                # Z2 scooter: only the trip b7: 10 min, 3.0 EUR; no telemetry: battery and utilization null.
                ("Z2", "scooter", DAY, 8, 0, 0, 10.0, 3.0, 0, None, 0.0, 0.0, None),
            ]
        ),
    )


def test_trailing_averages_count_missing_days_as_zero():
    bookings = [
        created("b1", at(10, 8, 10), "Z1", "scooter"),  # d: 1
        created("b2", at(9, 8, 30), "Z1", "scooter"),  # d-1: 2
        created("b3", at(9, 8, 31), "Z1", "scooter"),
        created("b4", at(4, 8, 0), "Z1", "scooter"),  # d-6: 1, last day of the 7
        *(created(f"c{i}", at(3, 8, 59), "Z1", "scooter") for i in range(4)),  # d-7: 4, in the 28 only
        *(created(f"f{i}", at(11, 8, 0, month=2), "Z1", "scooter") for i in range(5)),  # d-27: 5
        *(created(f"g{i}", at(10, 8, 0, month=2), "Z1", "scooter") for i in range(9)),  # d-28: outside
        created("h1", at(9, 9, 0), "Z1", "scooter"),  # another hour of day
        created("h2", at(9, 8, 0), "Z2", "scooter"),  # another zone (no activity on d: no row)
        created("h3", at(9, 8, 0), "Z1", "ebike"),  # another type: Z1 ebike's own average
        created("h4", at(10, 9, 0), "Z1", "scooter"),  # after the window
    ]
    telemetry = [reading("CD000001", at(10, 8, 5), "Z1", "ebike", "available", 60.0)]

    result = demand(bookings, telemetry)

    assert_frame_equal(
        result,
        expected(
            [
                # Z1 ebike: no booking on d but one on d-1 at 8:00: 1 / 7, 1 / 28; 100 * 0 / 1 = 0.0.
                ("Z1", "ebike", DAY, 8, 0, 0, None, 0.0, 1, 60.0, 1 / 7, 1 / 28, 0.0),
                # Z1 scooter: 7 days d-6..d: (1 + 2 + 0 + 0 + 0 + 0 + 1) / 7 = 4 / 7;
                # 28 days d-27..d: (1 + 2 + 1 + 4 + 5) / 28 = 13 / 28; the 9 of d-28 are not counted.
                ("Z1", "scooter", DAY, 8, 1, 1, None, 0.0, 0, None, 4 / 7, 13 / 28, None),
            ]
        ),
    )


def test_utilization_is_null_when_no_vehicle_is_available():
    bookings = [created("b1", at(10, 8, 10), "Z1", "car"), created("b2", at(10, 8, 10), "Z2", "van")]
    telemetry = [reading("EF000001", at(10, 8, 0), "Z1", "car", "in_use", 40.0)]  # Z2 van: no telemetry

    result = demand(bookings, telemetry)

    # Z1 car: 1 booking, 0 available (the only car is in use): null, not infinity; Z2 van likewise.
    assert result.select("zone_id", "available_vehicles", "avg_battery_level", "utilization_rate").rows() == [
        ("Z1", 0, 40.0, None),
        ("Z2", 0, None, None),
    ]


def test_activity_outside_every_zone_is_left_out():
    bookings = [
        created("b1", at(10, 8, 10), None, "scooter"),
        # Picked up outside every zone, ended in Z1: its pick-up decides, so it is left out too.
        created("b2", at(10, 8, 20), None, "scooter"),
        completed("b2", at(10, 8, 40), "Z1", "scooter", at(10, 8, 21), 19.0, 4.0),
    ]
    telemetry = [reading("AB000001", at(10, 8, 0), None, "scooter", "available", 80.0)]

    result = demand(bookings, telemetry)

    assert result.is_empty()


def test_two_hours_in_one_call_give_a_row_per_hour():
    bookings = [
        created("b1", at(10, 8, 10), "Z1", "scooter", "u1"),
        created("b2", at(10, 9, 20), "Z1", "scooter", "u2"),
        created("b3", at(10, 9, 40), "Z1", "scooter", "u3"),
        created("b4", at(10, 10, 0), "Z1", "scooter", "u4"),  # at the window's end: not counted
        created("b5", at(9, 9, 5), "Z1", "scooter", "u5"),  # d-1 at 9:00: in the 9:00 averages only
        completed("b1", at(10, 9, 10), "Z1", "scooter", at(10, 8, 50), 20.0, 5.0),  # started at 8:00
    ]
    telemetry = [
        reading("AB000001", at(10, 8, 30), "Z1", "scooter", "available", 90.0),
        reading("AB000001", at(10, 9, 30), "Z1", "scooter", "available", 85.0),
        reading("AB000002", at(10, 9, 35), "Z1", "scooter", "available", 75.0),
    ]

    result = demand(bookings, telemetry, at(10, 8), at(10, 10))

    assert_frame_equal(
        result,
        expected(
            [
                # 8:00: b1 and its trip (20 min, 5.0 EUR); 1 available; 100 * 1 / 1 = 100.0.
                ("Z1", "scooter", DAY, 8, 1, 1, 20.0, 5.0, 1, 90.0, 1 / 7, 1 / 28, 100.0),
                # 9:00: b2, b3; 2 available, battery (85 + 75) / 2 = 80.0; 7 days: (2 + 1) / 7 = 3 / 7,
                # 28 days: 3 / 28; 100 * 2 / 2 = 100.0.
                ("Z1", "scooter", DAY, 9, 2, 2, None, 0.0, 2, 80.0, 3 / 7, 3 / 28, 100.0),
            ]
        ),
    )


def test_empty_inputs_give_an_empty_frame_with_the_columns():
    result = demand([], [])

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)


def test_the_input_window_is_27_days_back_and_24_hours_ahead():
    assert BOOKINGS_LOOKBACK == timedelta(days=27)
    assert TRIP_LOOKAHEAD == timedelta(hours=24)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(10, 8, 30), at(10, 9)),  # not a whole hour
        (datetime(2026, 3, 10, 8), datetime(2026, 3, 10, 9)),  # no time zone
        (at(10, 9), at(10, 8)),  # backwards
    ],
)
def test_a_window_not_between_whole_utc_hours_is_refused(start, end):
    with pytest.raises(ValueError, match="start|end"):
        demand([], [], start, end)


def test_schema_rejects_more_users_than_bookings_a_battery_above_100_and_a_repeated_key():
    row = ("Z1", "scooter", DAY, 8, 2, 1, 10.0, 5.0, 1, 50.0, 2 / 7, 2 / 28, 200.0)
    SCHEMA.validate(expected([row]))
    for bad in (row[:5] + (3,) + row[6:], row[:9] + (101.0,) + row[10:]):
        with pytest.raises(pandera.errors.SchemaError):
            SCHEMA.validate(expected([bad]))
    with pytest.raises(pandera.errors.SchemaError):
        SCHEMA.validate(expected([row, row]))
