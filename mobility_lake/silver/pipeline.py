"""Silver hour by hour: read the bronze rows placed in the hour, build, write, and measure what was written.

Each hour is written as two window replacements, the silver table's and its quarantine's, so re-running
an hour (or a range) gives the same tables. The figures returned are what the asset checks judge: the
conservation figures are read back from the tables, not taken from memory.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import polars as pl

from mobility_lake.bronze.ingest import bronze_schema
from mobility_lake.bronze.ledger import arrival_date
from mobility_lake.placement import FUTURE_TOLERANCE, silver_hour
from mobility_lake.silver.fx import load_fx_rates
from mobility_lake.silver.tables import SilverTable
from mobility_lake.silver.transforms import QUARANTINE, Reference, SilverResult, build_silver, silver_columns
from mobility_lake.silver.zones import load_zones
from mobility_lake.storage import Lake, sql_literal

HOUR = timedelta(hours=1)


@dataclass
class HourFigures:
    """What one silver hour holds after its write; counts and reason codes only."""

    hour: datetime
    bronze_rows: int
    duplicates: int
    silver_rows: int
    quarantine_rows: int
    quarantine_by_reason: Counter = field(default_factory=Counter)

    @property
    def conserved(self) -> bool:
        return self.bronze_rows == self.silver_rows + self.quarantine_rows + self.duplicates


@lru_cache(maxsize=1)
def reference_data() -> Reference:
    return Reference(zones=load_zones(), fx_rates=load_fx_rates())


def bronze_rows_for_hour(
    lake: Lake, table: SilverTable, hour: datetime, first_hour: datetime
) -> pl.DataFrame:
    """Every bronze row placed in `hour`, whichever arrival hour it landed in (never bounded above: a
    re-run also finds events later than the lateness window)."""
    scan = lake.scan("bronze", table.bronze_table)
    if scan is None:
        return pl.DataFrame(schema=bronze_schema(table.bronze_table))
    earliest = arrival_date(hour - FUTURE_TOLERANCE)
    placed = silver_hour(pl.col("event_hour"), pl.col("arrival_hour"), first_hour)
    return (
        scan.filter(pl.col("arrival_date") >= earliest)
        .filter((pl.col("event_hour") == hour) | (pl.col("arrival_hour") == hour))
        .filter(placed == hour)
        .collect()
    )


def window_predicate(time_column: str, date_column: str, hour: datetime) -> str:
    """The rows of one hour, with the partition column named so delta-rs touches one date's files."""
    return (
        f"{date_column} = {sql_literal(hour.date().isoformat())} AND {time_column} >= {sql_literal(hour)} "
        f"AND {time_column} < {sql_literal(hour + HOUR)}"
    )


def write_hour(lake: Lake, table: SilverTable, hour: datetime, result: SilverResult) -> None:
    lake.replace_where(
        "silver",
        table.name,
        result.silver,
        window_predicate("event_time", "date", hour),
        partition_by=["date"],
    )
    lake.replace_where(
        "quarantine",
        table.name,
        result.quarantine,
        window_predicate("partition_hour", "partition_date", hour),
        partition_by=["partition_date"],
    )


def count_written(lake: Lake, layer: str, table: str, column: str, hour: datetime) -> int:
    scan = lake.scan(layer, table)
    if scan is None:
        return 0
    in_hour = (pl.col(column) >= hour) & (pl.col(column) < hour + HOUR)
    return scan.filter(in_hour).select(pl.len()).collect().item()


def materialize_hour(
    lake: Lake, table: SilverTable, hour: datetime, first_hour: datetime, reference: Reference
) -> tuple[SilverResult, HourFigures]:
    bronze = bronze_rows_for_hour(lake, table, hour, first_hour)
    result = build_silver(bronze, table, hour, first_hour, reference)
    write_hour(lake, table, hour, result)
    figures = HourFigures(
        hour=hour,
        bronze_rows=result.bronze_rows,
        duplicates=result.duplicates,
        silver_rows=count_written(lake, "silver", table.name, "event_time", hour),
        quarantine_rows=count_written(lake, "quarantine", table.name, "partition_hour", hour),
        quarantine_by_reason=Counter(dict(result.quarantine.group_by("reason").len().iter_rows())),
    )
    return result, figures


def empty_tables(table: SilverTable) -> tuple[pl.Schema, pl.Schema]:
    return pl.Schema(silver_columns(table)), pl.Schema(QUARANTINE)
