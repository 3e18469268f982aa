"""gold.demand_by_zone_hour: what was asked for, and what was on offer, per zone, vehicle type and hour.

One row per (`zone_id`, `vehicle_type`, `date`, `hour`) for each whole UTC hour in [start, end) with any
activity: a `booking.created` event, a completed trip that started in the hour, or a telemetry reading.
Rows whose `zone_id` is null (a point inside no operating zone) are left out: demand is planned per zone, and
a "no zone" bucket summed over whole cities would only mislead the forecast.

- `booking_count`, `unique_users`: the hour's `booking.created` events (by `event_time`) and their distinct
  users, under the event's own zone and vehicle type.
- `avg_trip_duration`, `total_revenue`: `booking.completed` events whose `started_at` is in the hour,
  whenever they completed. A trip is placed in its pick-up zone: the zone of the booking's
  `booking.created` when that is among the `bookings` passed in (silver zones a completed event by where it
  ended), else the completed event's own zone. Its vehicle type is the completed event's.
- `available_vehicles`, `avg_battery_level`: distinct vehicles with status `available`, and the mean battery
  level over every reading, of the hour's telemetry.
- `booking_count_7d_avg`, `booking_count_28d_avg`: mean `booking_count` of the same zone, vehicle type and
  hour of day over the 7 (28) days ending with the row's day, days without bookings counting as 0.
- `utilization_rate`: `100 * booking_count / available_vehicles`; null when no vehicle was available.

Input contract: `bookings` covers at least [start - BOOKINGS_LOOKBACK, end + TRIP_LOOKAHEAD): 27 days back
for the trailing averages, 24 hours ahead for trips that started in the window but completed after it.
Created bookings outside [start - 27 days, end) are never counted; `telemetry` is read for [start, end).
Both may hold more rows than that.
"""

from datetime import UTC, datetime, timedelta

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import TYPE_PREFIX, VEHICLE_TYPES
from mobility_lake.gold.exact import MILLIONTHS, exact_mean, exact_sum
from mobility_lake.gold.schema import mart_schema

CREATED = TYPE_PREFIX + "booking.created.v1"
COMPLETED = TYPE_PREFIX + "booking.completed.v1"
AVAILABLE = "available"
EVENT_ORDER = ("event_time", "event_source", "event_id")
SHORT_DAYS, LONG_DAYS = 7, 28
BOOKINGS_LOOKBACK = timedelta(days=LONG_DAYS - 1)
TRIP_LOOKAHEAD = timedelta(hours=24)

COLUMNS: dict[str, pl.DataType] = {
    "zone_id": pl.String(),
    "vehicle_type": pl.String(),
    "date": pl.Date(),
    "hour": pl.Int8(),
    "booking_count": pl.Int64(),
    "unique_users": pl.Int64(),
    "avg_trip_duration": pl.Float64(),
    "total_revenue": pl.Float64(),
    "available_vehicles": pl.Int64(),
    "avg_battery_level": pl.Float64(),
    "booking_count_7d_avg": pl.Float64(),
    "booking_count_28d_avg": pl.Float64(),
    "utilization_rate": pl.Float64(),
}
DOCS: dict[str, str] = {
    "zone_id": "operating zone (never null: activity outside every zone is left out)",
    "vehicle_type": "scooter, ebike, car or van",
    "date": "UTC day of the hour",
    "hour": "UTC hour of day, 0-23",
    "booking_count": "bookings created in the hour (booking.created events)",
    "unique_users": "distinct users among those bookings",
    "avg_trip_duration": "mean duration of the completed trips that started in the hour here (pick-up zone), minutes; null when none",
    "total_revenue": "sum of the fares of those trips, EUR; 0.0 when none",
    "available_vehicles": "distinct vehicles seen in the hour's telemetry with status available",
    "avg_battery_level": "mean battery level of the hour's telemetry readings, percent; null when none",
    "booking_count_7d_avg": "mean booking_count of this zone, type and hour of day over the 7 days ending with date (missing days count 0)",
    "booking_count_28d_avg": "mean booking_count of this zone, type and hour of day over the 28 days ending with date (missing days count 0)",
    "utilization_rate": "100 * booking_count / available_vehicles; null when no vehicle was available",
}
KEY: tuple[str, ...] = ("zone_id", "vehicle_type", "date", "hour")

