"""Data files no commit refers to: found and removed, never one a concurrent writer is about to commit.

A run killed between writing a table's Parquet files and committing them leaves files that no version of
the table names (a lost race does too, when the loser dies before removing its own). They are harmless to
readers, which follow the log, but they cost storage forever. delta-rs's vacuum lists them: a full vacuum
lists removed files (tombstones, which time travel still reads) and unreferenced files, a lite one the
tombstones alone, so the difference is exactly the unreferenced files. They are removed here one by one,
and the tombstones are left to retention (vacuum proper). A file younger than `MIN_AGE` may belong to a
writer that has not committed yet, as vacuum's retention assumes: it waits for a later run.
"""

import logging
from datetime import timedelta

import dagster as dg

from mobility_lake.storage import Lake

# Longer than any single commit takes to write its files: a seed-scale silver hour writes for ~9 minutes.
MIN_AGE = timedelta(hours=1)


def unreferenced_files(lake: Lake, layer: str, table: str, min_age: timedelta = MIN_AGE) -> list[str]:
    """Paths (relative to the table) of files under the table that no commit mentions, older than `min_age`
    (whole hours)."""
    found = lake.delta_table(layer, table)
    if found is None:
        return []
    hours = max(int(min_age / timedelta(hours=1)), 0)

    def listed(full: bool) -> set[str]:
        return set(
            found.vacuum(retention_hours=hours, dry_run=True, enforce_retention_duration=False, full=full)
        )

    return sorted(listed(full=True) - listed(full=False))


def remove_unreferenced(lake: Lake, layer: str, table: str, min_age: timedelta = MIN_AGE) -> int:
    """Remove the table's unreferenced files older than `min_age`; how many were removed."""
    paths = unreferenced_files(lake, layer, table, min_age)
    for path in paths:
        lake.remove_file(f"{layer}/{table}/{path}")
    return len(paths)


def tidy(lake: Lake, tables: list[tuple[str, str]], log: logging.Logger | dg.DagsterLogManager) -> None:
    """After a run's writes: remove what earlier, interrupted runs left in the tables it wrote, and say so."""
    for layer, table in tables:
        removed = remove_unreferenced(lake, layer, table)
        if removed:
            log.info(
                f"{layer}/{table}: removed {removed} data file(s) that no commit refers to (left by an interrupted run)"
            )
