"""The ledger of ingested landing files: which files a bronze table already holds, per arrival hour.

The bronze table is its own ledger. Each file's rows carry `landing_file`, and a file's rows and its entry
are the same Delta commit, so there is no moment at which a file is recorded but its rows are not (or the
reverse), whatever crashes. Every ingested file leaves at least one row: an empty or unreadable file leaves
one row naming its error.
"""

from datetime import datetime

import polars as pl

from mobility_lake.storage import Lake


def arrival_date(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d")


def ingested_files(lake: Lake, table: str, hours: list[datetime]) -> set[str]:
    """Landing keys already in `bronze/{table}` for the given arrival hours."""
    scan = lake.scan("bronze", table)
    if scan is None or not hours:
        return set()
    dates = sorted({arrival_date(h) for h in hours})
    keys = (
        scan.filter(pl.col("arrival_date").is_in(dates) & pl.col("arrival_hour").is_in(hours))
        .select("landing_file")
        .unique()
        .collect()
    )
    return set(keys["landing_file"].to_list())
