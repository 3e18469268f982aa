"""The silver asset checks as plain functions over the written rows and the per-hour figures.

Results carry counts per rule, per reason and per hour; never a value, an id or a row.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandera.errors as pa_errors
import polars as pl

from mobility_lake.partitions import hour_key
from mobility_lake.silver.rules import rule_for, silver_schema
from mobility_lake.silver.tables import SilverTable
from mobility_lake.silver.transforms import ENVELOPE, derived_columns

CHECK_SCHEMA = "silver_schema"
CHECK_UNIQUE = "unique_identity"
CHECK_CONSERVATION = "conservation"
CHECK_QUARANTINE_SHARE = "quarantine_share"


@dataclass
class HourFigures:
    """What one silver hour holds after its write; counts, rule names and reason codes only."""

    hour: datetime
    bronze_rows: int = 0
    duplicates: int = 0
    silver_rows: int = 0
    quarantine_rows: int = 0
    repeated_identities: int = 0
    quarantine_by_reason: Counter = field(default_factory=Counter)
    schema_failures: Counter = field(default_factory=Counter)

    @property
    def conserved(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantine_rows + self.duplicates


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    metadata: dict[str, object]


def schema_failures(frame: pl.DataFrame, table: SilverTable) -> Counter:
    """Rows of `frame` failing the silver table's Pandera schema, counted per rule."""
    failures: Counter = Counter()
    try:
        silver_schema(table, ENVELOPE, derived_columns(table)).validate(
            frame.drop("landing_file", "record_number", "ingested_at"), lazy=True
        )
    except pa_errors.SchemaErrors as errors:
        for column, check, count in errors.failure_cases.group_by("column", "check").len().iter_rows():
            failures[rule_for(column, check)] += count
    return failures


def schema_check(figures: list[HourFigures]) -> CheckOutcome:
    """The silver table's Pandera schema over every row written, failing rows counted per rule."""
    failures: Counter = Counter()
    for f in figures:
        failures.update(f.schema_failures)
    return CheckOutcome(
        CHECK_SCHEMA,
        not failures,
        {
            "rows_checked": sum(f.silver_rows for f in figures),
            "failing_rows_by_rule": dict(sorted(failures.items())),
        },
    )


def unique_check(figures: list[HourFigures]) -> CheckOutcome:
    """No event identity (`event_source`, `event_id`) appears twice in an hour as written."""
    repeated = sum(f.repeated_identities for f in figures)
    return CheckOutcome(
        CHECK_UNIQUE,
        repeated == 0,
        {"rows_checked": sum(f.silver_rows for f in figures), "repeated_identities": repeated},
    )


def conservation_check(figures: list[HourFigures]) -> CheckOutcome:
    """Per hour: bronze rows = silver rows + quarantined rows + duplicates removed."""
    broken = [f for f in figures if not f.conserved]
    return CheckOutcome(
        CHECK_CONSERVATION,
        not broken,
        {
            "bronze_rows": sum(f.bronze_rows for f in figures),
            "silver_rows": sum(f.silver_rows for f in figures),
            "quarantined_rows": sum(f.quarantine_rows for f in figures),
            "duplicates_removed": sum(f.duplicates for f in figures),
            "hours_checked": len(figures),
            "hours_not_conserved": [hour_key(f.hour) for f in broken],
        },
    )


def quarantine_share_check(figures: list[HourFigures], max_share: float) -> CheckOutcome:
    """The share of bronze rows quarantined stays under the threshold; rows counted per reason."""
    bronze = sum(f.bronze_rows for f in figures)
    quarantined = sum(f.quarantine_rows for f in figures)
    reasons: Counter = Counter()
    for f in figures:
        reasons.update(f.quarantine_by_reason)
    share = quarantined / bronze if bronze else 0.0
    return CheckOutcome(
        CHECK_QUARANTINE_SHARE,
        share <= max_share,
        {
            "quarantine_share": round(share, 6),
            "max_quarantine_share": max_share,
            "quarantined_rows_by_reason": dict(sorted(reasons.items())),
        },
    )
