"""Materialize hour ranges through Dagster in the persistent instance, so every run shows in the UI.

Bronze runs over the arrival hours asked for; silver then runs over the same hours plus every earlier
hour that late rows among the new bronze rows touch (within the lateness window), exactly as the sensors
would do it. Each stretch of hours runs as single runs of at most a day each (bounded memory, progress).
"""

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, decode_new_rows
from mobility_lake.partitions import RANGE_END_TAG, RANGE_START_TAG, consecutive_ranges, hour_key, hours_in
from mobility_lake.placement import due_hours
from mobility_lake.settings import PROJECT_ROOT, Settings, dagster_home

CHUNKS = {timedelta(hours=1): timedelta(hours=24), timedelta(days=1): timedelta(days=7)}  # else 4 weeks
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


class RunFailed(RuntimeError):
    """A run failed (a step raised, or a blocking check failed); the message names the run to open in the UI."""


@dataclass(frozen=True)
class ChunkResult:
    job: str
    start: datetime
    end: datetime
    seconds: float
    metadata: dict[str, dict[str, object]]
    failed_checks: tuple[str, ...]  # "asset/check" of every check that did not pass


INSTANCE_CONFIG = PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml"


def persistent_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME (default data/dagster_home, whose dagster.yaml is the project's); another
    DAGSTER_HOME without a dagster.yaml gets a copy of it."""
    home = dagster_home()
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_CONFIG, config)
    return dg.DagsterInstance.from_config(str(home))


def range_tags(
    partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime, end: datetime
) -> dict[str, str]:
    last = end - timedelta(microseconds=1)
    return {
        RANGE_START_TAG: partitions_def.get_partition_key_for_timestamp(start.timestamp()),
        RANGE_END_TAG: partitions_def.get_partition_key_for_timestamp(last.timestamp()),
    }


def complete_windows(
    partitions_def: dg.TimeWindowPartitionsDefinition, ranges: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The existing (complete) partitions of a coarser cadence that the hour ranges touch, as windows."""
    keys: set[str] = set()
    for start, end in ranges:
        for hour in hours_in(start, end):
            key = partitions_def.get_partition_key_for_timestamp(hour.timestamp())
            if partitions_def.has_partition_key(key):
                keys.add(key)
    windows = sorted(partitions_def.time_window_for_partition_key(k) for k in keys)
    merged: list[tuple[datetime, datetime]] = []
    for window in windows:
        if merged and merged[-1][1] == window.start:
            merged[-1] = (merged[-1][0], window.end)
        else:
            merged.append((window.start, window.end))
    return merged


def run_job(
    defs: dg.Definitions,
    job_name: str,
    ranges: list[tuple[datetime, datetime]],
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None],
) -> list[ChunkResult]:
    """Run a job over each range in chunks; raises on the first failed run, naming it."""
    if not ranges:  # e.g. no complete week yet: the partitions definition has no first key to size chunks by
        return []
    job = defs.resolve_job_def(job_name)
    partitions_def = job.partitions_def
    first = partitions_def.time_window_for_partition_key(partitions_def.get_first_partition_key())
    chunk = CHUNKS.get(first.end - first.start, timedelta(weeks=4))
    results = []
    for start, end in ranges:
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + chunk, end)
            began = time.monotonic()
            result = job.execute_in_process(
                instance=instance,
                tags=range_tags(partitions_def, chunk_start, chunk_end),
                run_config=QUIET_LOGS,
                raise_on_error=False,
            )
            if not result.success:
                raise RunFailed(
                    f"run {result.run_id} of {job_name} for {hour_key(chunk_start)}..{hour_key(chunk_end)} failed; "
                    "see it in the Dagster UI"
                )
            metadata = {
                event.asset_key.to_user_string(): {
                    k: v.value for k, v in event.materialization.metadata.items()
                }
                for event in result.get_asset_materialization_events()
                if event.asset_key is not None
            }
            failed = tuple(
                f"{e.asset_key.to_user_string()}/{e.check_name}"
                for e in result.get_asset_check_evaluations()
                if not e.passed
            )
            chunk = ChunkResult(job_name, chunk_start, chunk_end, time.monotonic() - began, metadata, failed)
            on_chunk(chunk)
            results.append(chunk)
            chunk_start = chunk_end
    return results


def silver_ranges(
    bronze_chunks: list[ChunkResult], start: datetime, end: datetime, settings: Settings
) -> list[tuple[datetime, datetime]]:
    """[start, end) plus the hours that the new bronze rows touch within the lateness window."""
    due = {hour: {"silver"} for hour in hours_in(start, end)}
    for chunk in bronze_chunks:
        for metadata in chunk.metadata.values():
            if NEW_ROWS_METADATA in metadata:
                found = due_hours(
                    decode_new_rows(metadata[NEW_ROWS_METADATA]),
                    settings.start,
                    timedelta(hours=settings.lateness_hours),
                )
                due.update({hour: {"silver"} for hour in found.hours})
    return [(s, e) for s, e, _ in consecutive_ranges(due)]


def materialize(
    defs: dg.Definitions,
    settings: Settings,
    start: datetime,
    end: datetime,
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None] = lambda _: None,
    jobs: tuple[str, ...] = ("bronze_hourly", "silver_hourly", "gold_hourly", "gold_daily", "gold_weekly"),
) -> list[ChunkResult]:
    """Bronze over [start, end); silver over those hours and the earlier ones late rows touch; then each gold
    job over the complete partitions of its cadence that those silver hours touch."""
    bronze_job, silver_job, *gold_jobs = jobs
    bronze = run_job(defs, bronze_job, [(start, end)], instance, on_chunk)
    hours = silver_ranges(bronze, start, end, settings)
    results = bronze + run_job(defs, silver_job, hours, instance, on_chunk)
    for job in gold_jobs:
        windows = complete_windows(defs.resolve_job_def(job).partitions_def, hours)
        results += run_job(defs, job, windows, instance, on_chunk)
    return results
