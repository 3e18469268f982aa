"""`landing_sensor`: bronze runs for exactly the landing files that are not in bronze yet.

A Kafka sink writes each file into the folder of the hour it arrives in, so only the current arrival hour,
and the one before for files flushed at the turn of the hour, can still receive files. Each tick lists just
those folders (and every hour since the last tick, after a pause), so its cost does not grow with the age
of the lake. A file counts as done once the bronze ledger holds it, whoever ingested it (this sensor, the
CLI, a backfill); until then its hour is pending work, requested again if its run fails. Only runs write
bronze, so the ledger is read again only after a bronze materialization the cursor has not seen: a tick
between runs reads no Delta table at all. On its first tick
the sensor looks back over MOBILITY_LAKE_LATENESS_HOURS; older files are ingested by a backfill or
`mobility-lake materialize`.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from deltalake.exceptions import DeltaError

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.bronze.ingest import landed_files
from mobility_lake.bronze.ledger import ingested_files
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.orchestration.jobs import BRONZE_JOB
from mobility_lake.orchestration.requests import (
    Pending,
    Work,
    decode_pending,
    encode_pending,
    in_flight,
    request_due,
)
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import HOUR, hour_key, hours_in, parse_hour_key
from mobility_lake.storage import Lake

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class LandingCursor:
    """The last hour listed, the names of the open hours' files known to be in bronze, the pending work,
    and per table the storage id of the latest bronze materialization those names reflect."""

    listed_to: datetime | None = None
    ingested: dict[str, dict[datetime, set[str]]] = field(default_factory=dict)
    pending: dict[Work, Pending] = field(default_factory=dict)
    seen: dict[str, int | None] = field(default_factory=dict)

    def serialize(self) -> str:
        return json.dumps(
            {
                "listed_to": hour_key(self.listed_to) if self.listed_to else None,
                "ingested": {
                    table: {hour_key(h): sorted(names) for h, names in sorted(hours.items()) if names}
                    for table, hours in sorted(self.ingested.items())
                },
                "pending": encode_pending(self.pending),
                "seen": dict(sorted(self.seen.items())),
            }
        )

    @classmethod
    def parse(cls, text: str | None) -> "LandingCursor":
        if not text:
            return cls()
        state = json.loads(text)
        return cls(
            listed_to=parse_hour_key(state["listed_to"]) if state.get("listed_to") else None,
            ingested={
                table: {parse_hour_key(h): set(names) for h, names in hours.items()}
                for table, hours in state.get("ingested", {}).items()
            },
            pending=decode_pending(state.get("pending", {})),
            seen=state.get("seen", {}),
        )


def hours_to_list(
    cursor: LandingCursor, now: datetime, first_look: timedelta, first_hour: datetime
) -> list[datetime]:
    """The arrival hours that can still receive files, the current one and the one before, and every hour
    since the last tick's (or `first_look` back, on a first tick)."""
    current = now.replace(minute=0, second=0, microsecond=0)
    start = min(cursor.listed_to, current - HOUR) if cursor.listed_to else current - first_look
    return hours_in(max(start, first_hour), current + HOUR)


def latest_materializations(instance: dg.DagsterInstance) -> dict[str, int | None]:
    """Per bronze table, the storage id of its latest materialization (None before the first)."""
    latest = {}
    for topic in TOPICS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=bronze_key(topic)), limit=1, ascending=False
        ).records
        latest[topic.bronze_table] = records[0].storage_id if records else None
    return latest


def landing_tick(
    lake: Lake,
    instance: dg.DagsterInstance,
    cursor: LandingCursor,
    now: datetime,
    first_look: timedelta,
    first_hour: datetime,
    keys_by_job: Mapping[str, list[dg.AssetKey]],
) -> tuple[list[dg.RunRequest], LandingCursor, dict]:
    """One evaluation: what to request, the next cursor, and counts for the log."""
    window = hours_to_list(cursor, now, first_look, first_hour)
    busy = in_flight(instance, keys_by_job)
    latest = latest_materializations(instance)  # before the ledger is read: a later write is seen next tick
    seen: dict[str, int | None] = {}
    pending = dict(cursor.pending)
    ingested: dict[str, dict[datetime, set[str]]] = {}
    counts = {"folders": 0, "files": 0, "new": 0}
    unreadable: set[str] = set()
    for topic in TOPICS:
        table = topic.bronze_table
        hours = sorted(set(window) | {h for t, h in pending if t == table})
        listed = {hour: {f.name: f.key for f, _ in landed_files(lake, table, hour)} for hour in hours}
        before = cursor.ingested.get(table, {})
        known = {hour: set(before.get(hour, set())) & set(names) for hour, names in listed.items()}
        unchanged = table in cursor.seen and cursor.seen[table] == latest[table]
        running = {hour for hour in hours if (bronze_key(topic), hour) in busy}
        check = {
            hour: [key for name, key in names.items() if name not in known[hour]]
            for hour, names in listed.items()
            if not unchanged and hour not in running
        }
        check = {hour: keys for hour, keys in check.items() if keys}
        # the names reflect the latest materialization only if no unknown file was left unchecked
        complete = unchanged or all(set(listed[hour]) <= known[hour] for hour in running)
        if check:
            try:  # one ledger read per table, over every hour with unknown files
                found = ingested_files(
                    lake, table, sorted(check), sorted(k for keys in check.values() for k in keys)
                )
            except (DeltaError, OSError):  # a broken table: its run will fail, and be asked for again
                unreadable.add(table)
                complete, found = False, set()
            for hour in check:
                known[hour] |= {name for name, key in listed[hour].items() if key in found}
        for hour in hours:
            unknown = set(listed[hour]) - known[hour]
            counts["folders"] += 1
            counts["files"] += len(listed[hour])
            counts["new"] += len(unknown)
            if unknown:
                pending.setdefault((table, hour), Pending(now.timestamp()))
            else:
                pending.pop((table, hour), None)
            if hour in window:
                ingested.setdefault(table, {})[hour] = known[hour]
        if complete:
            seen[table] = latest[table]
    requests = request_due("bronze", pending, busy, now.timestamp())
    counts["unreadable"] = sorted(unreadable)
    return (
        requests,
        LandingCursor(window[-1] if window else cursor.listed_to, ingested, pending, seen),
        counts,
    )


def landing_sensor(
    partitions_def: dg.TimeWindowPartitionsDefinition,
    lateness_hours: int,
    keys_by_job: Mapping[str, list[dg.AssetKey]],
    clock: Clock = utc_now,
) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        job_name=BRONZE_JOB,  # its runs are runs of that job: listed under it, re-executable from the UI
        description=(
            "Requests bronze runs for the landing files of the open arrival hours that bronze does not hold "
            "yet; requests them again, with backoff, when a run fails."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        requests, cursor, counts = landing_tick(
            lake.lake(),
            context.instance,
            LandingCursor.parse(context.cursor),
            clock(),
            timedelta(hours=lateness_hours),
            partitions_def.start,
            keys_by_job,
        )
        context.log.info(
            f"{counts['files']} landing files in {counts['folders']} hour folder(s), {counts['new']} not in "
            f"bronze, {len(cursor.pending)} hour(s) pending, {len(requests)} run(s) requested"
        )
        if counts["unreadable"]:
            context.log.warning(
                f"bronze ledger unreadable for {', '.join(counts['unreadable'])}: files counted as new"
            )
        return dg.SensorResult(run_requests=requests, cursor=cursor.serialize())

    return _sensor
