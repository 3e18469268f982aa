"""A short, count-only report of what the lake holds, for the demo and for people at a terminal."""

from collections import Counter

import polars as pl

from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake


def _rows(lake: Lake, layer: str, table: str) -> int:
    scan = lake.scan(layer, table)
    return 0 if scan is None else scan.select(pl.len()).collect().item()


def lake_summary(lake: Lake) -> str:
    """Rows per table, bronze parse errors, and quarantined rows by reason code."""
    lines = ["bronze (raw, by arrival hour):"]
    for topic in TOPICS:
        scan = lake.scan("bronze", topic.bronze_table)
        if scan is None:
            lines.append(f"  bronze.{topic.bronze_table:<20} (empty)")
            continue
        rows, files, errors = (
            scan.select(pl.len(), pl.col("landing_file").n_unique(), pl.col("error").is_not_null().sum())
            .collect()
            .row(0)
        )
        lines.append(
            f"  bronze.{topic.bronze_table:<20} {rows:>10,} rows from {files:>4} files, {errors:>5} unparseable"
        )
    lines.append("silver (validated, by event hour) and quarantine:")
    reasons: Counter = Counter()
    for table in SILVER_TABLES:
        quarantine = lake.scan("quarantine", table.name)
        if quarantine is not None:
            reasons.update(dict(quarantine.group_by("reason").len().collect().iter_rows()))
        lines.append(
            f"  silver.{table.name:<20} {_rows(lake, 'silver', table.name):>10,} rows, "
            f"{_rows(lake, 'quarantine', table.name):>6,} quarantined"
        )
    if reasons:
        lines.append("quarantined rows by reason:")
        lines += [f"  {reason:<28} {count:>8,}" for reason, count in reasons.most_common()]
    lines.append("gold marts:")
    lines += [f"  gold.{mart.name:<31} {_rows(lake, 'gold', mart.name):>8,} rows" for mart in MARTS]
    demand = lake.scan("gold", "demand_by_zone_hour")
    if demand is not None:
        busiest = (
            demand.group_by("zone_id")
            .agg(
                pl.col("booking_count").sum().alias("bookings"),
                pl.col("available_vehicles").mean().alias("fleet"),
            )
            .sort("bookings", "zone_id", descending=[True, False])
            .head(5)
            .collect()
        )
        lines.append("busiest zones (bookings; mean available vehicles per hour):")
        lines += [
            f"  {zone:<10} {bookings:>6,}   {fleet:>6.1f}" for zone, bookings, fleet in busiest.iter_rows()
        ]
    return "\n".join(lines)
