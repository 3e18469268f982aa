"""Sums and means with the same bits whatever the order of the rows.

Float addition is not associative: a sum that follows the row order changes in its last bits when a re-run
reads files in another order or splits them across threads differently, and a re-run must give the same
table (contract §5.4). Values are summed as whole millionths of their unit and divided once, so the result
depends only on the values. Millionths rather than cents for money too: fares arrive with more than two
decimals, and rounding each to the cent would change the totals.
"""

import polars as pl

MILLIONTHS = 1_000_000


def exact_sum(value: pl.Expr, per_unit: int) -> pl.Expr:
    """The sum of `value` rounded to 1/per_unit, added as integers; 0 for no values, as `sum` gives."""
    return (value * per_unit).round().cast(pl.Int64).sum() / per_unit


def exact_mean(value: pl.Expr, per_unit: int) -> pl.Expr:
    """The mean of the non-null values of `value`, from `exact_sum`; null for none, as `mean` gives."""
    count = value.count()
    return pl.when(count > 0).then(exact_sum(value, per_unit) / count)
