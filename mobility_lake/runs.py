"""Materialize hour ranges through Dagster in the persistent instance, so every run shows in the UI.

Ranges run as single runs of at most a day of hours each (one run per chunk keeps memory bounded and gives
progress), in dependency order of the layers.
"""

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dagster as dg

from mobility_lake.partitions import HOUR, hour_key
from mobility_lake.settings import PROJECT_ROOT, dagster_home

CHUNK = timedelta(hours=24)
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass(frozen=True)
class ChunkResult:
    job: str
    start: datetime
    end: datetime
    seconds: float
    metadata: dict[str, dict[str, object]]


def persistent_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME (default data/dagster_home), seeded with the project's dagster.yaml."""
    home = dagster_home()
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(PROJECT_ROOT / "dagster.yaml", config)
    return dg.DagsterInstance.from_config(str(home))


def range_tags(start: datetime, end: datetime) -> dict[str, str]:
    return {RANGE_START_TAG: hour_key(start), RANGE_END_TAG: hour_key(end - HOUR)}


def materialize_range(
    defs: dg.Definitions,
    job_names: list[str],
    start: datetime,
    end: datetime,
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None] = lambda _: None,
) -> list[ChunkResult]:
    """Run each job over [start, end) in chunks; raises on the first failed run, naming it."""
    results = []
    for job_name in job_names:
        job = defs.resolve_job_def(job_name)
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
                raise RuntimeError(
                    f"run {result.run_id} of {job_name} for {hour_key(chunk_start)}..{hour_key(chunk_end)} failed; "
                    "see it in the Dagster UI"
                )
            metadata = {
                event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
                for event in result.get_asset_materialization_events()
                if event.asset_key is not None
            }
            chunk = ChunkResult(job_name, chunk_start, chunk_end, time.monotonic() - began, metadata)
            on_chunk(chunk)
            results.append(chunk)
            chunk_start = chunk_end
    return results
