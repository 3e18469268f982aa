"""Envelope and payload validation: every bronze row either passes or gets its first failing rule and reason.

Envelope rules come first, then a failure to read a payload field as its type, then the event type's
Pandera schema (required fields, ranges, enumerations, id formats). Messages and metadata carry rule names
and counts only, never the values that failed.
"""

from datetime import datetime

import pandera.errors as pa_errors
import polars as pl

from mobility_lake.events.catalogue import SPEC_VERSION
from mobility_lake.placement import FUTURE_TOLERANCE
from mobility_lake.silver.rules import payload_schema, reason_for, rule_for
from mobility_lake.silver.tables import SilverTable

ROW = "_row"


def envelope_failures(frame: pl.DataFrame, table: SilverTable, first_hour: datetime) -> pl.DataFrame:
    """(row, rule, reason) of rows whose envelope fails, the first failing rule only."""
    empty = lambda c: pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")  # noqa: E731
    has_struct = "data_struct" in frame.columns
    no_data = pl.col("data").is_null() & (pl.col("data_struct").is_null() if has_struct else pl.lit(True))
    rules: list[tuple[pl.Expr, str, pl.Expr | str]] = [
        (pl.col("error").is_not_null(), "bronze.parse", pl.col("error").str.extract(r"^([a-z_0-9]+)", 1)),
        (
            pl.col("specversion").fill_null("") != SPEC_VERSION,
            "envelope.specversion",
            "unsupported_specversion",
        ),
        (empty("id"), "envelope.id", "missing_id"),
        (empty("source"), "envelope.source", "missing_source"),
        (empty("type"), "envelope.type", "missing_type"),
        (~pl.col("type").is_in(table.full_types), "envelope.type", "unknown_type"),
        (empty("time"), "envelope.time", "missing_time"),
        (pl.col("event_time").is_null(), "envelope.time", "invalid_time"),
        (pl.col("event_hour") > pl.col("arrival_hour") + FUTURE_TOLERANCE, "envelope.time", "time_in_future"),
        (pl.col("event_hour") < first_hour, "envelope.time", "before_first_partition"),
        (no_data, "envelope.data", "missing_data"),
        (
            pl.col("data").is_not_null() & ~pl.col("data").str.starts_with("{"),
            "envelope.data",
            "invalid_data",
        ),
    ]
    hits = [condition.fill_null(False) for condition, _, _ in rules]
    rule = pl.lit(None, pl.String)
    reason = pl.lit(None, pl.String)
    for hit, (_, name, code) in reversed(list(zip(hits, rules, strict=True))):
        rule = pl.when(hit).then(pl.lit(name)).otherwise(rule)
        reason = pl.when(hit).then(code if isinstance(code, pl.Expr) else pl.lit(code)).otherwise(reason)
    return (  # the first failing rule is picked among the few failing rows only
        frame.filter(pl.any_horizontal(hits))
        .select(ROW, rule.alias("rule"), reason.alias("reason"))
        .drop_nulls("rule")
        .with_columns(pl.lit(0, pl.Int32).alias("priority"))
    )


def payload_failures(typed: pl.DataFrame, invalid_types: pl.DataFrame, table: SilverTable) -> pl.DataFrame:
    """(row, rule, reason, priority) of payload failures of rows that passed the envelope.

    `typed` holds ROW, `event_type` (short) and the typed payload columns; `invalid_types` the rows and
    fields whose value could not be read as the field's type.
    """
    failures = [invalid_types]
    for event_type in table.event_types:
        subset = typed.filter(pl.col("event_type") == event_type)
        if subset.height == 0:
            continue
        try:
            payload_schema(table, event_type).validate(subset, lazy=True)
        except pa_errors.SchemaErrors as errors:
            cases = errors.failure_cases.filter(pl.col("index").is_not_null()).with_columns(
                pl.when(pl.col("column").is_in(list(table.payload_columns)))
                .then(pl.col("column"))
                .alias("column")
            )
            if cases.height:
                rows = subset[ROW].gather(cases["index"].cast(pl.UInt32))
                failures.append(
                    pl.DataFrame(
                        {
                            ROW: rows,
                            "rule": [
                                rule_for(c, k) for c, k in zip(cases["column"], cases["check"], strict=True)
                            ],
                            "reason": [reason_for(k) for k in cases["check"]],
                            "priority": pl.Series(
                                [field_priority(table, c, schema_check=True) for c in cases["column"]],
                                dtype=pl.Int32,
                            ),
                        }
                    )
                )
    return pl.concat(failures, how="vertical")


def field_priority(table: SilverTable, column: str | None, schema_check: bool = False) -> int:
    """Order of payload failures: unreadable types before schema checks, fields in contract order."""
    names = list(table.payload_columns)
    position = names.index(column) if column in names else len(names)
    return (1000 if schema_check else 100) + position


def first_failure(failures: pl.DataFrame) -> pl.DataFrame:
    """One failure per row: envelope first, then payload fields in contract order; ties by rule name."""
    return failures.sort(ROW, "priority", "rule").unique(ROW, keep="first", maintain_order=True)
