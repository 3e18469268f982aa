"""Delta statistics of a data file written by polars, so that readers skip it as they would one of delta-rs's.

The statistics follow the Delta protocol: `numRecords`, and per top-level column its `nullCount` and, for
columns with an order, `minValues` and `maxValues`. Timestamps are stored to the millisecond, written as
delta-rs writes them; the minimum is rounded down and the maximum up, so that a skipped file never holds a
wanted row. Nested columns get no statistics: readers then never skip on them, which is correct, only slower.
Only the columns `personal.stats_columns` names get statistics, and strings only up to
`STRING_STATS_LENGTH` characters: the log keeps no personal value (`personal.py`).
"""

import json
import math
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

import polars as pl

from mobility_lake.personal import STRING_STATS_LENGTH

MILLISECOND = timedelta(milliseconds=1)


def file_stats(frame: pl.DataFrame, columns: Collection[str]) -> str:
    """The `stats` JSON of an `add` action for a file holding exactly `frame`'s rows, for `columns`."""
    scalar = [name for name, dtype in frame.schema.items() if not dtype.is_nested() and name in columns]
    ordered = [name for name in scalar if frame.schema[name] != pl.Boolean]
    figures = frame.select(
        *[pl.col(c).null_count().alias(f"n{i}") for i, c in enumerate(scalar)],
        *[pl.col(c).min().alias(f"lo{i}") for i, c in enumerate(ordered)],
        *[pl.col(c).max().alias(f"hi{i}") for i, c in enumerate(ordered)],
    ).row(0, named=True)
    minimum, maximum = {}, {}
    for i, name in enumerate(ordered):
        low, high = _value(figures[f"lo{i}"], up=False), _value(figures[f"hi{i}"], up=True)
        if low is not None and high is not None:
            minimum[name], maximum[name] = low, high
    stats = {
        "numRecords": frame.height,
        "minValues": minimum,
        "maxValues": maximum,
        "nullCount": {c: figures[f"n{i}"] for i, c in enumerate(scalar)},
    }
    return json.dumps(stats, separators=(",", ":"))


def _value(value: object, up: bool) -> object:
    """A statistic as Delta stores it, or None when it has none (all nulls, NaN)."""
    if isinstance(value, datetime):
        truncated = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if up and truncated != value:
            truncated += MILLISECOND
        if truncated.tzinfo is not None:
            truncated = truncated.astimezone(UTC)
        text = truncated.isoformat(timespec="milliseconds" if truncated.microsecond else "seconds")
        return text if truncated.tzinfo is None else text.replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if len(value) <= STRING_STATS_LENGTH else None
    return value if isinstance(value, int) else None
