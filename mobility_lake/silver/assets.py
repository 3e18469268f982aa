"""Dagster adapters of silver: one hourly asset per silver table, partitioned by event time, with its checks.

Checks are declared on the asset and computed in the same step from what was written; all are blocking,
so a failure stops downstream in the run, and gold's automation requires them passed across runs.
"""

import dagster as dg

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.columns import table_schema
from mobility_lake.events.catalogue import TOPICS_BY_TABLE
from mobility_lake.lineage import column_lineage_metadata
from mobility_lake.partitions import SINGLE_RUN, hour_key, hours_in
from mobility_lake.resources import LakeResource, QualityPolicy
from mobility_lake.silver import quality
from mobility_lake.silver.pipeline import HourFigures, materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_TABLES, SilverTable
from mobility_lake.silver.transforms import silver_columns

CHECK_DESCRIPTIONS = {
    quality.CHECK_SCHEMA: "Rows written match the table's Pandera schema (types, ranges, enumerations, id formats).",
    quality.CHECK_UNIQUE: "No (event_source, event_id) appears twice.",
    quality.CHECK_CONSERVATION: "Per hour: bronze rows = silver rows + quarantined rows + duplicates removed.",
    quality.CHECK_QUARANTINE_SHARE: "The quarantined share of bronze rows stays under max_quarantine_share.",
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
        backfill_policy=SINGLE_RUN,
        group_name="silver",
        kinds={"delta", "polars", "pandera"},
        metadata={
            "dagster/column_schema": table_schema(silver_columns(table)),
            **column_lineage_metadata(key),
        },
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, blocking=True, description=text)
            for name, text in CHECK_DESCRIPTIONS.items()
        ],
        description=(
            f"Typed, validated events of `{table.bronze_table}` ({', '.join(table.event_types)}), one row per "
            "(source, id), in the hour of their event time; rejected rows in quarantine/" + table.name + "."
        ),
    )
    def _silver(
        context: dg.AssetExecutionContext, lake: LakeResource, quality_policy: QualityPolicy
    ) -> dg.MaterializeResult:
        window = context.partition_time_window
        handle = lake.lake()
        reference = reference_data()
        figures: list[HourFigures] = []
        for hour in hours_in(window.start, window.end):
            hour_figures = materialize_hour(handle, table, hour, first_hour, reference)
            figures.append(hour_figures)
            context.log.info(
                f"{table.name} {hour_key(hour)}: {hour_figures.bronze_rows} bronze rows -> {hour_figures.silver_rows} "
                f"silver, {hour_figures.quarantine_rows} quarantined, {hour_figures.duplicates} duplicates"
            )
        outcomes = [
            quality.schema_check(figures),
            quality.unique_check(figures),
            quality.conservation_check(figures),
            quality.quarantine_share_check(figures, quality_policy.max_quarantine_share),
        ]
        conservation = outcomes[2].metadata
        return dg.MaterializeResult(
            metadata={
                "bronze_rows": conservation["bronze_rows"],
                "silver_rows": conservation["silver_rows"],
                "quarantined_rows": conservation["quarantined_rows"],
                "duplicates_removed": conservation["duplicates_removed"],
            },
            check_results=[
                dg.AssetCheckResult(check_name=o.name, passed=o.passed, metadata=o.metadata) for o in outcomes
            ],
        )

    return _silver


def silver_assets(partitions_def: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [silver_asset(table, partitions_def) for table in SILVER_TABLES]
