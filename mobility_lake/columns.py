"""Column schemas as Dagster metadata (`dagster/column_schema`), from the same dicts the code writes with."""

import dagster as dg
import polars as pl


def table_schema(columns: dict[str, pl.DataType], docs: dict[str, str] | None = None) -> dg.TableSchema:
    docs = docs or {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=docs.get(name)) for name, dtype in columns.items()
        ]
    )
