"""gold.vehicle_utilization_daily: how much of each day each vehicle spent on paid trips.

One row per (`date`, `vehicle_id`) for every vehicle seen that day: a telemetry reading, or a
`booking.completed` event, whose `event_time` falls on the UTC day. Rows of other days in the inputs are
ignored, so callers may pass a wider window.

- `vehicle_type`, `city`: from the vehicle's latest telemetry reading of the day (a vehicle moved by truck
  counts where it ended up); a vehicle with trips but no telemetry takes them from its latest completed trip.
- `trips`, `minutes_in_use`, `distance_km`, `revenue_eur`: count and sums over the day's completed trips,
  attributed to the day the trip completed (a trip across midnight counts wholly on its second day). A
  vehicle without trips gets zeros, not nulls: "idle" is a fact, not missing data.
- `utilization`: `minutes_in_use / 1440`, capped at 1.0 (overlapping or clock-skewed trips can add up to
  more than a day).

Ties in `event_time` are broken by (`event_source`, `event_id`) so re-runs give the same row.
"""

from datetime import date

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import TYPE_PREFIX, VEHICLE_TYPES
from mobility_lake.gold.exact import MILLIONTHS, exact_sum
from mobility_lake.gold.schema import mart_schema

COMPLETED = TYPE_PREFIX + "booking.completed.v1"
MINUTES_PER_DAY = 24 * 60
EVENT_ORDER = ("event_time", "event_source", "event_id")

COLUMNS: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "vehicle_id": pl.String(),
    "vehicle_type": pl.String(),
    "city": pl.String(),
    "trips": pl.Int64(),
    "minutes_in_use": pl.Float64(),
    "distance_km": pl.Float64(),
    "revenue_eur": pl.Float64(),
    "utilization": pl.Float64(),
}
DOCS: dict[str, str] = {
    "date": "UTC day of the events",
    "vehicle_id": "vehicle identifier (two letters, six digits)",
    "vehicle_type": "scooter, ebike, car or van, from the latest reading of the day (else the latest trip)",
    "city": "city of the latest reading of the day (else of the latest completed trip)",
    "trips": "number of trips completed that day (booking.completed events)",
    "minutes_in_use": "sum of those trips' durations, minutes",
    "distance_km": "sum of those trips' distances, km",
    "revenue_eur": "sum of those trips' fares, EUR",
    "utilization": "share of the day in use: minutes_in_use / 1440, capped at 1.0",
}
KEY: tuple[str, ...] = ("date", "vehicle_id")

NOT_NEGATIVE = pa.Check.ge(0)
CHECKS: dict[str, list[pa.Check]] = {
    "vehicle_type": [pa.Check.isin(VEHICLE_TYPES)],
    "trips": [NOT_NEGATIVE],
    "minutes_in_use": [NOT_NEGATIVE],
    "distance_km": [NOT_NEGATIVE],
    "revenue_eur": [NOT_NEGATIVE],
    "utilization": [pa.Check.in_range(0, 1)],
}
SCHEMA = mart_schema("vehicle_utilization_daily", COLUMNS, KEY, CHECKS)


def _latest(column: str) -> pl.Expr:
    return pl.col(column).sort_by(EVENT_ORDER).last()


def latest_reading(telemetry: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """Each vehicle's `columns` from its latest reading (ties in time broken by source, then id).

    Two streaming passes that hold one row per vehicle, not the readings: each vehicle's latest time, then
    the few readings at exactly that time. A day of a large fleet is never held or split."""
    latest = telemetry.group_by("vehicle_id").agg(pl.col("event_time").max()).collect(engine="streaming")
    at_latest = (
        telemetry.select("vehicle_id", *EVENT_ORDER, *columns)
        .join(latest.lazy(), on=["vehicle_id", "event_time"], how="semi")
        .collect(engine="streaming")
    )
    return at_latest.lazy().group_by("vehicle_id").agg(_latest(c) for c in columns)


def vehicle_utilization_daily(telemetry: pl.LazyFrame, bookings: pl.LazyFrame, day: date) -> pl.DataFrame:
    """Per vehicle and day: where it was, its completed trips and the share of the day they took."""
    on_day = pl.col("event_time").dt.date() == day
    seen = latest_reading(telemetry.filter(on_day), ("vehicle_type", "city"))
    trips = (
        bookings.filter(on_day & (pl.col("event_type") == COMPLETED))
        .group_by("vehicle_id")
        .agg(
            trips=pl.len(),
            minutes_in_use=exact_sum(pl.col("trip_duration_min"), MILLIONTHS),
            distance_km=exact_sum(pl.col("distance_km"), MILLIONTHS),
            revenue_eur=exact_sum(pl.col("fare_amount_eur"), MILLIONTHS),
            trip_vehicle_type=_latest("vehicle_type"),
            trip_city=_latest("city"),
        )
    )
    totals = ("trips", "minutes_in_use", "distance_km", "revenue_eur")
    return (
        seen.join(trips, on="vehicle_id", how="full", coalesce=True)
        .with_columns(
            pl.coalesce("vehicle_type", "trip_vehicle_type").alias("vehicle_type"),
            pl.coalesce("city", "trip_city").alias("city"),
            pl.col(totals).fill_null(0),
            date=pl.lit(day, dtype=pl.Date()),
        )
        .with_columns(
            utilization=pl.min_horizontal(pl.col("minutes_in_use") / MINUTES_PER_DAY, pl.lit(1.0)),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        .sort(KEY)
        .collect()
    )
