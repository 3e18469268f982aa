"""Dagster adapters of silver: one hourly asset per silver table, partitioned by event time, with its checks.

Checks are declared on the asset with its hourly partitions and computed in the same step from what was
written, hour by hour: each hour of a range run shows its own figures and its own verdicts. All checks are
blocking, so a failure stops downstream in the run, and gold's automation requires them passed across runs.
"""

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.columns import table_schema
from mobility_lake.events.catalogue import TOPICS_BY_TABLE
from mobility_lake.lineage import column_lineage_metadata
from mobility_lake.orchestration.reports import PartitionReport, report_partitions
from mobility_lake.orchestration.resources import LakeResource, QualityPolicy
from mobility_lake.orchestration.retries import retry_transient
from mobility_lake.orphans import tidy
from mobility_lake.partitions import BACKFILL_POLICY, hour_key, hours_in
from mobility_lake.silver import quality
from mobility_lake.silver.meanings import silver_meanings
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_TABLES, SilverTable
from mobility_lake.silver.transforms import silver_columns

CHECK_DESCRIPTIONS = {
    quality.CHECK_SCHEMA: "Rows written match the table's Pandera schema (types, ranges, enumerations, id formats).",
    quality.CHECK_UNIQUE: (
        "No (event_source, event_id) appears twice in the hour, nor in the hour and another silver hour "
        "within MOBILITY_LAKE_LATENESS_HOURS of it."
    ),
    quality.CHECK_CONSERVATION: "The hour's bronze rows = silver rows + quarantined rows + duplicates removed.",
    quality.CHECK_QUARANTINE_SHARE: (
        "The hour's quarantined share of bronze rows stays under MOBILITY_LAKE_MAX_QUARANTINE_SHARE; an hour "
        "of fewer than MOBILITY_LAKE_QUARANTINE_MIN_ROWS bronze rows is not judged."
    ),
}


def silver_key(table: SilverTable) -> dg.AssetKey:
    return dg.AssetKey(["silver", table.name])


def silver_asset(
    table: SilverTable, partitions_def: dg.TimeWindowPartitionsDefinition
) -> dg.AssetsDefinition:
    key = silver_key(table)
    first_hour = partitions_def.start

    @dg.asset(
        key=key,
        deps=[bronze_key(TOPICS_BY_TABLE[table.bronze_table])],
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name="silver",
        kinds={"delta", "polars", "pandera"},
        metadata={
            "dagster/column_schema": table_schema(key, silver_columns(table), silver_meanings(table)),
            **column_lineage_metadata(key),
        },
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, blocking=True, description=text, partitions_def=partitions_def)
            for name, text in CHECK_DESCRIPTIONS.items()
        ],
        description=(
            f"Typed, validated events of bronze/{table.bronze_table} (topic "
            f"{TOPICS_BY_TABLE[table.bronze_table].name}: {', '.join(table.event_types)}), one "
            "row per (source, id), in the hour of their event time; rejected rows in quarantine/"
            + table.name
            + "."
        ),
    )
    def _silver(
        context: dg.AssetExecutionContext, lake: LakeResource, quality_policy: QualityPolicy
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
        window = context.partition_time_window
        handle = lake.writing(context.log.info)
        reference = reference_data()
        reports = []
        with retry_transient(context):
            for hour in hours_in(window.start, window.end):
                figures = materialize_hour(
                    handle, table, hour, first_hour, reference, timedelta(hours=lake.lateness_hours)
                )
                context.log.info(
                    f"{table.name} {hour_key(hour)}: {figures.bronze_rows} bronze rows -> {figures.silver_rows} "
                    f"silver, {figures.quarantine_rows} quarantined, {figures.duplicates} duplicates"
                )
                checks = quality.hour_checks(
                    figures, quality_policy.max_quarantine_share, quality_policy.quarantine_min_rows
                )
                reports.append(PartitionReport(hour_key(hour), quality.hour_counts(figures), checks))
            tidy(handle, [("silver", table.name), ("quarantine", table.name)], context.log)
        yield from report_partitions(context, reports)

    return _silver


def silver_assets(partitions_def: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [silver_asset(table, partitions_def) for table in SILVER_TABLES]
