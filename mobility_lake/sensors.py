"""Sensors that keep the lake up to date by themselves.

- `landing_sensor` lists the landing zone and asks for bronze runs of the arrival hours with new files.
- `silver_sensor` reads new bronze materializations and asks for silver runs of exactly the event hours
  their new rows touch, within MOBILITY_LAKE_LATENESS_HOURS of their arrival.
Both request one run per stretch of consecutive hours (a range run when it spans several hours).
"""

import hashlib
import json
from datetime import datetime, timedelta

import dagster as dg

from mobility_lake.arrivals import Cursor, new_files, tables_by_hour
from mobility_lake.bronze.assets import bronze_key
from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, decode_new_rows
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.landing import LANDING_PREFIX
from mobility_lake.partitions import (
    HOUR,
    RANGE_END_TAG,
    RANGE_START_TAG,
    consecutive_ranges,
    hour_key,
    hours_in,
)
from mobility_lake.placement import due_hours
from mobility_lake.resources import LakeResource
from mobility_lake.silver.tables import SILVER_BY_BRONZE, SILVER_TABLES

RECORDS_PER_TICK = 500


def range_request(
    layer: str, tables: tuple[str, ...], start: datetime, end: datetime, run_key: str
) -> dg.RunRequest:
    """A run of `layer/table` assets for the hours [start, end): one partition, or a single range run."""
    first, last = hour_key(start), hour_key(end - HOUR)
    return dg.RunRequest(
        run_key=run_key,
        asset_selection=[dg.AssetKey([layer, t]) for t in tables],
        partition_key=first if first == last else None,
        tags={RANGE_START_TAG: first, RANGE_END_TAG: last} if first != last else {},
    )


def _in_partitions(partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime, end: datetime) -> bool:
    return partitions_def.has_partition_key(hour_key(start)) and partitions_def.has_partition_key(
        hour_key(end - HOUR)
    )


def landing_sensor(partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=dg.AssetSelection.groups("bronze"),
        description="Requests bronze runs for exactly the arrival hours that received new landing files.",
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        listing = list(lake.lake().list_files(LANDING_PREFIX))
        fresh, cursor = new_files(listing, Cursor.parse(context.cursor))
        requests, outside = [], 0
        for start, end, tables in consecutive_ranges(tables_by_hour(fresh)):
            if not _in_partitions(partitions_def, start, end):
                outside += 1
                continue
            keys = "\n".join(f.key for f in fresh if start <= f.hour < end)
            requests.append(
                range_request("bronze", tables, start, end, hashlib.sha256(keys.encode()).hexdigest()[:32])
            )
        if outside:
            context.log.warning(
                f"{outside} range(s) of new files lie outside the partitions; run them by hand"
            )
        context.log.info(
            f"{len(listing)} landing files listed, {len(fresh)} new, {len(requests)} run(s) requested"
        )
        return dg.SensorResult(run_requests=requests, cursor=cursor.serialize())

    return _sensor


def _never_materialized(instance: dg.DagsterInstance, start: datetime, end: datetime) -> set[str]:
    """Silver tables with an hour in [start, end) never materialized: an hour with no event of a table still
    gets its (empty) partition, so the hour is complete for gold."""
    keys = [hour_key(h) for h in hours_in(start, end)]
    missing = set()
    for table in SILVER_TABLES:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["silver", table.name]), asset_partitions=keys),
            limit=len(keys) * 4,
        ).records
        if {r.partition_key for r in records} != set(keys):
            missing.add(table.name)
    return missing


def silver_sensor(
    partitions_def: dg.TimeWindowPartitionsDefinition, lateness_hours: int
) -> dg.SensorDefinition:
    first_hour = partitions_def.start
    lateness = timedelta(hours=lateness_hours)

    @dg.sensor(
        name="silver_sensor",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=dg.AssetSelection.groups("silver"),
        description=(
            "Requests silver runs for exactly the event hours that new bronze rows touch, "
            f"for rows up to {lateness_hours} h late (MOBILITY_LAKE_LATENESS_HOURS)."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursors: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        due: dict[datetime, set[str]] = {}
        too_late = 0
        for topic in TOPICS:
            key = bronze_key(topic)
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=cursors.get(topic.bronze_table, 0)),
                limit=RECORDS_PER_TICK,
                ascending=True,
            ).records
            runs_seen: set[str] = set()
            for record in records:
                cursors[topic.bronze_table] = record.storage_id
                materialization = record.asset_materialization
                if record.run_id in runs_seen or materialization is None:
                    continue  # a range run records one materialization per hour, all with the run's metadata
                runs_seen.add(record.run_id)
                entry = materialization.metadata.get(NEW_ROWS_METADATA)
                if entry is None:
                    continue
                found = due_hours(decode_new_rows(entry.value), first_hour, lateness)
                too_late += found.rows_too_late
                for hour in found.hours:
                    due.setdefault(hour, set()).add(SILVER_BY_BRONZE[topic.bronze_table].name)
        requests = []
        marker = hashlib.sha256(json.dumps(cursors, sort_keys=True).encode()).hexdigest()[:16]
        for start, end, tables in consecutive_ranges(due):
            if _in_partitions(partitions_def, start, end):
                tables = tuple(sorted({*tables, *_never_materialized(context.instance, start, end)}))
                requests.append(range_request("silver", tables, start, end, f"{marker}-{hour_key(start)}"))
        if too_late:
            context.log.warning(
                f"{too_late} new bronze row(s) are later than the lateness window; re-run their hours"
            )
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursors, sort_keys=True))

    return _sensor
