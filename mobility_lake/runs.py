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
from mobility_lake.partitions import HOUR, consecutive_ranges, hour_key, hours_in
from mobility_lake.placement import due_hours
from mobility_lake.settings import PROJECT_ROOT, Settings, dagster_home

CHUNK = timedelta(hours=24)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
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


def range_tags(start: datetime, end: datetime) -> dict[str, str]:
    return {RANGE_START_TAG: hour_key(start), RANGE_END_TAG: hour_key(end - HOUR)}


def run_job(
    defs: dg.Definitions,
    job_name: str,
    ranges: list[tuple[datetime, datetime]],
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None],
) -> list[ChunkResult]:
    """Run a job over each range in chunks; raises on the first failed run, naming it."""
    job = defs.resolve_job_def(job_name)
    results = []
    for start, end in ranges:
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + CHUNK, end)
            began = time.monotonic()
            result = job.execute_in_process(
                instance=instance,
                tags=range_tags(chunk_start, chunk_end),
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
    jobs: tuple[str, str] = ("bronze_hourly", "silver_hourly"),
) -> list[ChunkResult]:
    bronze_job, silver_job = jobs
    bronze = run_job(defs, bronze_job, [(start, end)], instance, on_chunk)
    return bronze + run_job(defs, silver_job, silver_ranges(bronze, start, end, settings), instance, on_chunk)