NOT_NEGATIVE = pa.Check.ge(0)
CHECKS: dict[str, list[pa.Check]] = {
    "vehicle_type": [pa.Check.isin(VEHICLE_TYPES)],
    "hour": [pa.Check.in_range(0, 23)],
    "booking_count": [NOT_NEGATIVE],
    "unique_users": [NOT_NEGATIVE],
    "avg_trip_duration": [NOT_NEGATIVE],
    "total_revenue": [NOT_NEGATIVE],
    "available_vehicles": [NOT_NEGATIVE],
    "avg_battery_level": [pa.Check.in_range(0, 100)],
    "booking_count_7d_avg": [NOT_NEGATIVE],
    "booking_count_28d_avg": [NOT_NEGATIVE],
    "utilization_rate": [NOT_NEGATIVE],
}
NULLABLE = {"avg_trip_duration", "avg_battery_level", "utilization_rate"}


def _users_within_bookings(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col("unique_users") <= pl.col("booking_count"))


SCHEMA = mart_schema(
    "demand_by_zone_hour",
    COLUMNS,
    KEY,
    CHECKS,
    NULLABLE,
    frame_checks=[pa.Check(_users_within_bookings, name="unique_users_le_booking_count")],
)

SLOT = ("zone_id", "vehicle_type", "slot")  # slot: the UTC hour as a timestamp, until split into date, hour


def check_hour_window(start: datetime, end: datetime) -> None:
    """ValueError unless [start, end) runs between whole UTC hours: anything else would split an hour's row."""
    for name, moment in (("start", start), ("end", end)):
        if moment.utcoffset() != timedelta(0) or moment.minute or moment.second or moment.microsecond:
            raise ValueError(f"{name} must be a whole hour in UTC, got {moment.isoformat()}")
    if end < start:
        raise ValueError(f"end must not be before start, got [{start.isoformat()}, {end.isoformat()})")


def _in(column: str, start: datetime, end: datetime) -> pl.Expr:
    return (pl.col(column) >= start) & (pl.col(column) < end)


def _slot(column: str) -> pl.Expr:
    return pl.col(column).dt.truncate("1h").alias("slot")


def bookings_per_hour(bookings: pl.LazyFrame, start: datetime, end: datetime) -> pl.LazyFrame:
    """Created bookings and their distinct users per zone, type and hour, for the hours in [start, end)."""
    return (
        bookings.filter(
            pl.col("event_type") == CREATED, _in("event_time", start, end), pl.col("zone_id").is_not_null()
        )
        .group_by("zone_id", "vehicle_type", _slot("event_time"))
        .agg(booking_count=pl.len(), unique_users=pl.col("user_id").drop_nulls().n_unique())
    )


def trips_per_hour(bookings: pl.LazyFrame, start: datetime, end: datetime) -> pl.LazyFrame:
    """Completed trips that started in [start, end), per pick-up zone, type and start hour."""
    pickups = (
        bookings.filter(pl.col("event_type") == CREATED)
        .group_by("booking_id")
        .agg(pickup_zone=pl.col("zone_id").sort_by(EVENT_ORDER).first(), pickup_found=pl.lit(True))
    )
    return (
        bookings.filter(pl.col("event_type") == COMPLETED, _in("started_at", start, end))
        .join(pickups, on="booking_id", how="left")
        .with_columns(
            zone_id=pl.when(pl.col("pickup_found")).then(pl.col("pickup_zone")).otherwise(pl.col("zone_id"))
        )
        .filter(pl.col("zone_id").is_not_null())
        .group_by("zone_id", "vehicle_type", _slot("started_at"))
        .agg(
            avg_trip_duration=exact_mean(pl.col("trip_duration_min"), MILLIONTHS),
            total_revenue=exact_sum(pl.col("fare_amount_eur"), MILLIONTHS),
        )
    )


def fleet_per_hour(telemetry: pl.LazyFrame, start: datetime, end: datetime) -> pl.LazyFrame:
    """Available vehicles and mean battery level per zone, type and hour, from telemetry in [start, end).

    Two plain aggregations joined, rather than one with a filter inside it: polars streams these, while a
    filtered aggregation makes it hold every reading of the hour (11.7 GiB for 180M readings)."""
    readings = telemetry.filter(_in("event_time", start, end), pl.col("zone_id").is_not_null()).with_columns(
        _slot("event_time")
    )
    available = (
        readings.filter(pl.col("status") == AVAILABLE)
        .group_by(SLOT)
        .agg(available_vehicles=pl.col("vehicle_id").n_unique())
    )
    return (
        readings.group_by(SLOT)
        .agg(avg_battery_level=exact_mean(pl.col("battery_level"), MILLIONTHS))
        .join(available, on=SLOT, how="left")
        .with_columns(pl.col("available_vehicles").fill_null(0))
    )


