"""The silver asset checks as plain functions over one hour's figures: each hour is judged on its own.

Results carry counts per rule and per reason; never a value, an id or a row.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import pandera.errors as pa_errors
import polars as pl

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
    repeated_elsewhere: int = 0  # identities the hour shares with other silver hours of the window
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


def schema_check(figures: HourFigures) -> CheckOutcome:
    """The silver table's Pandera schema over the hour's rows as written, failing rows counted per rule."""
    return CheckOutcome(
        CHECK_SCHEMA,
        not figures.schema_failures,
        {
            "rows_checked": figures.silver_rows,
            "failing_rows_by_rule": dict(sorted(figures.schema_failures.items())),
        },
    )


def unique_check(figures: HourFigures) -> CheckOutcome:
    """No event identity (`event_source`, `event_id`) appears twice in the hour as written, nor in the hour
    and another silver hour of the lateness window."""
    return CheckOutcome(
        CHECK_UNIQUE,
        figures.repeated_identities == 0 and figures.repeated_elsewhere == 0,
        {
            "rows_checked": figures.silver_rows,
            "repeated_identities": figures.repeated_identities,
            "identities_also_in_other_hours": figures.repeated_elsewhere,
        },
    )


def conservation_check(figures: HourFigures) -> CheckOutcome:
    """Bronze rows placed in the hour = silver rows + quarantined rows + duplicates removed."""
    return CheckOutcome(CHECK_CONSERVATION, figures.conserved, hour_counts(figures))


def quarantine_share_check(figures: HourFigures, max_share: float, min_rows: int) -> CheckOutcome:
    """The share of the hour's bronze rows quarantined stays under `max_share`. An hour of fewer than
    `min_rows` bronze rows is too small to judge (one bad event of five is not a broken feed): it passes,
    and says it was not judged. The verdict depends on the hour alone, never on the hours run with it."""
    share = figures.quarantine_rows / figures.bronze_rows if figures.bronze_rows else 0.0
    judged = figures.bronze_rows >= min_rows
    return CheckOutcome(
        CHECK_QUARANTINE_SHARE,
        share <= max_share or not judged,
        {
            "quarantine_share": round(share, 6),
            "max_quarantine_share": max_share,
            "bronze_rows": figures.bronze_rows,
            "min_rows_to_judge": min_rows,
            "judged": judged,
            "quarantined_rows_by_reason": dict(sorted(figures.quarantine_by_reason.items())),
        },
    )


def hour_counts(figures: HourFigures) -> dict[str, int]:
    """The hour's own row counts: what its materialization shows."""
    return {
        "bronze_rows": figures.bronze_rows,
        "silver_rows": figures.silver_rows,
        "quarantined_rows": figures.quarantine_rows,
        "duplicates_removed": figures.duplicates,
    }


def hour_checks(figures: HourFigures, max_share: float, min_rows: int) -> list[CheckOutcome]:
    """Every silver check of one hour."""
    return [
        schema_check(figures),
        unique_check(figures),
        conservation_check(figures),
        quarantine_share_check(figures, max_share, min_rows),
    ]
