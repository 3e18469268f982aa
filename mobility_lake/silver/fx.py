"""The daily FX reference rates of CONTRACT §3 and the conversion of money columns to EUR.

An amount converts at the most recent rate of its currency published on or before its day, as long as that
rate is at most `max_age_days` old: a weekend or holiday falls back to the last business day, a feed that
stopped a month ago does not. Rows without a qualifying rate get null, so the caller can quarantine them
instead of failing the whole partition.
"""

import csv
import functools
import math
import re
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from mobility_lake.settings import PROJECT_ROOT

REFERENCE_FX = PROJECT_ROOT / "data/reference/fx_rates.csv"
FX_COLUMNS = ("date", "currency", "eur_rate")
FX_SCHEMA = {"date": pl.Date(), "currency": pl.String(), "eur_rate": pl.Float64()}
EUR = "EUR"
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@functools.lru_cache(maxsize=8)
def load_fx_rates(path: Path = REFERENCE_FX) -> pl.DataFrame:
    """Every rate of the file, sorted by (date, currency); cached per path, so treat the frame as read-only.

    A bad row (wrong field count, bad date, currency code not three capital letters, rate not a positive
    number, EUR not 1.0, a (date, currency) given twice) raises ValueError naming the file and line: a wrong
    rate would silently skew every revenue figure, so the run stops instead.
    """
    first_line: dict[tuple[date, str], int] = {}
    rows: list[tuple[date, str, float]] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != list(FX_COLUMNS):
            raise ValueError(f"{path}: line 1: expected the header {','.join(FX_COLUMNS)!r}, got {header!r}")
        for record in reader:
            if not record:
                continue  # a blank line carries no rate
            try:
                row = _rate_row(record)
            except ValueError as exc:
                raise ValueError(f"{path}: line {reader.line_num}: {exc}") from None
            key = row[:2]
            if key in first_line:
                raise ValueError(
                    f"{path}: line {reader.line_num}: duplicate rate for {key[1]} on {key[0]} "
                    f"(first given on line {first_line[key]})"
                )
            first_line[key] = reader.line_num
            rows.append(row)
    return pl.DataFrame(rows, schema=FX_SCHEMA, orient="row").sort("date", "currency")


def _rate_row(record: list[str]) -> tuple[date, str, float]:
    if len(record) != len(FX_COLUMNS):
        raise ValueError(f"expected {len(FX_COLUMNS)} fields {','.join(FX_COLUMNS)}, got {len(record)}")
    day, currency, rate = record
    try:
        parsed_day = date.fromisoformat(day) if _DATE.fullmatch(day) else None
    except ValueError:
        parsed_day = None
    if parsed_day is None:
        raise ValueError(f"bad date {day!r}: expected a calendar date YYYY-MM-DD")
    if not _CURRENCY.fullmatch(currency):
        raise ValueError(f"bad currency code {currency!r}: expected three capital letters (ISO 4217)")
    try:
        parsed_rate = float(rate)
    except ValueError:
        parsed_rate = math.nan
    if not (0 < parsed_rate < math.inf):
        raise ValueError(f"bad eur_rate {rate!r}: expected a positive number")
    if currency == EUR and parsed_rate != 1.0:
        raise ValueError(f"eur_rate of EUR must be 1.0, got {rate!r}")
    return parsed_day, currency, parsed_rate


def to_eur(
    frame: pl.DataFrame,
    amount: str,
    currency: str,
    on: str,
    out: str,
    rates: pl.DataFrame,
    max_age_days: int = 7,
) -> pl.DataFrame:
    """`frame` with column `out` = `amount` in EUR, in the same row order and count.

    The rate is the latest one for the row's currency dated on or before the (UTC) date of column `on` (a
    Date or Datetime) and at most `max_age_days` older. EUR is always 1.0, listed or not. `out` is null when
    no rate qualifies, or the amount, currency or date is null; it never raises on data.
    """
    if max_age_days < 0:
        raise ValueError(f"max_age_days must be >= 0, got {max_age_days}")
    keys = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt64).alias("row"),
        _utc_date(frame.schema[on], on).alias("day"),
        pl.col(currency).cast(pl.String).alias("currency"),
    )
    table = rates.select(pl.col("date").alias("day"), "currency", "eur_rate").sort("day")
    matched = (
        keys.sort("day")
        .join_asof(
            table,
            on="day",
            by="currency",
            strategy="backward",
            tolerance=timedelta(days=max_age_days),
            check_sortedness=False,  # both sides are sorted by day just above
        )
        .sort("row")
    )
    rate = pl.when(pl.col("currency") == EUR).then(1.0).otherwise(pl.col("eur_rate"))
    euro_rate = matched.select(rate.alias("rate"))["rate"]
    return frame.with_columns((frame[amount].cast(pl.Float64) * euro_rate).alias(out))


def _utc_date(dtype: pl.DataType, column: str) -> pl.Expr:
    """The calendar date in UTC of a Date or Datetime column (a naive Datetime is taken as UTC)."""
    if dtype == pl.Date:
        return pl.col(column)
    if isinstance(dtype, pl.Datetime):
        moment = pl.col(column)
        if dtype.time_zone is not None:
            moment = moment.dt.convert_time_zone("UTC")
        return moment.dt.date()
    raise TypeError(f"column {column!r} must be a Date or Datetime to pick an FX rate, got {dtype}")
