"""Dagster adapters of gold: one asset per mart, on its cadence, automated, with its Pandera schema as a
blocking check computed over the rows as written (read back)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandera.errors as pa_errors
import polars as pl

from mobility_lake.columns import table_schema
from mobility_lake.gold.demand import BOOKINGS_LOOKBACK
from mobility_lake.gold.marts import MARTS, SKIP_ROW_GROUP, Mart
from mobility_lake.lineage import column_lineage_metadata
from mobility_lake.orchestration.automation import gold_condition
from mobility_lake.orchestration.reports import PartitionReport, report_partitions
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.orchestration.retries import retry_transient
from mobility_lake.orphans import tidy
from mobility_lake.partitions import BACKFILL_POLICY, hour_key, hours_in
from mobility_lake.silver.quality import CheckOutcome
from mobility_lake.storage import Lake

CHECK_SCHEMA = "gold_schema"
LOOKBACK = BOOKINGS_LOOKBACK  # the longest look back of any mart (demand's 28-day averages)
FRESHNESS = {  # how stale each cadence may get before the UI warns, then fails
    "hourly": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=3), warn_window=timedelta(hours=2)),
    "daily": dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=27)),
    "weekly": dg.FreshnessPolicy.time_window(
        fail_window=timedelta(days=8), warn_window=timedelta(days=7, hours=12)
    ),
}


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", name])


def silver_retained(lake: Lake, mart: Mart, start: datetime, now: datetime) -> bool:
    """Whether silver still holds what the partition is made of: before silver's retention cutoff it holds
    nothing, and rebuilding would replace the partition's rows (gold keeps longer) with none."""
    cutoff = now.replace(minute=0, second=0, microsecond=0) - timedelta(
        days=lake.settings.retention["silver"]
    )
    return start - LOOKBACK >= cutoff


def write_partition(
    lake: Lake, mart: Mart, start: datetime, rebuild: bool = True
) -> tuple[int, dict[str, int]]:
    """Build, replace and read back one partition (only read it back when not `rebuild`); returns its rows
    and its schema failures per rule."""
    build = lambda: mart.build(lake, start, start + mart.step)  # noqa: E731
    if rebuild:
        lake.replace_where(
            "gold",
            mart.name,
            build(),
            mart.rows_of(start),
            partition_by=list(mart.partition_by),
            rebuild=build,
            row_group_rows=SKIP_ROW_GROUP if mart.skip_by else None,
        )
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


def gold_asset(mart: Mart, partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.AssetsDefinition:
    key = gold_key(mart.name)

    @dg.asset(
        key=key,
        deps=[dg.AssetKey(["silver", t]) for t in mart.reads],
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name="gold",
        kinds={"delta", "polars", "pandera"},
        automation_condition=gold_condition(mart.cadence),
        freshness_policy=FRESHNESS[mart.cadence],
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_SCHEMA,
                asset=key,
                blocking=True,
                description="Rows as written match the mart's Pandera schema: unique key, types, ranges.",
                partitions_def=partitions_def,
            )
        ],
        metadata={
            "dagster/column_schema": table_schema(key, mart.module.COLUMNS, mart.module.DOCS),
            **column_lineage_metadata(key),
        },
        description=(mart.module.__doc__ or "").strip().split("\n\n")[0],
    )
    def _gold(
        context: dg.AssetExecutionContext, lake: LakeResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
        handle = lake.writing(context.log.info)
        present = _silver_hours_present(context.instance, mart) if mart.cadence != "hourly" else None
        reports = []
        with retry_transient(context):
            for partition in context.partition_keys:
                start = partitions_def.time_window_for_partition_key(partition).start
                rebuild = silver_retained(handle, mart, start, datetime.now(UTC))
                rows, failures = write_partition(handle, mart, start, rebuild)
                metadata: dict[str, object] = {"rows_written": rows if rebuild else 0}
                if rebuild:
                    context.log.info(f"{mart.name} {partition}: {rows} row(s) written")
                else:
                    context.log.warning(
                        f"{mart.name} {partition}: silver is past its retention for this partition; "
                        f"its {rows} row(s) are kept as they are, not rebuilt from nothing"
                    )
                    metadata["kept_past_silver_retention"] = rows
                if present is not None:
                    metadata |= completeness(present, start, start + mart.step)
                check = CheckOutcome(
                    CHECK_SCHEMA,
                    not failures,
                    {"rows_checked": rows, "failing_rows_by_rule": dict(sorted(failures.items()))},
                )
                reports.append(PartitionReport(partition, metadata, [check]))
            tidy(handle, [("gold", mart.name)], context.log)
        yield from report_partitions(context, reports)

    return _gold


def _silver_hours_present(instance: dg.DagsterInstance, mart: Mart) -> set[str]:
    """The hours in which every silver table the mart reads has been materialized."""
    present: set[str] | None = None
    for table in mart.reads:
        keys = instance.get_materialized_partitions(dg.AssetKey(["silver", table]))
        present = keys if present is None else present & keys
    return present or set()


def completeness(present: set[str], start: datetime, end: datetime) -> dict[str, object]:
    """How many of a day's or week's hours the partition was built from: a partial one says so."""
    expected = [hour_key(h) for h in hours_in(start, end)]
    found = sum(1 for key in expected if key in present)
    state = "complete" if found == len(expected) else "partial"
    return {
        "silver_hours_present": found,
        "silver_hours_expected": len(expected),
        "completeness": f"{state}: built from {found} of {len(expected)} silver hours",
    }


def gold_assets(partitions: dict[str, dg.TimeWindowPartitionsDefinition]) -> list[dg.AssetsDefinition]:
    return [gold_asset(mart, partitions[mart.cadence]) for mart in MARTS]
