"""Hand-built silver rows for the mart tests."""

import polars as pl

from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.silver.transforms import silver_columns


def silver(table: str, rows: list[dict]) -> pl.LazyFrame:
    """Rows of a silver table: the fields given, every other column null with its silver dtype."""
    rows = [{"event_id": f"e{i}", "event_source": "//test", **row} for i, row in enumerate(rows)]
    return pl.DataFrame(rows, schema=silver_columns(SILVER_BY_NAME[table])).lazy()
