"""Which input columns each output column of a transform depends on, found by perturbing the inputs.

The transform runs once as it is, reading its inputs through scans that record which columns polars asks
for; then once per perturbation (`perturb.py`) of each column it read. An output column depends on an
input column when a perturbation of that input column changes its values (`compare.py`). Each column is
relabelled on every other row; an aggregate (`grouped`), or a transform that rejected the relabelled rows,
is also run with each row given its most similar row's value, and an aggregate with one value everywhere.
A row-wise transform's output column that nothing moved but that holds an input column's values row for
row derives from it: the `event_type` of a single-type table, since any other `type` is rejected.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl
from polars.io.plugins import register_io_source

from mobility_lake.lineage.compare import Key, carried_columns, changed_columns
from mobility_lake.lineage.perturb import copied_from_similar, every_other, one_value, relabelled

Deps = dict[str, set[tuple[str, str]]]


@dataclass(frozen=True)
class Target:
    """One transform under probe: its inputs by upstream asset, how to run it, how to match its rows."""

    asset: str  # "silver/booking_events"
    inputs: dict[str, pl.DataFrame]  # upstream asset ("bronze/domain_events") -> frame
    run: Callable[[dict[str, pl.LazyFrame]], pl.DataFrame]
    identities: tuple[Key, ...]  # candidate row identities of the output
    grouped: bool  # the identity is a computed group key (gold), not an identity carried through (silver)
    origin: Key | None = None  # columns matching an output row to its one input row (row-wise transforms)


def column_deps(target: Target) -> Deps:
    """{output column: {(upstream asset, input column)}}."""
    read: dict[str, set[str]] = {name: set() for name in target.inputs}
    base = target.run({name: _recording(frame, read[name]) for name, frame in target.inputs.items()})
    deps: Deps = {column: set() for column in base.columns}

    def rows_matched(upstream: str, perturbed: pl.Series) -> int:
        inputs = {name: frame.lazy() for name, frame in target.inputs.items()}
        inputs[upstream] = target.inputs[upstream].with_columns(perturbed).lazy()
        changed, matched = changed_columns(base, target.run(inputs), target.identities, target.grouped)
        for column in changed:
            deps[column].add((upstream, perturbed.name))
        return matched

    for upstream, frame in target.inputs.items():
        for column in [c for c in frame.columns if c in read[upstream]]:
            series = frame[column]
            relabel = every_other(series, relabelled(series))
            matched = rows_matched(upstream, relabel) if not relabel.equals(series) else base.height
            if target.grouped or matched < base.height:
                more = [copied_from_similar(frame, column)] + ([one_value(series)] if target.grouped else [])
                for perturbed in (p for p in more if not p.equals(series)):
                    rows_matched(upstream, perturbed)
    if target.origin is not None:
        ((upstream, frame),) = target.inputs.items()
        unmoved = [column for column, found in deps.items() if not found]
        for output, column in carried_columns(base, frame, unmoved, target.origin):
            deps[output].add((upstream, column))
    return deps


def _recording(frame: pl.DataFrame, read: set[str]) -> pl.LazyFrame:
    """The frame as a lazy scan that records which of its columns a query reads."""

    def source(
        columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, _batch: int | None
    ) -> Iterator[pl.DataFrame]:
        read.update(frame.columns if columns is None else columns)
        rows = frame
        if predicate is not None:
            read.update(predicate.meta.root_names())
            rows = rows.filter(predicate)
        rows = rows if columns is None else rows.select(columns)
        yield rows if n_rows is None else rows.head(n_rows)

    return register_io_source(source, schema=frame.schema)
