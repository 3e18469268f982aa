"""The gold marts as data: which silver tables each reads for one partition, and how its rows are
replaced. The Dagster adapter (`assets.py`) is the same for all.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import ModuleType

import polars as pl

from mobility_lake.gold import battery, demand, journeys, revenue, utilization, vehicle_status
from mobility_lake.gold.reads import silver_window
from mobility_lake.parts import part_count, spill_directory, split_by_key
from mobility_lake.storage import Lake, sql_literal

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
REFUND_LOOKBACK = timedelta(days=7)
SKIP_ROW_GROUP = 16_384  # a vehicle's rows of a day in one of ~70 row groups, not one of 2: 0.44 -> 0.03 s


@dataclass(frozen=True)
class Mart:
    name: str
    module: ModuleType  # COLUMNS, DOCS, KEY, SCHEMA
    cadence: str  # "hourly" | "daily" | "weekly"
    reads: tuple[str, ...]  # silver tables
    build: Callable[[Lake, datetime, datetime], pl.DataFrame]  # one partition's rows
    rows_of: Callable[[datetime], str]  # predicate of one partition's rows
    partition_by: tuple[str, ...]
    step: timedelta
    # Data skipping for a lookup by these columns: each write sorted by them (the key starts with them
    # within a partition) in row groups of SKIP_ROW_GROUP rows, and each closed day Z-ordered by them.
    skip_by: tuple[str, ...] = ()


def _day(start: datetime) -> date:
    return start.date()


def _demand(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    bookings = silver_window(
        lake, "booking_events", start - demand.BOOKINGS_LOOKBACK, end + demand.TRIP_LOOKAHEAD
    )
    return demand.demand_by_zone_hour(
        bookings, silver_window(lake, "vehicle_telemetry", start, end), start, end
    )


def _per_vehicle(
    telemetry: pl.LazyFrame,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    build: Callable[[pl.LazyFrame], pl.DataFrame],
) -> pl.DataFrame:
    """A one-row-per-vehicle mart built from `telemetry` in parts by vehicle, when the window holds more rows
    than one part: such a mart never looks across vehicles, so the parts' rows together are the whole's."""
    telemetry = telemetry.select(columns)
    parts = part_count(telemetry.select(pl.len()).collect().item())
    if parts == 1:
        return build(telemetry)
    with spill_directory() as spill:
        frames = [build(part) for part in split_by_key(telemetry, "vehicle_id", parts, spill)]
    return pl.concat(frames).sort(key)


def _utilization(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    return utilization.vehicle_utilization_daily(
        silver_window(lake, "vehicle_telemetry", start, end),
        silver_window(lake, "booking_events", start, end),
        _day(start),
    )


def _revenue(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    return revenue.revenue_by_vehicle_type_daily(
        silver_window(lake, "booking_events", start - REFUND_LOOKBACK, end),
        silver_window(lake, "payment_events", start, end),
        _day(start),
    )


def _battery(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    return _per_vehicle(
        silver_window(lake, "vehicle_telemetry", start, end),
        battery.TELEMETRY_COLUMNS,
        battery.KEY,
        lambda telemetry: battery.battery_health_metrics_weekly(telemetry, _day(start)),
    )


def _journeys(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    # A session of the evening before may run past midnight (it is not the day's), the day's sessions run past
    # the next midnight, and their trips and payments come later still.
    earlier, later = start - DAY, start + journeys.LOOKAHEAD
    return journeys.customer_journey_events(
        silver_window(lake, "app_events", earlier, later),
        silver_window(lake, "booking_events", earlier, later),
        silver_window(lake, "payment_events", start, later),
        _day(start),
    )


def _vehicle_status(lake: Lake, start: datetime, end: datetime) -> pl.DataFrame:
    return vehicle_status.vehicle_status_hourly(
        silver_window(lake, "vehicle_telemetry", start, end), start, end
    )


def _on(column: str) -> Callable[[datetime], str]:
    return lambda start: f"{column} = {sql_literal(start.date().isoformat())}"


def _hour_rows(start: datetime) -> str:
    return f"date = {sql_literal(start.date().isoformat())} AND hour = {start.hour}"


MARTS: tuple[Mart, ...] = (
    Mart("demand_by_zone_hour", demand, "hourly", ("booking_events", "vehicle_telemetry"), _demand, _hour_rows, ("date",), HOUR),
    Mart("vehicle_utilization_daily", utilization, "daily", ("vehicle_telemetry", "booking_events"), _utilization, _on("date"), ("date",), DAY),
    Mart("revenue_by_vehicle_type_daily", revenue, "daily", ("booking_events", "payment_events"), _revenue, _on("date"), ("date",), DAY),
    Mart("battery_health_metrics_weekly", battery, "weekly", ("vehicle_telemetry",), _battery, _on("week_start"), ("week_start",), 7 * DAY),
    Mart("vehicle_status_hourly", vehicle_status, "hourly", ("vehicle_telemetry",), _vehicle_status, _hour_rows, ("date",), HOUR, ("vehicle_id",)),
    Mart("customer_journey_events", journeys, "daily", ("app_events", "booking_events", "payment_events"), _journeys, _on("session_date"), ("session_date",), DAY),
)  # fmt: skip
MARTS_BY_NAME = {m.name: m for m in MARTS}
