"""Dagster adapters of bronze: one hourly asset per topic, partitioned by arrival hour.

Each asset lists its topic's hour folders and hands them to the ingest core. A run covers a range of hours
(a backfill's runs up to `partitions.PARTITIONS_PER_RUN` each), since every run pays process start-up.
"""

from collections.abc import Iterator
from datetime import timedelta

import dagster as dg

from mobility_lake.bronze.ingest import IngestReport, bronze_schema, ingest_by_hour
from mobility_lake.bronze.meanings import BRONZE_MEANINGS
from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, encode_new_rows
from mobility_lake.columns import table_schema
from mobility_lake.events.catalogue import TOPICS, Topic
from mobility_lake.gdpr.keys import LAYER as KEYS_LAYER
from mobility_lake.gdpr.keys import TABLE as KEYS_TABLE
from mobility_lake.lineage import column_lineage_metadata, landing_schema
from mobility_lake.orchestration.reports import PartitionReport, report_partitions
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.orchestration.retries import retry_transient
from mobility_lake.orphans import tidy
from mobility_lake.partitions import BACKFILL_POLICY, hour_key, hours_in
from mobility_lake.placement import due_hours


def landing_key(topic: Topic) -> dg.AssetKey:
    return dg.AssetKey(["landing", topic.bronze_table])


def bronze_key(topic: Topic) -> dg.AssetKey:
    return dg.AssetKey(["bronze", topic.bronze_table])


def landing_specs() -> list[dg.AssetSpec]:
    """The Kafka topics as external assets, so lineage starts where the data comes from."""
    return [
        dg.AssetSpec(
            landing_key(topic),
            description=(
                f"Files the Kafka sink writes for topic `{topic.name}` into hourly arrival folders under "
                f"landing/{topic.name}/; bronze/{topic.bronze_table} archives them."
            ),
            group_name="landing",
            kinds={"kafka"},
            metadata={"topic": topic.name, "dagster/column_schema": landing_schema(landing_key(topic))},
        )
        for topic in TOPICS
    ]


def bronze_asset(topic: Topic, partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=bronze_key(topic),
        deps=[landing_key(topic)],
        partitions_def=partitions_def,
        backfill_policy=BACKFILL_POLICY,
        group_name="bronze",
        kinds={"delta", "polars"},
        metadata={
            "dagster/column_schema": table_schema(
                bronze_key(topic), bronze_schema(topic.bronze_table), BRONZE_MEANINGS
            ),
            **column_lineage_metadata(bronze_key(topic)),
        },
        description=(
            f"Every event landed on `{topic.name}`, raw and append-only, with the landing file, line or row "
            "number and ingestion time. Partitioned by arrival hour; each file is ingested exactly once."
        ),
    )
    def _bronze(context: dg.AssetExecutionContext, lake: LakeResource) -> Iterator[dg.MaterializeResult]:
        window = context.partition_time_window
        handle = lake.writing(context.log.info)
        with retry_transient(context):
            by_hour = ingest_by_hour(handle, topic.bronze_table, hours_in(window.start, window.end))
            tidy(handle, [("bronze", topic.bronze_table), (KEYS_LAYER, KEYS_TABLE)], context.log)
        reports = []
        for hour, report in by_hour.items():
            context.log.info(
                f"{topic.bronze_table} {hour_key(hour)}: {report.files_added} file(s) added, "
                f"{report.files_already_ingested} already ingested, {report.rows_added} row(s)"
            )
            late = due_hours(
                [(h, e, n) for (h, e), n in report.event_hours.items()],
                partitions_def.start,
                timedelta(hours=lake.lateness_hours),
            )
            if report.undeclared:
                fields = ", ".join(f"{name} {n}" for name, n in sorted(report.undeclared.items()))
                context.log.warning(
                    f"{topic.bronze_table} {hour_key(hour)}: payload fields the catalogue does not declare, kept "
                    f"in bronze only (rows): {fields}; docs/schema.md says how to declare one"
                )
            if late.rows_too_late:
                context.log.warning(
                    f"{topic.bronze_table} {hour_key(hour)}: {late.rows_too_late} new row(s) more than "
                    f"{lake.lateness_hours} h late stay in bronze until their silver hour is re-run"
                )
            reports.append(PartitionReport(hour_key(hour), _hour_metadata(report, late.rows_too_late)))
        yield from report_partitions(context, reports)

    return _bronze


def _hour_metadata(report: IngestReport, rows_too_late: int) -> dict[str, object]:
    """What one arrival hour's run added: counts and reason codes, what it skipped and left unplaced; and,
    for the late-data sensor, its new rows per event hour."""
    return {
        "files_added": report.files_added,
        "files_already_ingested": report.files_already_ingested,
        "files_skipped": report.files_skipped,
        "rows_too_late": rows_too_late,
        "rows_added": report.rows_added,
        "error_rows_by_reason": dict(sorted(report.errors.items())),
        "undeclared_field_rows": dict(sorted(report.undeclared.items())),
        NEW_ROWS_METADATA: encode_new_rows(report.event_hours),
    }


def bronze_assets(partitions_def: dg.TimeWindowPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [bronze_asset(topic, partitions_def) for topic in TOPICS]
