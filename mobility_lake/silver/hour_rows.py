"""A silver hour's bronze rows, in parts read straight from bronze's data files: no second copy of the hour.

Each part is sorted out on its own, so every copy of an event must be in the same part. Most events have one
copy in their hour, so parts can be any sets of bronze files as long as the repeated identities travel
together. A first pass, the census, reads only the placement and identity columns: it counts the hour's rows
in each data file and finds the identity hashes held by more than one row. Files are then grouped into parts
of about `parts.PART_ROWS` rows, each part is read alone (only its files), its rows of a repeated identity are set
aside in local files, and those form one last part, where each repeated identity meets all its copies.

An hour whose repeated rows would not fit in one part (a whole file delivered twice, say) is split by a hash
of the source through local files instead (`parts.py`): slower, and exact for any hour.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from mobility_lake import parts
from mobility_lake.bronze.history import landed_data_files
from mobility_lake.bronze.ledger import arrival_date
from mobility_lake.placement import FUTURE_TOLERANCE, silver_hour
from mobility_lake.silver.identity import held_twice, identity_hash
from mobility_lake.silver.tables import SilverTable
from mobility_lake.storage import Lake

# The bronze columns silver reads; the rest (traceparent, dataschema, raw text, ...) stay in bronze.
BRONZE_INPUT = (
    "specversion", "id", "source", "type", "time", "subject", "data", "error",
    "record_number", "landing_file", "ingested_at", "arrival_hour", "event_hour", "event_time", "subject_key",
)  # fmt: skip
FILE = "_file"
IDENTIFIED = pl.col("source").is_not_null() & pl.col("id").is_not_null()


@dataclass(frozen=True)
class HourRows:
    """The hour's placed rows: how many, and its parts."""

    rows: int
    scan: pl.LazyFrame  # every placed row, unread
    file_parts: list[pl.LazyFrame]  # the placed rows of each part's files; none when split by source
    repeated: pl.Series  # identity hashes held by more than one row of the hour

    def parts(self, spill: Path) -> Iterator[tuple[pl.DataFrame, bool]]:
        """The hour's rows part by part, every copy of an identity in the same part, each part with whether
        its identities have a single copy in the hour (no copies to sort out)."""
        if not self.file_parts:
            for part in parts.split_by_key(self.scan, "source", parts.part_count(self.rows), spill):
                yield part.collect(), False
            return
        repeated = IDENTIFIED & identity_hash().is_in(self.repeated.implode())
        aside: list[pl.LazyFrame] = []
        for number, part in enumerate(self.file_parts):
            frame = part.collect()
            if self.repeated.len():
                mask = frame.select(repeated).to_series()
                aside.append(parts.spilled(frame.filter(mask), spill / f"repeated-{number}.arrow"))
                frame = frame.filter(~mask)
            yield frame, True
        if aside:
            yield pl.concat(aside).collect(), False


def placed_in(hour: datetime, first_hour: datetime) -> pl.Expr:
    """Bronze rows silver places in `hour`: by event time, or by arrival when the event time cannot place them."""
    near = (pl.col("event_hour") == hour) | (pl.col("arrival_hour") == hour)
    return near & (silver_hour(pl.col("event_hour"), pl.col("arrival_hour"), first_hour) == hour)


def hour_files(lake: Lake, table: SilverTable, hour: datetime) -> tuple[list[str], pl.Schema] | None:
    """The bronze and archive data files that may hold rows placed in `hour` (every arrival date from the
    hour's on: a re-run also finds events later than the lateness window) and the columns silver reads of
    them; None before bronze has a table."""
    found = landed_data_files(lake, table.bronze_table, arrival_date(hour - FUTURE_TOLERANCE))
    if found is None:
        return None
    files, schema = found
    return files, pl.Schema({c: schema[c] for c in (*BRONZE_INPUT, "data_struct") if c in schema})


def scan_files(
    lake: Lake, files: list[str], schema: pl.Schema, path_column: str | None = None
) -> pl.LazyFrame:
    """Data files of one table as one scan with the table's columns: a column a file predates reads null."""
    if not files:
        return pl.LazyFrame(schema={**schema, **({path_column: pl.String()} if path_column else {})})
    return pl.scan_parquet(
        files,
        schema=schema,
        missing_columns="insert",
        extra_columns="ignore",
        hive_partitioning=False,
        include_file_paths=path_column,
        storage_options=lake.storage_options or None,
    )


def census(
    lake: Lake, table: SilverTable, hour: datetime, first_hour: datetime
) -> tuple[HourRows, pl.Series] | None:
    """Count the hour's placed rows per data file and hash their identities; plan the parts. Returns the
    plan and the identity hash of each identified row, sorted: 8 bytes a row, for the caller to let go of
    before the parts are read."""
    found = hour_files(lake, table, hour)
    if found is None:
        return None
    files, schema = found
    placed = scan_files(lake, files, schema, FILE).filter(placed_in(hour, first_hour))
    # Two passes, not one `collect_all`: sharing the scan held twice the memory (20M rows: +1.02 GiB, not +0.56).
    per_file = placed.group_by(FILE).len().collect(engine="streaming")
    hashes = placed.filter(IDENTIFIED).select(identity_hash().alias("h")).collect(engine="streaming")["h"]
    hashes.sort(in_place=True)
    repeated = held_twice(hashes)
    rows = int(per_file["len"].sum())
    scan = placed.drop(FILE)
    repeated_rows = int(hashes.is_in(repeated.implode()).sum()) if repeated.len() else 0
    if repeated_rows > parts.PART_ROWS:
        return HourRows(rows, scan, [], repeated), hashes
    file_parts = [
        scan_files(lake, group, schema).filter(placed_in(hour, first_hour))
        for group in _groups(per_file.sort(FILE))
    ]
    return HourRows(rows, scan, file_parts, repeated), hashes


def _groups(per_file: pl.DataFrame) -> list[list[str]]:
    """Consecutive files in parts of at most `parts.PART_ROWS` of the hour's rows (a larger file is a part alone)."""
    groups: list[list[str]] = []
    size = parts.PART_ROWS
    for path, rows in per_file.iter_rows():
        if size + rows > parts.PART_ROWS:
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += rows
    return groups
