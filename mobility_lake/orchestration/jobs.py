"""The code location's jobs by name, and the partitions each runs over.

Kept apart from the definitions so that `mobility-lake materialize` can plan its runs without loading the
assets (the runs load them, in their own processes).
"""

import dagster as dg

from mobility_lake.partitions import (
    daily_partitions,
    gold_hourly_partitions,
    hourly_partitions,
    weekly_partitions,
)
from mobility_lake.settings import Settings

# The code location, as workspace.yaml loads it and the UI shows it: runs launched from elsewhere name it too.
MODULE, ATTRIBUTE, LOCATION = "mobility_lake.definitions", "defs", "mobility_lake"
BRONZE_JOB = "bronze_hourly"
SILVER_JOB = "silver_hourly"
GOLD_JOBS = {"hourly": "gold_hourly", "daily": "gold_daily", "weekly": "gold_weekly"}
ALL_JOBS = (BRONZE_JOB, SILVER_JOB, *GOLD_JOBS.values())
# Every run carries the kind of work it does; the instance's run queue limits runs per kind (dagster.yaml).
WORK_TAG = "mobility-lake/work"
JOB_WORK = {BRONZE_JOB: "bronze", SILVER_JOB: "silver", **{job: "gold" for job in GOLD_JOBS.values()}}


def work_tags(work: str) -> dict[str, str]:
    return {WORK_TAG: work}


def work_of_assets(keys: frozenset[dg.AssetKey]) -> str | None:
    """The work of a run no job tagged (the UI's asset backfills and materializations, automation's runs, all
    of Dagster's asset job), by its assets' layer: the heaviest when it spans several."""
    layers = {key.path[0] for key in keys}
    return next((work for work in ("silver", "gold", "bronze", "maintenance") if work in layers), None)


def gold_partitions(settings: Settings) -> dict[str, dg.TimeWindowPartitionsDefinition]:
    """The partitions of gold marts, by cadence."""
    return {
        "hourly": gold_hourly_partitions(settings),
        "daily": daily_partitions(settings),
        "weekly": weekly_partitions(settings),
    }


def job_partitions(settings: Settings) -> dict[str, dg.TimeWindowPartitionsDefinition]:
    """The partitions each job runs over."""
    hourly = hourly_partitions(settings)
    gold = gold_partitions(settings)
    return {BRONZE_JOB: hourly, SILVER_JOB: hourly, **{job: gold[c] for c, job in GOLD_JOBS.items()}}
