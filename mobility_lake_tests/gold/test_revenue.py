"""revenue_by_vehicle_type_daily on hand-built silver rows; expected figures worked out by hand."""

from datetime import UTC, date, datetime

import polars as pl
from polars.testing import assert_frame_equal

from mobility_lake.gold.revenue import COLUMNS, SCHEMA, revenue_by_vehicle_type_daily
from mobility_lake_tests.gold.rows import silver

DAY = date(2026, 3, 10)
PREFIX = "com.mobilitycorp."


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def booking(kind: str, booking_id: str, time: datetime, city=None, vehicle_type=None, fare_eur=None) -> dict:
    return {
        "event_type": f"{PREFIX}booking.{kind}.v1",
        "booking_id": booking_id,
        "event_time": time,
        "city": city,
        "vehicle_type": vehicle_type,
        "fare_amount_eur": fare_eur,
    }


def payment(kind: str, booking_id: str, time: datetime, amount_eur: float) -> dict:
    return {
        "event_type": f"{PREFIX}payment.{kind}.v1",
        "booking_id": booking_id,
        "event_time": time,
        "amount_eur": amount_eur,
    }


BOOKINGS = [
    # The day before (the caller's lookback): b0 in Munich on an ebike; counted nowhere, but it places
    # the refund of b0 below.
    booking("created", "b0", at(9, 9), "Munich", "ebike"),
    booking("completed", "b0", at(9, 9, 30), "Munich", "ebike", 20.0),
    # The day.
    booking("created", "b1", at(10, 10), "Berlin", "scooter"),
    booking("completed", "b1", at(10, 10, 30), "Berlin", "scooter", 6.0),
    booking("created", "b2", at(10, 11), "Berlin", "scooter"),
    booking("completed", "b2", at(10, 11, 40), "Berlin", "scooter", 4.5),
    booking("created", "b3", at(10, 12), "Berlin", "car"),
    booking("cancelled", "b3", at(10, 12, 5)),  # neither a booking nor a trip: not counted
    # The next day: ignored.
    booking("created", "b4", at(11, 0), "Berlin", "scooter"),
]
PAYMENTS = [
    payment("refunded", "b0", at(10, 8), 5.0),  # booking found in the lookback: Munich / ebike
    payment("refunded", "b1", at(10, 13), 1.5),  # Berlin / scooter
    payment("refunded", "b9", at(10, 14), 2.0),  # booking not found: unknown / unknown
    payment("refunded", "b1", at(9, 13), 100.0),  # the day before: ignored
    payment("captured", "b1", at(10, 10, 31), 6.0),  # not a refund: ignored
]


def test_a_day_of_bookings_and_refunds_gives_one_row_per_city_and_vehicle_type():
    result = revenue_by_vehicle_type_daily(
        silver("booking_events", BOOKINGS), silver("payment_events", PAYMENTS), DAY
    )

    expected = pl.DataFrame(
        [
            # Berlin car: b3 created, cancelled later: 1 booking, no trip, no money, no average.
            (DAY, "Berlin", "car", 1, 0, 0.0, 0.0, 0.0, None),
            # Berlin scooter: b1, b2 created and completed; gross 6.0 + 4.5 = 10.5; refund of b1 1.5;
            # net 10.5 - 1.5 = 9.0; average 10.5 / 2 = 5.25.
            (DAY, "Berlin", "scooter", 2, 2, 10.5, 1.5, 9.0, 5.25),
            # Munich ebike: only the refund of b0 (booked the day before): net 0 - 5.0.
            (DAY, "Munich", "ebike", 0, 0, 0.0, 5.0, -5.0, None),
            # The refund of b9, whose booking is nowhere in the input.
            (DAY, "unknown", "unknown", 0, 0, 0.0, 2.0, -2.0, None),
        ],
        schema=COLUMNS,
        orient="row",
    )
    assert_frame_equal(result, expected)
    SCHEMA.validate(result)


def test_refunds_are_placed_by_bookings_outside_the_day_but_never_counted_twice():
    # b1 created and completed the day before; two refunds today: one row, refunds 1.0 + 2.5 = 3.5.
    bookings = [
        booking("created", "b1", at(9, 10), "Berlin", "scooter"),
        booking("completed", "b1", at(9, 10, 30), "Berlin", "scooter", 6.0),
    ]
    payments = [payment("refunded", "b1", at(10, 9), 1.0), payment("refunded", "b1", at(10, 10), 2.5)]

    result = revenue_by_vehicle_type_daily(
        silver("booking_events", bookings), silver("payment_events", payments), DAY
    )

    assert result.rows() == [(DAY, "Berlin", "scooter", 0, 0, 0.0, 3.5, -3.5, None)]


def test_empty_inputs_give_an_empty_frame_with_the_columns():
    result = revenue_by_vehicle_type_daily(silver("booking_events", []), silver("payment_events", []), DAY)

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)
    SCHEMA.validate(result)
