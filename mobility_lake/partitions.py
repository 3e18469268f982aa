"""Partitions of the lake: hourly from MOBILITY_LAKE_START, including the hour now arriving."""

import warnings
from datetime import UTC, datetime, timedelta

import dagster as dg

from mobility_lake.settings import START_FORMAT, Settings

HOUR = timedelta(hours=1)
# Run tags that make one run cover a range of partitions (a backfill's runs, the sensors' requests).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

# A backfill runs as runs of up to 6 partitions each: few enough that a day of hours is 4 runs the queue can
# run side by side (a year, 1,460 runs, under its limits), many enough that a run's 4-5 s of start-up is
# small beside its work (a seed-scale hour is about 13 minutes of runs). The parameter is marked beta; we
# depend on it deliberately, so its warning is silenced here, once, rather than on every load.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)
PARTITIONS_PER_RUN = 6
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=PARTITIONS_PER_RUN)
# Checks carry their asset's partitions so that each hour shows its own verdict (a preview in Dagster 1.13,
# taken deliberately for the same reason as above).
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def hourly_partitions(settings: Settings) -> dg.HourlyPartitionsDefinition:
    """Hourly partitions keyed `YYYY-MM-DD-HH:MM`; `end_offset=1` so files landing now have a partition."""
    return dg.HourlyPartitionsDefinition(start_date=settings.start_key, fmt=START_FORMAT, end_offset=1)


def hours_in(start: datetime, end: datetime) -> list[datetime]:
    """The whole hours in [start, end)."""
    hours = []
    hour = start
    while hour < end:
        hours.append(hour)
        hour += HOUR
    return hours


def hour_key(hour: datetime) -> str:
    return hour.strftime(START_FORMAT)


def parse_hour_key(key: str) -> datetime:
    return datetime.strptime(key, START_FORMAT).replace(tzinfo=UTC)


def consecutive_ranges(hours: dict[datetime, set[str]]) -> list[tuple[datetime, datetime, tuple[str, ...]]]:
    """Group hours into runs of consecutive hours [start, end), each with the union of its hours' names."""
    ranges: list[tuple[datetime, datetime, tuple[str, ...]]] = []
    for hour in sorted(hours):
        if ranges and ranges[-1][1] == hour:
            start, _, names = ranges[-1]
            ranges[-1] = (start, hour + HOUR, tuple(sorted(set(names) | hours[hour])))
        else:
            ranges.append((hour, hour + HOUR, tuple(sorted(hours[hour]))))
    return ranges


def gold_hourly_partitions(settings: Settings) -> dg.HourlyPartitionsDefinition:
    """Hourly marts exist for complete hours only (no `end_offset`)."""
    return dg.HourlyPartitionsDefinition(start_date=settings.start_key, fmt=START_FORMAT)


def daily_partitions(settings: Settings) -> dg.DailyPartitionsDefinition:
    """Days from the first partition's day, including today (`end_offset=1`): a day is built from the hours
    present, says so in its metadata, and is rebuilt as its hours arrive."""
    return dg.DailyPartitionsDefinition(start_date=settings.start.strftime("%Y-%m-%d"), end_offset=1)


def weekly_partitions(settings: Settings) -> dg.WeeklyPartitionsDefinition:
    """Weeks starting Monday (`day_offset=1`; Dagster's default is Sunday), including this week, partial
    like today's day."""
    monday = settings.start - timedelta(days=settings.start.weekday())
    return dg.WeeklyPartitionsDefinition(start_date=monday.strftime("%Y-%m-%d"), day_offset=1, end_offset=1)
