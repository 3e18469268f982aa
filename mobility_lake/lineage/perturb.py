"""Perturbations of one input column, each keeping the column's type: what the lineage probe feeds a
transform to see which of its output columns move.

- `relabelled` maps every value one to one to another: text suffixed, numbers plus one, booleans negated,
  times (and text holding RFC 3339 times) a week and two hours later, so dates, hours of day and weeks all
  change while the weekday stays; applied to every other row, it also splits groups.
- `copied_from_similar` gives each row the value of the row most like it, so a value stays valid where
  validation ties it to the rest of the row (a payload and its event type).
- `one_value` gives every row the same value, so groups merge and distinct counts fall.
"""

from datetime import UTC, date, datetime, timedelta

import polars as pl

from mobility_lake.events.envelope import parse_event_time

SHIFT = timedelta(days=7, hours=2)
RFC3339_OUT = "%Y-%m-%dT%H:%M:%S%.6fZ"
_FILL: dict[type[pl.DataType], object] = {
    pl.String: "x",
    pl.Boolean: True,
    pl.Datetime: datetime(2026, 1, 1, tzinfo=UTC),
    pl.Date: date(2026, 1, 1),
}


def every_other(series: pl.Series, other: pl.Series) -> pl.Series:
    """`other` on odd rows, `series` on even ones."""
    odd = pl.int_range(series.len(), eager=True) % 2 == 1
    return other.zip_with(odd, series).alias(series.name)


def relabelled(series: pl.Series) -> pl.Series:
    """Each value mapped one to one to another of its type; a column of nulls filled with one value."""
    dtype, empty = series.dtype, series.null_count() == series.len()
    if isinstance(dtype, pl.Struct):
        fields = series.struct.unnest()
        rebuilt = pl.DataFrame([relabelled(fields[f]) for f in fields.columns]).to_struct(series.name)
        return rebuilt if empty else rebuilt.zip_with(series.is_not_null(), series)
    if empty:
        fill = 1 if dtype.is_numeric() else _FILL.get(type(dtype))
        if fill is None:
            raise TypeError(f"the lineage probe cannot perturb column '{series.name}' of type {dtype}")
        return pl.repeat(fill, series.len(), dtype=dtype, eager=True).alias(series.name)
    if isinstance(dtype, pl.Datetime):
        return series + SHIFT
    if dtype == pl.Date:
        return series + timedelta(days=SHIFT.days)
    if dtype == pl.Boolean:
        return ~series
    if dtype.is_numeric():
        return series + 1
    if dtype == pl.String:
        later = _later_text(series)
        return later if later is not None else series + "x"
    raise TypeError(f"the lineage probe cannot perturb column '{series.name}' of type {dtype}")


def _later_text(series: pl.Series) -> pl.Series | None:
    """Text that mostly holds RFC 3339 times, those times SHIFT later (the rest kept); None for other text."""
    times = series.to_frame().select(parse_event_time(pl.col(series.name))).to_series()
    if times.null_count() * 2 >= series.len():
        return None
    shifted = (times + SHIFT).dt.strftime(RFC3339_OUT)
    return shifted.zip_with(times.is_not_null(), series).alias(series.name)


def copied_from_similar(frame: pl.DataFrame, column: str) -> pl.Series:
    """Each row given the value of the row before it in the order of the other columns, fewest distinct
    values first: rows next to each other share event type, hour and file, so the value stays valid."""
    others = [c for c in frame.columns if c != column and not frame[c].dtype.is_nested()]
    others.sort(key=lambda c: (frame[c].n_unique(), c))
    row = "__row"
    order = (
        frame.select(*others, pl.int_range(pl.len(), dtype=pl.UInt32).alias(row))
        .sort(others, nulls_last=True, maintain_order=True)
        .get_column(row)
    )
    donors = pl.DataFrame({row: order, "donor": order.shift(1, fill_value=order[0])}).sort(row)["donor"]
    return frame[column].gather(donors)


def one_value(series: pl.Series) -> pl.Series:
    """Every row given the first row's value."""
    return pl.repeat(series[0], series.len(), dtype=series.dtype, eager=True).alias(series.name)
