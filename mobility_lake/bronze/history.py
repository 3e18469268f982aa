"""Bronze as it ever landed: the table and its cold archive (retention moves hours past their days there).

Readers that ask what landed (the ingest ledger, silver's placement and identity window, a GDPR export)
read both, so an archived hour is neither ingested again by a re-run nor lost to a silver re-run.
"""

import polars as pl

from mobility_lake.storage import Lake

ARCHIVE = "archive"


def landed_rows(lake: Lake, table: str) -> pl.LazyFrame | None:
    """Every row of `bronze/{table}` and `archive/{table}`; None before either exists."""
    scans = [scan for scan in (lake.scan("bronze", table), lake.scan(ARCHIVE, table)) if scan is not None]
    if len(scans) < 2:
        return scans[0] if scans else None
    return pl.concat(scans, how="diagonal_relaxed")
