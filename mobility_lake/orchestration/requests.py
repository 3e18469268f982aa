"""What the sensors share: work they asked for and have not seen done, runs in flight, and run requests.

A sensor keeps each piece of due work, a table and an hour, as `Pending` in its cursor until it sees the
work done. Each tick it requests what is due, unless a run that covers it is queued or running; a requested
run that fails leaves its work due, so it is requested again on a later tick, after a pause that doubles
with each attempt. Nothing is lost when a run fails and nothing is asked for twice while a run is on it.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

import dagster as dg

from mobility_lake.partitions import (
    HOUR,
    RANGE_END_TAG,
    RANGE_START_TAG,
    consecutive_ranges,
    hour_key,
    hours_in,
    parse_hour_key,
)

PARTITION_TAG = "dagster/partition"
ATTEMPT_TAG = "mobility-lake/attempt"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
FIRST_BACKOFF_SECONDS = 60
MAX_BACKOFF_SECONDS = 3600
Work = tuple[str, datetime]  # (table, hour)


@dataclass(frozen=True)
class Pending:
    """Due work: `since` is when what made it due happened, in run `cause_run` (a run that includes it
    started later, or is that run); `attempts` counts the runs requested for it since, the last at
    `requested_at`."""

    since: float
    cause_run: str = ""
    attempts: int = 0
    requested_at: float = 0.0

    def ready(self, now: float) -> bool:
        """Requested never, or long enough ago that the last run must have failed for good reason."""
        if self.attempts == 0:
            return True
        wait = min(FIRST_BACKOFF_SECONDS * 2 ** (self.attempts - 1), MAX_BACKOFF_SECONDS)
        return now - self.requested_at >= wait

    def due_again(self, since: float, cause_run: str) -> "Pending":
        """New input arrived at `since`: the work is due afresh, with no backoff."""
        return Pending(since, cause_run) if since > self.since else self


def encode_pending(pending: Mapping[Work, Pending]) -> dict[str, dict[str, dict[str, object]]]:
    """Readable in the UI's cursor view: {table: {hour: {since, cause_run, attempts, requested_at}}}."""
    encoded: dict[str, dict[str, dict[str, object]]] = {}
    for (table, hour), p in sorted(pending.items()):
        encoded.setdefault(table, {})[hour_key(hour)] = {
            "since": round(p.since, 3),
            "cause_run": p.cause_run,
            "attempts": p.attempts,
            "requested_at": round(p.requested_at, 3),
        }
    return encoded


def decode_pending(encoded: Mapping[str, Mapping[str, Mapping[str, object]]]) -> dict[Work, Pending]:
    return {
        (table, parse_hour_key(hour)): Pending(
            float(p["since"]), str(p["cause_run"]), int(p["attempts"]), float(p["requested_at"])
        )
        for table, hours in encoded.items()
        for hour, p in hours.items()
    }


def merge_due(pending: dict[Work, Pending], due: Iterable[Work], since: float, cause_run: str = "") -> None:
    """Add work made due at `since` by run `cause_run`, or make known work due afresh."""
    for work in due:
        known = pending.get(work)
        pending[work] = Pending(since, cause_run) if known is None else known.due_again(since, cause_run)


def run_hours(run: dg.DagsterRun) -> list[datetime]:
    """The hours an hourly run covers: its partition, or its range."""
    tags = run.tags
    if PARTITION_TAG in tags:
        keys = [tags[PARTITION_TAG]]
    elif RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        keys = [tags[RANGE_START_TAG], tags[RANGE_END_TAG]]
    else:
        return []
    try:
        first, last = parse_hour_key(keys[0]), parse_hour_key(keys[-1])
    except ValueError:  # a daily or weekly run
        return []
    return hours_in(first, last + HOUR)


def in_flight(
    instance: dg.DagsterInstance, keys_by_job: Mapping[str, Iterable[dg.AssetKey]]
) -> set[tuple[dg.AssetKey, datetime]]:
    """(asset, hour) pairs that a queued or running run will write. A run launched by job name (the CLI's)
    has no asset selection: its job's assets are `keys_by_job`."""
    covered: set[tuple[dg.AssetKey, datetime]] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=IN_FLIGHT), limit=500):
        keys = run.asset_selection or set(keys_by_job.get(run.job_name, ()))
        for hour in run_hours(run):
            covered.update((key, hour) for key in keys)
    return covered


def request_due(
    layer: str,
    pending: dict[Work, Pending],
    busy: set[tuple[dg.AssetKey, datetime]],
    now: float,
    extra_tables: Callable[[datetime, datetime], set[str]] | None = None,
) -> list[dg.RunRequest]:
    """Run requests for the pending work that is ready and that no run in flight covers, one per stretch
    of consecutive hours; the requested work's attempts are counted."""
    chosen: dict[datetime, set[str]] = {}
    for (table, hour), p in pending.items():
        if (dg.AssetKey([layer, table]), hour) not in busy and p.ready(now):
            chosen.setdefault(hour, set()).add(table)
    requests = []
    for start, end, tables in consecutive_ranges(chosen):
        attempts = 0
        for hour in hours_in(start, end):
            for table in chosen[hour]:
                p = pending[(table, hour)]
                attempts = max(attempts, p.attempts + 1)
                pending[(table, hour)] = Pending(p.since, p.cause_run, p.attempts + 1, now)
        names = set(tables) | (extra_tables(start, end) if extra_tables else set())
        requests.append(range_request(layer, tuple(sorted(names)), start, end, attempts, now))
    return requests


def range_request(
    layer: str, tables: tuple[str, ...], start: datetime, end: datetime, attempt: int, now: float
) -> dg.RunRequest:
    """A run of `layer/table` assets for the hours [start, end): one partition, or a single range run."""
    first, last = hour_key(start), hour_key(end - HOUR)
    identity = json.dumps([layer, tables, first, last, attempt, round(now, 3)])
    tags = {ATTEMPT_TAG: str(attempt)}
    if first != last:
        tags |= {RANGE_START_TAG: first, RANGE_END_TAG: last}
    return dg.RunRequest(
        run_key=hashlib.sha256(identity.encode()).hexdigest()[:32],
        asset_selection=[dg.AssetKey([layer, t]) for t in tables],
        partition_key=first if first == last else None,
        tags=tags,
    )


def done_hours(
    instance: dg.DagsterInstance, key: dg.AssetKey, work: Mapping[datetime, Pending]
) -> set[datetime]:
    """The hours of `work` whose latest materialization of `key` includes what made them due: it came from
    a run that started after `since`, or from the causing run itself (a later step of it)."""
    if not work:
        return set()
    keys = {hour_key(h): h for h in work}
    latest: dict[datetime, dg.EventLogRecord] = {}
    cursor = None
    while True:  # newest first, page by page, until every hour's latest is found
        page = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(keys)), limit=1000, cursor=cursor
        )
        for record in page.records:
            hour = keys.get(record.partition_key or "")
            if hour is not None and hour not in latest:
                latest[hour] = record
        if len(latest) == len(keys) or not page.has_more:
            break
        cursor = page.cursor
    run_ids = list({r.run_id for r in latest.values() if r.run_id})
    starts = (
        {
            r.dagster_run.run_id: r.start_time or 0.0
            for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids))
        }
        if run_ids
        else {}
    )

    def includes(record: dg.EventLogRecord, pending: Pending) -> bool:
        if not record.run_id:  # reported from outside any run: it happened when it was recorded
            return record.timestamp > pending.since
        return record.run_id == pending.cause_run or starts.get(record.run_id, 0.0) > pending.since

    return {h for h, record in latest.items() if includes(record, work[h])}
