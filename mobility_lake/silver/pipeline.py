"""Silver hour by hour: read the bronze rows placed in the hour, build, write, and measure what was written.

An hour is processed in parts of bronze rows, every copy of an event in the same part, so that each part
sorts out its own copies and memory holds one part at a time; the parts are read straight from bronze's
data files (`hour_rows.py`). Copies in other hours are looked up once per hour, before the parts
(`identity.py`). The parts stream into one Delta commit per table (silver, then quarantine) that replaces
the hour's window, so re-running an hour or a range gives the same tables. The figures returned are what
the asset checks judge; row counts and identity uniqueness are read back from the tables, not taken from
memory.
"""

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import polars as pl

from mobility_lake.gdpr.keys import keys_by_id
from mobility_lake.parts import spill_directory, spilled
from mobility_lake.settings import DEFAULT_LATENESS_HOURS
from mobility_lake.silver.fx import load_fx_rates
from mobility_lake.silver.hour_rows import census, hour_files, placed_in, scan_files
from mobility_lake.silver.identity import (
    earlier_copies,
    held_twice,
    identity_hash,
    repeated_elsewhere,
    silver_hour_hashes,
    silver_hour_rows,
)
from mobility_lake.silver.quality import HourFigures, schema_failures
from mobility_lake.silver.tables import SilverTable
from mobility_lake.silver.transforms import QUARANTINE, Reference, build_silver, silver_columns
from mobility_lake.silver.zones import load_zones
from mobility_lake.storage import Lake, window_predicate

HOUR = timedelta(hours=1)


@lru_cache(maxsize=1)
def reference_data() -> Reference:
    return Reference(zones=load_zones(), fx_rates=load_fx_rates())


def placed_rows(lake: Lake, table: SilverTable, hour: datetime, first_hour: datetime) -> pl.LazyFrame | None:
    """Every bronze row placed in `hour`, whichever arrival hour it landed in; None before bronze has a table."""
    found = hour_files(lake, table, hour)
    return None if found is None else scan_files(lake, *found).filter(placed_in(hour, first_hour))


def materialize_hour(
    lake: Lake,
    table: SilverTable,
    hour: datetime,
    first_hour: datetime,
    reference: Reference,
    lateness: timedelta = timedelta(hours=DEFAULT_LATENESS_HOURS),
) -> HourFigures:
    """Build and write one silver hour and its quarantine; return the figures the checks judge."""
    with spill_directory() as spill:
        return _materialize_hour(lake, table, hour, first_hour, reference, lateness, spill)


def _materialize_hour(
    lake: Lake,
    table: SilverTable,
    hour: datetime,
    first_hour: datetime,
    reference: Reference,
    lateness: timedelta,
    spill: Path,
) -> HourFigures:
    planned = census(lake, table, hour, first_hour)
    rows, earlier = None, None
    if planned is not None and planned[0].rows:
        rows, hashes = planned
        earlier = earlier_copies(lake, table.bronze_table, hour, first_hour, lateness, rows.scan, hashes)
        del hashes, planned  # the parts hold memory, not the hour's hashes
    figures = HourFigures(hour)
    quarantined: list[pl.LazyFrame] = []

    def silver_chunks() -> Iterator[pl.DataFrame]:
        figures.bronze_rows = figures.duplicates = 0
        figures.schema_failures.clear()
        quarantined.clear()
        for part, single_copies in () if rows is None else rows.parts(spill):
            result = build_silver(
                part,
                table,
                hour,
                first_hour,
                reference,
                earlier,
                lambda ids: keys_by_id(lake, ids),
                single_copies,
            )
            figures.bronze_rows += result.bronze_rows
            figures.duplicates += result.duplicates
            figures.schema_failures.update(schema_failures(result.silver, table))
            quarantined.append(spilled(result.quarantine, spill / f"quarantine-{len(quarantined)}.arrow"))
            yield result.silver

    schema = pl.Schema(silver_columns(table))
    lake.replace_window_streaming(
        "silver", table.name, schema, silver_chunks, "event_time", hour, hour + HOUR, "date"
    )
    quarantine = pl.concat(quarantined).collect() if quarantined else pl.DataFrame(schema=QUARANTINE)
    lake.replace_where(
        "quarantine",
        table.name,
        quarantine,
        window_predicate("partition_hour", hour, hour + HOUR, "partition_date"),
        partition_by=["partition_date"],
    )
    figures.quarantine_by_reason = Counter(dict(quarantine.group_by("reason").len().iter_rows()))
    scan = lake.scan("silver", table.name)
    hashes = silver_hour_hashes(scan, hour).sort()  # read once for both identity figures
    figures.silver_rows, figures.repeated_identities = _read_back_silver(lake, table, hour, hashes)
    figures.repeated_elsewhere = repeated_elsewhere(lake, table.name, hour, lateness, hashes)
    figures.quarantine_rows = _count(lake, "quarantine", table.name, "partition_hour", hour)
    return figures


def _in_hour(column: str, hour: datetime) -> pl.Expr:
    return (pl.col(column) >= hour) & (pl.col(column) < hour + HOUR)


def _count(lake: Lake, layer: str, table: str, column: str, hour: datetime) -> int:
    scan = lake.scan(layer, table)
    return 0 if scan is None else scan.filter(_in_hour(column, hour)).select(pl.len()).collect().item()


def _read_back_silver(
    lake: Lake, table: SilverTable, hour: datetime, hashes: pl.Series | None = None
) -> tuple[int, int]:
    """Rows in the silver hour as written, and how many of them repeat an identity (hash, then exact);
    `hashes` are the hour's identity hashes, sorted, when the caller has them already.

    Only the identity hashes are held (8 bytes a row, streamed from the table), and repeats are found by
    sorting them: the identities themselves, or a hash table of 180M rows, would not fit in the memory bound.
    """
    scan = lake.scan("silver", table.name)
    if scan is None:
        return 0, 0
    if hashes is None:
        hashes = silver_hour_hashes(scan, hour).sort()
    repeated = held_twice(hashes)
    if repeated.is_empty():
        return hashes.len(), 0
    identity = identity_hash("event_source", "event_id")
    exact = (
        silver_hour_rows(scan, hour)
        .select("event_source", "event_id")
        .filter(identity.is_in(repeated.implode()))
        .collect()
    )
    return hashes.len(), int(exact.is_duplicated().sum())
