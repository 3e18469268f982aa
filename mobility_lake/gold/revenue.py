"""gold.revenue_by_vehicle_type_daily: bookings, trips and money per city and vehicle type per day.

One row per (`date`, `city`, `vehicle_type`) with any activity on the UTC day: a `booking.created`,
a `booking.completed` or a `payment.refunded` event whose `event_time` falls on it. Only events of that
day are counted; rows of other days in the inputs are ignored.

- `bookings`, `completed_trips`: counts of the day's created and completed booking events, each under the
  city and vehicle type of the event itself.
- `gross_revenue_eur`: sum of the day's completed trips' fares (EUR).
- `refunds_eur`: sum of the day's refunds (EUR). A refund carries no city or vehicle type, so it is placed
  under its booking's: the latest created or completed event of that booking among *all* booking rows
  passed in (the caller passes a lookback window, since a refund usually comes days after the trip). A
  refund whose booking is not found goes to city "unknown", vehicle type "unknown", so that no refunded
  money drops out of the totals.
- `net_revenue_eur`: gross minus refunds (negative on a day of mostly refunds).
- `avg_fare_eur`: gross / completed trips; null when no trip completed.
"""

from datetime import date

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import TYPE_PREFIX, VEHICLE_TYPES
from mobility_lake.gold.exact import MILLIONTHS, exact_sum
from mobility_lake.gold.schema import mart_schema

CREATED = TYPE_PREFIX + "booking.created.v1"
COMPLETED = TYPE_PREFIX + "booking.completed.v1"
REFUNDED = TYPE_PREFIX + "payment.refunded.v1"
UNKNOWN = "unknown"
EVENT_ORDER = ("event_time", "event_source", "event_id")

COLUMNS: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "city": pl.String(),
    "vehicle_type": pl.String(),
    "bookings": pl.Int64(),
    "completed_trips": pl.Int64(),
    "gross_revenue_eur": pl.Float64(),
    "refunds_eur": pl.Float64(),
    "net_revenue_eur": pl.Float64(),
    "avg_fare_eur": pl.Float64(),
}
DOCS: dict[str, str] = {
    "date": "UTC day of the events",
    "city": "city of the booking; 'unknown' for refunds of bookings not found",
    "vehicle_type": "scooter, ebike, car or van; 'unknown' for refunds of bookings not found",
    "bookings": "number of bookings created that day (booking.created events)",
    "completed_trips": "number of trips completed that day (booking.completed events)",
    "gross_revenue_eur": "sum of the fares of the trips completed that day, EUR",
    "refunds_eur": "sum of the refunds made that day (payment.refunded), EUR, under the refunded booking's city and type",
    "net_revenue_eur": "gross_revenue_eur - refunds_eur, EUR",
    "avg_fare_eur": "gross_revenue_eur / completed_trips, EUR; null when no trip completed",
}
KEY: tuple[str, ...] = ("date", "city", "vehicle_type")

NOT_NEGATIVE = pa.Check.ge(0)
CHECKS: dict[str, list[pa.Check]] = {
    "city": [pa.Check.str_length(min_value=1)],
    "vehicle_type": [pa.Check.isin((*VEHICLE_TYPES, UNKNOWN))],
    "bookings": [NOT_NEGATIVE],
    "completed_trips": [NOT_NEGATIVE],
    "gross_revenue_eur": [NOT_NEGATIVE],
    "refunds_eur": [NOT_NEGATIVE],
    "avg_fare_eur": [NOT_NEGATIVE],
}
NULLABLE = {"avg_fare_eur"}
SCHEMA = mart_schema("revenue_by_vehicle_type_daily", COLUMNS, KEY, CHECKS, NULLABLE)


def booking_places(bookings: pl.LazyFrame) -> pl.LazyFrame:
    """Each booking's city and vehicle type, from its latest created or completed event (one row per id)."""
    return (
        bookings.filter(pl.col("event_type").is_in([CREATED, COMPLETED]))
        .group_by("booking_id")
        .agg(pl.col("city", "vehicle_type").sort_by(EVENT_ORDER).last())
    )


def revenue_by_vehicle_type_daily(bookings: pl.LazyFrame, payments: pl.LazyFrame, day: date) -> pl.DataFrame:
    """Per city and vehicle type and day: bookings, completed trips, gross, refunds, net and average fare."""
    on_day = pl.col("event_time").dt.date() == day
    trips = bookings.filter(on_day & pl.col("event_type").is_in([CREATED, COMPLETED])).select(
        "city", "vehicle_type", "event_type", fare_eur=pl.col("fare_amount_eur")
    )
    refunds = (
        payments.filter(on_day & (pl.col("event_type") == REFUNDED))
        .join(booking_places(bookings), on="booking_id", how="left")
        .select(
            pl.col("city", "vehicle_type").fill_null(UNKNOWN),
            "event_type",
            refund_eur=pl.col("amount_eur"),
        )
    )
    is_completed = pl.col("event_type") == COMPLETED
    return (
        pl.concat([trips, refunds], how="diagonal")
        .group_by("city", "vehicle_type")
        .agg(
            bookings=(pl.col("event_type") == CREATED).sum(),
            completed_trips=is_completed.sum(),
            gross_revenue_eur=exact_sum(pl.col("fare_eur").filter(is_completed), MILLIONTHS),
            refunds_eur=exact_sum(pl.col("refund_eur"), MILLIONTHS),
        )
        .with_columns(
            net_revenue_eur=pl.col("gross_revenue_eur") - pl.col("refunds_eur"),
            avg_fare_eur=pl.when(pl.col("completed_trips") > 0).then(
                pl.col("gross_revenue_eur") / pl.col("completed_trips")
            ),
            date=pl.lit(day, dtype=pl.Date()),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        .sort(KEY)
        .collect()
    )
