"""Comparing a transform's output before and after a perturbation, column by column on matched rows."""

from collections.abc import Iterator

import polars as pl

TOLERANCE = 1e-9  # relative: sums and means of the same values may differ in their last bits
SUFFIX = "__perturbed"
Key = tuple[str, ...]


def changed_columns(
    base: pl.DataFrame, out: pl.DataFrame, identities: tuple[Key, ...], grouped: bool
) -> tuple[set[str], int]:
    """Output columns whose values differ on the rows both outputs hold, and how many rows matched.

    Rows are matched on the identity that matches the most rows (a perturbed identity column leaves only
    its unperturbed rows matching); on a tie, on the one under which the fewest columns changed (a wrong
    match changes many). A row that appears or disappears changes no value: a column that only decides
    whether a row passes (validation, a filter) feeds no column. But when the identity is a computed group
    key (`grouped`), a key column changes when a key found only in `out` holds a value that column never
    held in `base`: a relabelled input shows up in the key columns computed from it.
    """
    found = []
    for key in identities:
        joined = _keyed(base, key).join(_keyed(out, key), on=key, how="inner", suffix=SUFFIX)
        changed = {c for c in base.columns if c not in key and differs(joined[c], joined[c + SUFFIX])}
        if grouped:
            new = _keyed(out, key).join(_keyed(base, key), on=key, how="anti")
            changed |= {k for k in key if new.select(k).join(base.select(k), on=k, how="anti").height}
        found.append((joined.height, changed))
    matched, changed = min(found, key=lambda found: (-found[0], len(found[1])))
    return changed, matched


def carried_columns(
    base: pl.DataFrame, inputs: pl.DataFrame, outputs: list[str], origin: Key
) -> Iterator[tuple[str, str]]:
    """(output, input) column pairs where the output holds the input's values row for row, rows matched on
    their `origin` (columns both frames hold), and not only nulls."""
    rows = _keyed(base, origin).join(_keyed(inputs, origin), on=origin, how="inner", suffix=SUFFIX)
    for output in (o for o in outputs if o not in origin and rows[o].null_count() < rows.height):
        for column in (c for c in inputs.columns if c not in origin):
            source = rows[column + SUFFIX if column in base.columns else column]
            if source.dtype == rows[output].dtype and not differs(rows[output], source):
                yield output, column


def _keyed(frame: pl.DataFrame, key: Key) -> pl.DataFrame:
    """The rows whose key is complete and unique, so that rows match one to one."""
    return frame.drop_nulls(list(key)).filter(~pl.struct(key).is_duplicated())


def differs(a: pl.Series, b: pl.Series) -> bool:
    """Whether two aligned columns differ anywhere; nulls equal nulls, floats within TOLERANCE are equal."""
    if not a.dtype.is_float():
        return bool(a.ne_missing(b).any())
    x, y = pl.col("a"), pl.col("b")
    close = (x - y).abs() <= TOLERANCE * pl.max_horizontal(pl.lit(1.0), x.abs(), y.abs())
    same = (x.is_null() & y.is_null()) | (x.is_nan() & y.is_nan()).fill_null(False) | close.fill_null(False)
    return not pl.DataFrame({"a": a, "b": b}).select(same.all()).item()