def trailing_averages(rows: pl.LazyFrame, counts: pl.LazyFrame) -> pl.LazyFrame:
    """Per row: mean booking_count of its zone, type and hour of day over the 7 and 28 days ending that day.

    Each row meets the counts of the same zone, type and hour of day; a count `days_back` days earlier
    adds to the sums it falls in. Days with no count add nothing, which is counting them as 0.
    """
    day = pl.col("slot").dt.date()
    hour_of_day = pl.col("slot").dt.hour()
    days_back = (day - pl.col("count_slot").dt.date()).dt.total_days()
    count = pl.col("booking_count")
    return (
        rows.with_columns(hour_of_day=hour_of_day)
        .join(
            counts.select(
                "zone_id", "vehicle_type", "booking_count", count_slot="slot", hour_of_day=hour_of_day
            ),
            on=("zone_id", "vehicle_type", "hour_of_day"),
            how="left",
        )
        .group_by(SLOT)
        .agg(
            booking_count_7d_avg=count.filter(days_back.is_between(0, SHORT_DAYS - 1)).sum() / SHORT_DAYS,
            booking_count_28d_avg=count.filter(days_back.is_between(0, LONG_DAYS - 1)).sum() / LONG_DAYS,
        )
    )


def demand_by_zone_hour(
    bookings: pl.LazyFrame, telemetry: pl.LazyFrame, start: datetime, end: datetime
) -> pl.DataFrame:
    """Per zone, vehicle type and hour in [start, end): bookings, trips, fleet on offer and trailing demand."""
    check_hour_window(start, end)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    counts = bookings_per_hour(bookings, start - BOOKINGS_LOOKBACK, end)
    in_window = counts.filter(_in("slot", start, end))
    trips = trips_per_hour(bookings, start, end)
    fleet = fleet_per_hour(telemetry, start, end)
    rows = pl.concat([frame.select(SLOT) for frame in (in_window, trips, fleet)]).unique()
    available = pl.col("available_vehicles")
    return (
        rows.join(in_window, on=SLOT, how="left")
        .join(trips, on=SLOT, how="left")
        .join(fleet, on=SLOT, how="left")
        .join(trailing_averages(rows, counts), on=SLOT, how="left")
        .with_columns(
            pl.col("booking_count", "unique_users", "available_vehicles", "total_revenue").fill_null(0),
            date=pl.col("slot").dt.date(),
            hour=pl.col("slot").dt.hour(),
        )
        .with_columns(
            utilization_rate=pl.when(available > 0).then(100 * pl.col("booking_count") / available),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        .sort(KEY)
        .collect()
    )


def hours_fed_by(bookings: pl.LazyFrame, hour: datetime) -> set[datetime]:
    """The demand hours whose rows the booking events of `hour` feed: the hour itself, the same hour of the
    next 27 days (trailing averages), the start hours of the trips its `booking.completed` events complete,
    and the start hours of the trips its `booking.created` events give a pick-up zone to.

    `bookings` must cover [hour, hour + 1 h + TRIP_LOOKAHEAD): a trip is reported completed within
    TRIP_LOOKAHEAD of its start (the same bound `demand_by_zone_hour` reads with)."""
    check_hour_window(hour, hour)
    in_hour = _in("event_time", hour, hour + timedelta(hours=1))
    created_here = bookings.filter(in_hour, pl.col("event_type") == CREATED).select("booking_id")
    trips = bookings.filter(
        pl.col("event_type") == COMPLETED,
        in_hour | pl.col("booking_id").is_in(created_here.collect()["booking_id"].implode()),
    )
    starts = trips.select(pl.col("started_at").dt.truncate("1h").unique()).collect()["started_at"]
    trailing = {hour + timedelta(days=day) for day in range(LONG_DAYS)}
    return trailing | {s for s in starts.to_list() if s is not None}
