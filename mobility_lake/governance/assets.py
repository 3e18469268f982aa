"""The audit log as an asset in the UI: an observable source (nothing materializes it; queries and GDPR
requests append to it), observed on demand or by each retention run, its version as the data version."""

import warnings
from collections.abc import Iterator

import dagster as dg
import polars as pl

from mobility_lake.governance import audit
from mobility_lake.storage import Lake

# Observable source assets are beta in Dagster 1.13; the audit log is no asset Dagster could materialize.
warnings.filterwarnings("ignore", message="Function `multi_observable_source_asset`", category=dg.BetaWarning)
KEY = dg.AssetKey([audit.LAYER, audit.TABLE])
MEANINGS = {
    "time": "When the query or request was made (UTC).",
    "date": "The day of `time`: the partition retention deletes whole.",
    "entry_id": "Unique id of the row.",
    "user": "Who asked: MOBILITY_LAKE_USER, else the operating-system login.",
    "role": "The role the query ran as (--role, else MOBILITY_LAKE_ROLE).",
    "action": "query, gdpr_export, gdpr_erase, retention or replay.",
    "statement": "The statement with literals as ?, no comments, names the lake does not define renamed.",
    "tables": "The layer.table names the statement reads (or retention changed).",
    "rows": "Rows returned (query), records exported, or rows retention moved or deleted.",
    "outcome": "ok, denied (the role may not read a table), refused (not a query the engine runs) or failed.",
    "reason": "The refusal kind, the denied table, or the kind of error; never a value.",
    "subject_sha256": "GDPR requests: sha256 of a fresh salt and the user id; the salt is only on the receipt.",
    "request_id": "The GDPR request's or retention pass's id.",
}


def observation(lake: Lake) -> tuple[dg.DataVersion, dict]:
    """The log's Delta version and figures a reader of the UI wants: rows, and denied or refused ones."""
    table = lake.delta_table(audit.LAYER, audit.TABLE)
    if table is None:
        return dg.DataVersion("none"), {"rows": 0}
    counts = (
        lake.scan(audit.LAYER, audit.TABLE)
        .group_by("outcome")
        .agg(pl.len().alias("n"), pl.col("time").max().alias("last"))
        .collect()
    )
    by_outcome = dict(zip(counts["outcome"].to_list(), counts["n"].to_list(), strict=True))
    last = counts["last"].max()
    return dg.DataVersion(str(table.version())), {
        "rows": int(sum(by_outcome.values())),
        **{f"{outcome} rows": int(by_outcome.get(outcome, 0)) for outcome in audit.OUTCOMES},
        "last entry": dg.MetadataValue.timestamp(last) if last is not None else "none",
        "delta version": table.version(),
    }


@dg.multi_observable_source_asset(
    specs=[
        dg.AssetSpec(
            KEY,
            group_name="governance",
            description="Every query (allowed, denied or refused), GDPR request and retention pass, appended "
            "by `mobility-lake` (Delta, `audit.query_log`, readable by admin only; docs/governance.md). "
            "Observe to refresh its figures.",
            kinds={"delta"},
            metadata={
                "dagster/column_schema": dg.TableSchema(
                    columns=[
                        dg.TableColumn(name, str(dtype), description=MEANINGS[name])
                        for name, dtype in audit.SCHEMA.items()
                    ]
                ),
                "dagster/table_name": "audit.query_log",
            },
        )
    ],
    required_resource_keys={"lake"},
)
def audit_query_log(context) -> Iterator[dg.ObserveResult]:
    version, metadata = observation(context.resources.lake.lake())
    yield dg.ObserveResult(asset_key=KEY, data_version=version, metadata=metadata)
