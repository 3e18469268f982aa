"""The ledger of ingested landing files: which files a bronze table already holds, per arrival hour.

The bronze table is its own ledger. Each file's rows carry `landing_file`, and a file's rows and its entry
are the same Delta commit, so there is no moment at which a file is recorded but its rows are not (or the
reverse), whatever crashes. Every ingested file leaves at least one row: an empty or unreadable file leaves
one row naming its error.
"""

from datetime import datetime

import polars as pl

from mobility_lake.bronze.history import landed_rows
from mobility_lake.storage import Lake


def arrival_date(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d")


def ingested_files(lake: Lake, table: str, hours: list[datetime], keys: list[str] | None = None) -> set[str]:
    """Landing keys already in `bronze/{table}` for the given arrival hours (of `keys`, when given: the
    files' `landing_file` statistics then let the scan skip every Delta file holding none of them, so
    checking a batch does not read the whole hour ingested so far)."""
    scan = landed_rows(lake, table)
    if scan is None or not hours:
        return set()
    dates = sorted({arrival_date(h) for h in hours})
    wanted = pl.col("arrival_date").is_in(dates) & pl.col("arrival_hour").is_in(hours)
    if keys is not None:
        wanted = wanted & pl.col("landing_file").is_in(keys)
    found = scan.filter(wanted).select("landing_file").unique().collect()
    return set(found["landing_file"].to_list())
