"""Each partition of a run, range runs included, shows its own figures and its own check results.

A single-run range attaches a step's `MaterializeResult` to every partition of the range (dagster issue
#21072), and an `AssetCheckResult` there gets no partition at all. So figures go to each partition with
`add_asset_metadata(partition_key=...)`, and each check result is one `AssetCheckEvaluation` per partition
that points at the partition's materialization in this run: the pointer is what makes the Checks tab, the
partition view and automation's `check_passed()` count the result for that partition.
"""

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg

from mobility_lake.silver.quality import CheckOutcome


@dataclass(frozen=True)
class PartitionReport:
    """What one partition's materialization shows: its own figures and its own check outcomes."""

    partition: str
    metadata: Mapping[str, object]
    checks: Sequence[CheckOutcome] = ()


def report_partitions(
    context: dg.AssetExecutionContext, reports: Sequence[PartitionReport]
) -> Iterator[dg.MaterializeResult | dg.Output | dg.AssetCheckEvaluation]:
    """Yield the step's materialization with each partition's own metadata, then each partition's result
    of every check selected in the run."""
    key = context.asset_key
    for report in reports:
        context.add_asset_metadata(dict(report.metadata), partition_key=report.partition)
    yield dg.MaterializeResult()
    selected = {}
    for output_name, spec in context.assets_def.check_specs_by_output_name.items():
        selected[spec.name] = output_name
        yield dg.Output(None, output_name=output_name)  # what `AssetCheckResult` would yield for the check
    targets = _this_runs_materializations(context, key, [r.partition for r in reports])
    for report in reports:
        for outcome in report.checks:
            if outcome.name not in selected:
                continue
            yield dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=outcome.name,
                passed=outcome.passed,
                metadata=dict(outcome.metadata),
                target_materialization_data=targets.get(report.partition),
                blocking=True,
                partition=report.partition,
            )


def _this_runs_materializations(
    context: dg.AssetExecutionContext, key: dg.AssetKey, partitions: list[str]
) -> dict[str, object]:
    """Per partition, a pointer to the materialization this run just recorded (newest first; another run
    may have materialized the same partition since, so the run id decides)."""
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions), limit=4 * len(partitions)
    ).records
    targets: dict[str, object] = {}
    for record in records:
        if record.run_id == context.run.run_id and record.partition_key not in targets:
            targets[record.partition_key] = _target(record)
    return targets


def _target(record: dg.EventLogRecord) -> object:
    """The evaluation's pointer to a materialization. Dagster 1.13 exports no constructor for it; it is a
    record of the event log, whose stored form Dagster must keep readable across versions, so it is built
    from that form with the public `deserialize_value` rather than from a private module."""
    return dg.deserialize_value(
        json.dumps(
            {
                "__class__": "AssetCheckEvaluationTargetMaterializationData",
                "storage_id": record.storage_id,
                "run_id": record.run_id,
                "timestamp": record.timestamp,
            }
        )
    )
