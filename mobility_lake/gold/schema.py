"""The Pandera schema of a mart, built one way for all marts: typed columns in order, unique key, strict."""

import pandera.polars as pa
import polars as pl


def mart_schema(
    name: str,
    columns: dict[str, pl.DataType],
    key: tuple[str, ...],
    checks: dict[str, list[pa.Check]],
    nullable: frozenset[str] | set[str] = frozenset(),
    frame_checks: list[pa.Check] | None = None,
) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            col: pa.Column(dtype, checks=checks.get(col, []), nullable=col in nullable)
            for col, dtype in columns.items()
        },
        checks=frame_checks or [],
        unique=list(key),
        strict=True,
        ordered=True,
        name=f"gold.{name}",
    )
