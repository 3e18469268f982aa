"""Dagster adapters of gold: one asset per mart, on its cadence, automated, with its Pandera schema as a
blocking check computed over the rows as written (read back)."""

from datetime import datetime, timedelta

import dagster as dg
import pandera.errors as pa_errors
import polars as pl

from mobility_lake.automation import gold_condition
from mobility_lake.columns import table_schema
from mobility_lake.gold.marts import MARTS, Mart
from mobility_lake.lineage import column_lineage_metadata
from mobility_lake.partitions import SINGLE_RUN
from mobility_lake.resources import LakeResource
from mobility_lake.storage import Lake

CHECK_SCHEMA = "gold_schema"
FRESHNESS = {  # how stale each cadence may get before the UI warns, then fails
    "hourly": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)),
    "daily": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=27)),
    "weekly": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=12)
    ),
}


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", name])


def write_partition(lake: Lake, mart: Mart, start: datetime) -> tuple[int, dict[str, int]]:
    """Build, replace and read back one partition; returns its rows and its schema failures per rule."""
    frame = mart.build(lake, start, start + mart.step)
    lake.replace_where("gold", mart.name, frame, mart.rows_of(start), partition_by=list(mart.partition_by))
    written = (
        lake.scan("gold", mart.name)
        .filter(_rows_expr(mart, start))
        .collect()
        .select(list(mart.module.COLUMNS))
    )
    failures: dict[str, int] = {}
    try:
        mart.module.SCHEMA.validate(written, lazy=True)
    except pa_errors.SchemaErrors as errors:
        for column, check, count in errors.failure_cases.group_by("column", "check").len().iter_rows():
            failures[f"{column}.{check}"] = failures.get(f"{column}.{check}", 0) + count
    return written.height, failures


def _rows_expr(mart: Mart, start: datetime) -> pl.Expr:
    """The rows of one partition, as `Mart.rows_of` names them for delta-rs."""
    column = mart.partition_by[0]
    expr = pl.col(column) == start.date()
    return expr & (pl.col("hour") == start.hour) if mart.cadence == "hourly" else expr


def gold_asset(
    mart: Mart, partitions_def: dg.TimeWindowPartitionsDefinition, lateness: timedelta
) -> dg.AssetsDefinition:
    key = gold_key(mart.name)

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["silver", t]) for t in mart.reads],
        partitions_def=partitions_def,
        backfill_policy=SINGLE_RUN,
        group_name="gold",
        kinds={"delta", "polars", "pandera"},
        automation_condition=gold_condition(lateness + mart.step),
        freshness_policy=FRESHNESS[mart.cadence],
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_SCHEMA,
                asset=key,
                blocking=True,
                description="Rows as written match the mart's Pandera schema: unique key, types, ranges.",
            )
        ],
        metadata={
            "dagster/column_schema": table_schema(mart.module.COLUMNS, mart.module.DOCS),
            **column_lineage_metadata(key),
        },
        description=(mart.module.__doc__ or "").strip().split("\n\n")[0],
    )
    def _gold(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        window = context.partition_time_window
        handle = lake.lake()
        rows, failures, start = 0, {}, window.start
        while start < window.end:
            written, problems = write_partition(handle, mart, start)
            rows += written
            for rule, count in problems.items():
                failures[rule] = failures.get(rule, 0) + count
            start += mart.step
        context.log.info(f"{mart.name}: {rows} row(s) written for {window.start} .. {window.end}")
        return dg.MaterializeResult(
            metadata={"rows_written": rows},
            check_results=[
                dg.AssetCheckResult(
                    check_name=CHECK_SCHEMA,
                    passed=not failures,
                    metadata={"rows_checked": rows, "failing_rows_by_rule": dict(sorted(failures.items()))},
                )
            ],
        )

    return _gold


def gold_assets(
    partitions: dict[str, dg.TimeWindowPartitionsDefinition], lateness: timedelta
) -> list[dg.AssetsDefinition]:
    return [gold_asset(mart, partitions[mart.cadence], lateness) for mart in MARTS]
