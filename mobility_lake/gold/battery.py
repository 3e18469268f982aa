"""gold.battery_health_metrics_weekly: how each vehicle's battery behaved over a Monday-to-Sunday week.

One row per (`week_start`, `vehicle_id`) for every vehicle with a telemetry reading whose `event_time`
falls in [week_start 00:00 UTC, +7 days). Weeks start on Monday (ISO weeks, and Dagster's weekly partitions
with `day_offset=1`); any other `week_start` is a ValueError, so a mis-aligned partition fails loudly
instead of writing overlapping weeks. Readings outside the week are ignored.

The vehicle's readings of the week are ordered by `event_time` (ties by `event_source`, `event_id`) and
looked at in consecutive pairs; pairs never reach across the week's edges.

- `vehicle_type`: of the latest reading; `readings`, `mean_battery`, `min_battery`: over all readings (%).
- `drain_rate_pct_per_hour`: over the pairs where both readings are `in_use`, the total battery drop
  (each pair's `max(b1 - b2, 0)`: charging between readings is not negative drain) divided by the total
  hours between them. Null when there is no such pair, or they span no time.
- `charging_sessions`: readings with status `charging` whose previous reading in the week is not
  `charging`; the week's first reading counts when it is `charging` (a session carried over from the
  previous week counts in both weeks).
- `hours_below_10`: hours from each reading with `battery_level` < 10 to the vehicle's next reading (the
  last reading of the week adds nothing: when it ends is not known).
"""

from datetime import UTC, date, datetime, time, timedelta

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import VEHICLE_TYPES
from mobility_lake.gold.schema import mart_schema

EVENT_ORDER = ("event_time", "event_source", "event_id")
TELEMETRY_COLUMNS = ("vehicle_id", "vehicle_type", "battery_level", "status", *EVENT_ORDER)
LOW_BATTERY = 10.0
MICROSECONDS_PER_HOUR = 3_600_000_000

COLUMNS: dict[str, pl.DataType] = {
    "week_start": pl.Date(),
    "vehicle_id": pl.String(),
    "vehicle_type": pl.String(),
    "readings": pl.Int64(),
    "mean_battery": pl.Float64(),
    "min_battery": pl.Float64(),
    "drain_rate_pct_per_hour": pl.Float64(),
    "charging_sessions": pl.Int64(),
    "hours_below_10": pl.Float64(),
}
DOCS: dict[str, str] = {
    "week_start": "Monday (UTC) the week starts on; the week is [week_start, week_start + 7 days)",
    "vehicle_id": "vehicle identifier (two letters, six digits)",
    "vehicle_type": "scooter, ebike, car or van, from the latest reading of the week",
    "readings": "number of telemetry readings in the week",
    "mean_battery": "mean battery level over the readings, percent",
    "min_battery": "lowest battery level of the readings, percent",
    "drain_rate_pct_per_hour": "battery drop while in use, percentage points per hour; null without two consecutive in_use readings",
    "charging_sessions": "number of charging sessions started (a charging reading after a non-charging one, or first of the week)",
    "hours_below_10": "hours spent below 10 % battery, counted from each such reading to the next",
}
KEY: tuple[str, ...] = ("week_start", "vehicle_id")

NOT_NEGATIVE = pa.Check.ge(0)
PERCENT = pa.Check.in_range(0, 100)
CHECKS: dict[str, list[pa.Check]] = {
    "vehicle_type": [pa.Check.isin(VEHICLE_TYPES)],
    "readings": [pa.Check.ge(1)],
    "mean_battery": [PERCENT],
    "min_battery": [PERCENT],
    "drain_rate_pct_per_hour": [NOT_NEGATIVE],
    "charging_sessions": [NOT_NEGATIVE],
    "hours_below_10": [pa.Check.in_range(0, 7 * 24)],
}
NULLABLE = {"drain_rate_pct_per_hour"}
SCHEMA = mart_schema("battery_health_metrics_weekly", COLUMNS, KEY, CHECKS, NULLABLE)


def week_window(week_start: date) -> tuple[datetime, datetime]:
    """[Monday 00:00 UTC, next Monday 00:00 UTC); ValueError unless `week_start` is a Monday."""
    if week_start.weekday() != 0:
        raise ValueError(f"week_start must be a Monday, got {week_start.isoformat()} (a {week_start:%A})")
    start = datetime.combine(week_start, time(), tzinfo=UTC)
    return start, start + timedelta(days=7)


def _shifted(column: str, periods: int) -> pl.Expr:
    """`column` of the reading `periods` rows away if it is the same vehicle's, on rows sorted by vehicle and
    time: a plain shift with the vehicle's edges masked, which costs far less than a window over vehicles."""
    same_vehicle = pl.col("vehicle_id").shift(periods) == pl.col("vehicle_id")
    return pl.when(same_vehicle).then(pl.col(column).shift(periods))


def battery_health_metrics_weekly(telemetry: pl.LazyFrame, week_start: date) -> pl.DataFrame:
    """Per vehicle and week: battery level summary, drain while in use, charging sessions, time near empty."""
    start, end = week_window(week_start)
    status, battery = pl.col("status"), pl.col("battery_level")
    pairs = (
        telemetry.filter(pl.col("event_time") >= start, pl.col("event_time") < end)
        .sort("vehicle_id", *EVENT_ORDER)
        .with_columns(  # each reading next to the vehicle's next one (null after its last of the week)
            next_time=_shifted("event_time", -1),
            next_battery=_shifted("battery_level", -1),
            next_status=_shifted("status", -1),
            previous_status=_shifted("status", 1),
        )
        .with_columns(
            hours=(pl.col("next_time") - pl.col("event_time")).dt.total_microseconds()
            / MICROSECONDS_PER_HOUR,
            drop=(battery - pl.col("next_battery")).clip(lower_bound=0),
            in_use_pair=(status == "in_use") & (pl.col("next_status") == "in_use"),
            session_start=(status == "charging") & (pl.col("previous_status") != "charging").fill_null(True),
        )
    )
    in_use = pl.col("in_use_pair").fill_null(False)
    return (
        pairs.group_by("vehicle_id")
        .agg(
            vehicle_type=pl.col("vehicle_type").last(),  # rows are in event order within a vehicle
            readings=pl.len(),
            mean_battery=battery.mean(),
            min_battery=battery.min(),
            in_use_drop=pl.col("drop").filter(in_use).sum(),
            in_use_hours=pl.col("hours").filter(in_use).sum(),
            charging_sessions=pl.col("session_start").sum(),
            hours_below_10=pl.col("hours").filter(battery < LOW_BATTERY).sum(),
        )
        .with_columns(
            drain_rate_pct_per_hour=pl.when(pl.col("in_use_hours") > 0).then(
                pl.col("in_use_drop") / pl.col("in_use_hours")
            ),
            week_start=pl.lit(week_start, dtype=pl.Date()),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        .sort(KEY)
        .collect()
    )
