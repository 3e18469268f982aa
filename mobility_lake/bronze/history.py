"""Bronze as it ever landed: the table and its cold archive (retention moves hours past their days there).

Readers that ask what landed (the ingest ledger, silver's placement and identity window, a GDPR export)
read both, so an archived hour is neither ingested again by a re-run nor lost to a silver re-run.
"""

import polars as pl

from mobility_lake.data_files import table_schema
from mobility_lake.storage import Lake

ARCHIVE = "archive"


def landed_rows(lake: Lake, table: str) -> pl.LazyFrame | None:
    """Every row of `bronze/{table}` and `archive/{table}`; None before either exists."""
    scans = [scan for scan in (lake.scan("bronze", table), lake.scan(ARCHIVE, table)) if scan is not None]
    if len(scans) < 2:
        return scans[0] if scans else None
    return pl.concat(scans, how="diagonal_relaxed")


def landed_data_files(lake: Lake, table: str, since_date: str) -> tuple[list[str], pl.Schema] | None:
    """The data files of `bronze/{table}` and `archive/{table}` of arrival dates from `since_date` on, as
    URIs, and the bronze table's columns (the archive's before bronze exists); None before either exists.

    Reading these files directly (bronze is append-only and has no deletion vectors) lets a reader read
    some of them only, which a scan of the table cannot be told to do."""
    files: list[str] = []
    schema: pl.Schema | None = None
    for layer in ("bronze", ARCHIVE):
        table_now = lake.delta_table(layer, table)
        if table_now is None:
            continue
        files += table_now.file_uris(file_pruning_predicate=[("arrival_date", ">=", since_date)])
        schema = schema or table_schema(table_now)
    return None if schema is None else (files, schema)
