"""Sensors that follow one layer's materializations and re-run exactly the hours downstream they change.

- `silver_sensor` follows bronze: the event hours that new bronze rows touch, within
  MOBILITY_LAKE_LATENESS_HOURS of their arrival, are re-run in silver.
- `demand_sensor` follows silver booking events: besides its own hour (which gold's automation re-runs),
  a booking hour feeds the demand hours whose trips it completes or zones and the same hour of the next 27
  days (trailing averages); those are re-run when they were built before.

Both read only the materializations recorded since their cursor (on a first tick, those of the lateness
window), keep each due hour as pending work until a run that started after its cause has materialized it
(whoever ran it: this sensor, the CLI, a backfill), never ask while a run covering it is in flight, and
ask again with backoff when a run fails.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, decode_new_rows
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold import demand
from mobility_lake.gold.reads import silver_window
from mobility_lake.orchestration.jobs import GOLD_JOBS, SILVER_JOB
from mobility_lake.orchestration.requests import (
    Pending,
    Work,
    decode_pending,
    done_hours,
    encode_pending,
    in_flight,
    merge_due,
    request_due,
)
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import HOUR, hour_key, hours_in, parse_hour_key
from mobility_lake.placement import due_hours
from mobility_lake.silver.tables import SILVER_BY_BRONZE, SILVER_TABLES
from mobility_lake.storage import Lake

RECORDS_PER_TICK = 500
DEMAND = "demand_by_zone_hour"
BOOKINGS = dg.AssetKey(["silver", "booking_events"])


@dataclass
class FollowCursor:
    """The last materialization read per upstream asset, and the work still pending."""

    after: dict[str, int] = field(default_factory=dict)
    pending: dict[Work, Pending] = field(default_factory=dict)

    def serialize(self) -> str:
        return json.dumps(
            {"after": dict(sorted(self.after.items())), "pending": encode_pending(self.pending)}
        )

    @classmethod
    def parse(cls, text: str | None) -> "FollowCursor":
        if not text:
            return cls()
        state = json.loads(text)
        return cls(dict(state.get("after", {})), decode_pending(state.get("pending", {})))


@dataclass(frozen=True)
class Follow:
    """What one sensor follows and how a materialization record becomes due work downstream."""

    layer: str  # of the work: "silver" or "gold"
    upstream: tuple[dg.AssetKey, ...]
    due: Callable[[dg.SensorEvaluationContext, Lake, dg.EventLogRecord], set[Work]]
    extra_tables: Callable[[dg.DagsterInstance, datetime, datetime], set[str]] | None = None


def _first_storage_id(
    instance: dg.DagsterInstance, key: dg.AssetKey, lookback: timedelta, now: datetime
) -> int:
    """Where a cursor-less sensor starts: after the last record older than the lookback."""
    older = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, before_timestamp=(now - lookback).timestamp()), limit=1
    ).records
    return older[0].storage_id if older else 0


def follow_tick(
    context: dg.SensorEvaluationContext,
    lake: Lake,
    follow: Follow,
    cursor: FollowCursor,
    now: datetime,
    lookback: timedelta,
    keys_by_job: Mapping[str, Iterable[dg.AssetKey]],
) -> tuple[list[dg.RunRequest], FollowCursor]:
    instance = context.instance
    after = dict(cursor.after)
    pending = dict(cursor.pending)
    for key in follow.upstream:
        name = key.to_user_string()
        if name not in after:
            after[name] = _first_storage_id(instance, key, lookback, now)
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after[name]),
            limit=RECORDS_PER_TICK,
            ascending=True,
        ).records
        for record in records:
            after[name] = record.storage_id
            merge_due(pending, follow.due(context, lake, record), record.timestamp, record.run_id)
    for table in {t for t, _ in pending}:
        work = {h: p for (t, h), p in pending.items() if t == table}
        for hour in done_hours(instance, dg.AssetKey([follow.layer, table]), work):
            del pending[(table, hour)]
    extra = (lambda s, e: follow.extra_tables(instance, s, e)) if follow.extra_tables else None
    busy = in_flight(instance, keys_by_job)
    requests = request_due(follow.layer, pending, busy, now.timestamp(), extra)
    return requests, FollowCursor(after, pending)


def follow_sensor(
    name: str,
    job_name: str,
    follow: Follow,
    description: str,
    lookback: timedelta,
    keys_by_job: Mapping[str, Iterable[dg.AssetKey]],
    clock: Callable[[], datetime],
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        job_name=job_name,  # its runs are runs of that job: listed under it, re-executable from the UI
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=description,
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        requests, cursor = follow_tick(
            context, lake.lake(), follow, FollowCursor.parse(context.cursor), clock(), lookback, keys_by_job
        )
        context.log.info(f"{len(cursor.pending)} hour(s) pending, {len(requests)} run(s) requested")
        return dg.SensorResult(run_requests=requests, cursor=cursor.serialize())

    return _sensor


def _never_materialized(instance: dg.DagsterInstance, start: datetime, end: datetime) -> set[str]:
    """Silver tables with an hour in [start, end) never materialized: an hour with no event of a table still
    gets its (empty) partition, so the hour is complete for gold."""
    keys = {hour_key(h) for h in hours_in(start, end)}
    missing = set()
    for table in SILVER_TABLES:
        done = instance.get_materialized_partitions(dg.AssetKey(["silver", table.name]))
        if not keys <= done:
            missing.add(table.name)
    return missing


def silver_sensor(
    partitions_def: dg.TimeWindowPartitionsDefinition,
    lateness_hours: int,
    keys_by_job: Mapping[str, Iterable[dg.AssetKey]],
    clock: Callable[[], datetime],
) -> dg.SensorDefinition:
    lateness = timedelta(hours=lateness_hours)
    silver_by_key = {bronze_key(t): SILVER_BY_BRONZE[t.bronze_table].name for t in TOPICS}

    def due(context: dg.SensorEvaluationContext, _: Lake, record: dg.EventLogRecord) -> set[Work]:
        entry = (
            record.asset_materialization.metadata.get(NEW_ROWS_METADATA)
            if record.asset_materialization
            else None
        )
        if entry is None:
            return set()
        found = due_hours(decode_new_rows(entry.value), partitions_def.start, lateness)
        if found.rows_too_late:
            context.log.warning(
                f"{found.rows_too_late} new row(s) of {record.asset_key.to_user_string()} are later than "
                f"MOBILITY_LAKE_LATENESS_HOURS ({lateness_hours} h); re-run their hours to place them"
            )
        table = silver_by_key[record.asset_key]
        return {(table, h) for h in found.hours if partitions_def.has_partition_key(hour_key(h))}

    follow = Follow("silver", tuple(silver_by_key), due, _never_materialized)
    return follow_sensor(
        "silver_sensor",
        SILVER_JOB,
        follow,
        "Requests silver runs for exactly the event hours that new bronze rows touch, for rows up to "
        f"{lateness_hours} h late (MOBILITY_LAKE_LATENESS_HOURS); requests them again, with backoff, when a "
        "run fails.",
        lateness,
        keys_by_job,
        clock,
    )


def _checks_passed(instance: dg.DagsterInstance, record: dg.EventLogRecord) -> bool:
    """Whether the run that wrote this silver hour passed every check of that hour."""
    for entry in instance.all_logs(record.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if (
            evaluation.asset_key == record.asset_key
            and evaluation.partition == record.partition_key
            and not evaluation.passed
        ):
            return False
    return True


def demand_sensor(
    lateness_hours: int, keys_by_job: Mapping[str, Iterable[dg.AssetKey]], clock: Callable[[], datetime]
) -> dg.SensorDefinition:
    demand_key = dg.AssetKey(["gold", DEMAND])

    def due(context: dg.SensorEvaluationContext, lake: Lake, record: dg.EventLogRecord) -> set[Work]:
        if record.partition_key is None or not _checks_passed(context.instance, record):
            return set()
        hour = parse_hour_key(record.partition_key)
        bookings = silver_window(lake, "booking_events", hour, hour + HOUR + demand.TRIP_LOOKAHEAD)
        fed = demand.hours_fed_by(bookings, hour) - {hour}  # its own hour is automation's
        built = context.instance.get_materialized_partitions(demand_key)
        return {(DEMAND, h) for h in fed if hour_key(h) in built}

    return follow_sensor(
        "demand_sensor",
        GOLD_JOBS["hourly"],
        Follow("gold", (BOOKINGS,), due),
        "Re-runs the demand hours a silver booking hour changes besides its own: the hours of the trips it "
        "completes or zones, and the same hour of the next 27 days (the trailing averages).",
        timedelta(hours=lateness_hours),
        keys_by_job,
        clock,
    )
