"""Retention's Dagster side: the `retention` job and its daily schedule, and the hours runs in progress hold.

`mobility-lake retention` and the scheduled run call the same `retain`: take the lake lock (runs starting
meanwhile wait), leave alone every hour from the first one a run in progress covers, apply the layers'
retention (`governance/retention.py`), record it in the audit log, release the lock.
"""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg

from mobility_lake.governance import audit
from mobility_lake.governance.assets import KEY as AUDIT_KEY
from mobility_lake.governance.assets import observation
from mobility_lake.governance.retention import Report, apply_retention
from mobility_lake.lake_lock import acquire, release
from mobility_lake.orchestration.jobs import work_tags
from mobility_lake.orchestration.requests import IN_FLIGHT, PARTITION_TAG
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import RANGE_START_TAG, parse_hour_key
from mobility_lake.storage import Lake

JOB = "retention"
SCHEDULE = "retention_daily"
CRON = "30 3 * * *"  # daily, 03:30 UTC


def partition_start(key: str) -> datetime | None:
    """The first hour of a partition key: hourly `2026-03-10-06:00`, daily or weekly `2026-03-10`."""
    try:
        return parse_hour_key(key)
    except ValueError:
        pass
    try:
        return datetime.strptime(key, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def busy_from(instance: dg.DagsterInstance, own_run_id: str | None = None) -> datetime | None:
    """The earliest hour a partitioned run in progress (other than `own_run_id`) covers."""
    starts = []
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)):
        if run.run_id == own_run_id:
            continue
        key = run.tags.get(RANGE_START_TAG) or run.tags.get(PARTITION_TAG)
        start = partition_start(key) if key else None
        if start is not None:
            starts.append(start)
    return min(starts) if starts else None


def retain(
    lake: Lake,
    instance: dg.DagsterInstance,
    now: datetime,
    dry_run: bool,
    say: Callable[[str], None],
    own_run_id: str | None = None,
) -> Report:
    """Apply retention as of `now` under the lake lock (none for a dry run), audited."""
    settings = lake.settings
    request_id = f"retention-{uuid.uuid4()}"
    if not dry_run:
        acquire(lake, request_id)
    try:
        report = apply_retention(lake, now, settings.retention, busy_from(instance, own_run_id), dry_run, say)
    finally:
        if not dry_run:
            release(lake, request_id)
    if not dry_run:
        changed = [f"{c.layer}.{c.table}" for c in report.changes]
        audit.record(
            lake,
            audit.Entry(
                settings.user, settings.role, "retention", "ok", tables=tuple(changed),
                rows=sum(c.rows for c in report.changes), request_id=request_id,
            ),
        )  # fmt: skip
    return report


@dg.op(
    name="apply_retention",
    description="Archive bronze hours and delete silver, gold and audit partitions past their retention "
    "(MOBILITY_LAKE_RETENTION_DAYS), as of the scheduled time.",
    config_schema={"now": dg.Field(str, is_required=False, description="ISO time; default: the run's start")},
)
def retention_op(context: dg.OpExecutionContext, lake: LakeResource) -> dg.Output:
    now_text = context.op_config.get("now")
    now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    handle = lake.lake()
    report = retain(handle, context.instance, now, False, context.log.info, context.run_id)
    for line in report.lines():
        context.log.info(line)
    _, observed = observation(handle)
    context.log_event(dg.AssetObservation(asset_key=AUDIT_KEY, metadata=observed))
    return dg.Output(
        None,
        metadata={
            "rows archived": sum(c.rows for c in report.changes if c.action == "archived"),
            "rows deleted": sum(c.rows for c in report.changes if c.action == "deleted"),
            "files removed": sum(c.files_removed for c in report.changes),
            "report": dg.MetadataValue.md("\n".join(f"- {line.strip()}" for line in report.lines())),
        },
    )


@dg.job(
    name=JOB,
    description="Retention per layer: the same code as `mobility-lake retention`.",
    tags=work_tags("retention"),
)
def retention_job() -> None:
    retention_op()


@dg.schedule(
    name=SCHEDULE,
    job=retention_job,
    cron_schedule=CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily retention pass at 03:30 UTC.",
)
def retention_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return scheduled_pass(context, "apply_retention")


def scheduled_pass(context: dg.ScheduleEvaluationContext, op: str) -> dg.RunRequest:
    """A daily pass's run, once per scheduled time, its op told that time as `now`."""
    scheduled = context.scheduled_execution_time or datetime.now(UTC)
    at = scheduled.astimezone(UTC) if scheduled.tzinfo else scheduled.replace(tzinfo=UTC)
    return dg.RunRequest(
        run_key=at.strftime("%Y-%m-%dT%H:%M"), run_config={"ops": {op: {"config": {"now": at.isoformat()}}}}
    )
