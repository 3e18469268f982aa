"""Maintenance's Dagster side: the `maintenance/delta_tables` asset, its job and daily schedule.

A materialization is one pass over the lake's tables (`maintenance.py`): its metadata is the pass's table,
a row per table, and each table's own asset gets an observation with its figures, so a table's page shows
when it was last compacted and vacuumed. `mobility-lake maintain` launches the same job.
"""

from datetime import UTC, datetime

import dagster as dg

from mobility_lake.governance.assets import KEY as AUDIT_KEY
from mobility_lake.maintenance import Outcome, maintain
from mobility_lake.orchestration.jobs import work_tags
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.orchestration.retention_run import busy_from, scheduled_pass

KEY = dg.AssetKey(["maintenance", "delta_tables"])
OP = "maintenance__delta_tables"
JOB = "maintenance"
SCHEDULE = "maintenance_daily"
CRON = "30 4 * * *"  # daily, 04:30 UTC: after retention (03:30), which deletes what need not be compacted
REPORT = "report"
COLUMNS = (
    ("table", "string"),
    ("files before", "int"),
    ("files after", "int"),
    ("MiB before", "float"),
    ("MiB after", "float"),
    ("files merged", "int"),
    ("days Z-ordered", "int"),
    ("files vacuumed", "int"),
    ("log entries before", "int"),
    ("log entries after", "int"),
    ("seconds", "float"),
)


class MaintenanceConfig(dg.Config):
    now: str | None = None  # ISO time the pass judges closed partitions and the vacuum window by; default now
    table: str | None = None  # layer.table; default every table


def table_asset(name: str) -> dg.AssetKey | None:
    """The asset a table belongs to: its own, or silver's for quarantine, bronze's for the archive."""
    layer, table = name.split(".")
    owner = {"quarantine": "silver", "archive": "bronze"}.get(layer, layer)
    return AUDIT_KEY if owner == AUDIT_KEY.path[0] else dg.AssetKey([owner, table])


def figures(outcome: Outcome) -> dict[str, float | int | str]:
    return {
        "table": outcome.table,
        "files before": outcome.files_before,
        "files after": outcome.files_after,
        "MiB before": round(outcome.bytes_before / 2**20, 2),
        "MiB after": round(outcome.bytes_after / 2**20, 2),
        "files merged": outcome.files_merged,
        "days Z-ordered": len(outcome.zordered_days),
        "files vacuumed": outcome.files_vacuumed,
        "log entries before": outcome.log_entries_before,
        "log entries after": outcome.log_entries_after,
        "seconds": round(outcome.seconds, 2),
    }


@dg.asset(
    key=KEY,
    group_name="maintenance",
    kinds={"delta"},
    description="One maintenance pass over every Delta table: closed partitions compacted, silver telemetry "
    "Z-ordered by vehicle and time, files older than MOBILITY_LAKE_VACUUM_RETENTION_DAYS vacuumed, a "
    "checkpoint written and expired log entries removed (docs/maintenance.md). Runs daily; "
    "`mobility-lake maintain` runs it on demand.",
)
def delta_tables(
    context: dg.AssetExecutionContext, config: MaintenanceConfig, lake: LakeResource
) -> dg.Output:
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    handle = lake.writing(context.log.info)  # not while an erasure or retention pass holds the lake
    outcomes = maintain(
        handle, now, busy_from(context.instance, context.run.run_id), config.table, say=context.log.info
    )
    for outcome in outcomes:
        context.log.info(outcome.line().strip())
        context.log_event(
            dg.AssetObservation(asset_key=table_asset(outcome.table), metadata=_observed(outcome))
        )
    rows = [dg.TableRecord(figures(o)) for o in outcomes]
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in COLUMNS])
    return dg.Output(
        None,
        metadata={
            "tables": len(outcomes),
            "files before": sum(o.files_before for o in outcomes),
            "files after": sum(o.files_after for o in outcomes),
            "files vacuumed": sum(o.files_vacuumed for o in outcomes),
            "per table": dg.MetadataValue.table(rows, schema),
            REPORT: dg.MetadataValue.md("\n".join(o.line() for o in outcomes)),
        },
    )


def _observed(outcome: Outcome) -> dict[str, float | int | str]:
    """A table's figures as its asset shows them, named by the table (quarantine and archive share an asset)."""
    return {f"maintenance {key} ({outcome.table})" if key != "table" else "maintained table": value
            for key, value in figures(outcome).items()}  # fmt: skip


maintenance_job = dg.define_asset_job(
    JOB, selection=[KEY], description="One maintenance pass (`maintain`).", tags=work_tags("maintenance")
)


@dg.schedule(
    name=SCHEDULE,
    job=maintenance_job,
    cron_schedule=CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily maintenance pass at 04:30 UTC.",
)
def maintenance_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return scheduled_pass(context, OP)
