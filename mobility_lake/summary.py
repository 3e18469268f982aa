"""A short, count-only report of what the lake holds, for the demo and for people at a terminal."""

import polars as pl

from mobility_lake.events.catalogue import TOPICS
from mobility_lake.storage import Lake


def lake_summary(lake: Lake) -> str:
    """Rows and landing files per bronze table, and bronze error rows by reason code."""
    lines = ["bronze tables:"]
    for topic in TOPICS:
        scan = lake.scan("bronze", topic.bronze_table)
        if scan is None:
            lines.append(f"  bronze.{topic.bronze_table:<20} (empty)")
            continue
        stats = scan.select(
            pl.len().alias("rows"),
            pl.col("landing_file").n_unique().alias("files"),
            pl.col("error").is_not_null().sum().alias("errors"),
        ).collect()
        rows, files, errors = stats.row(0)
        lines.append(
            f"  bronze.{topic.bronze_table:<20} {rows:>10,} rows from {files:>4} files, {errors:>5} error rows"
        )
    return "\n".join(lines)
