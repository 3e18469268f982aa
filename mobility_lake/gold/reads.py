"""Reading silver for a gold partition: the event-time window asked for, pruned by the `date` partition."""

from datetime import datetime, timedelta

import polars as pl

from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.silver.transforms import silver_columns
from mobility_lake.storage import Lake


def silver_window(lake: Lake, table: str, start: datetime, end: datetime) -> pl.LazyFrame:
    """Silver rows with `event_time` in [start, end); an empty frame of the right schema before silver exists."""
    scan = lake.scan("silver", table)
    if scan is None:
        return pl.LazyFrame(schema=silver_columns(SILVER_BY_NAME[table]))
    last_day = (end - timedelta(microseconds=1)).date()
    return scan.filter(pl.col("date").is_between(start.date(), last_day)).filter(
        (pl.col("event_time") >= start) & (pl.col("event_time") < end)
    )
