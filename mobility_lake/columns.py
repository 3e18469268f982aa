"""Column schemas as Dagster metadata (`dagster/column_schema`), from the same dicts the code writes with:
each column's type, and a description of what it means and which upstream columns it comes from."""

from collections.abc import Mapping

import dagster as dg
import polars as pl

from mobility_lake.lineage import column_descriptions


def table_schema(
    key: dg.AssetKey, columns: Mapping[str, pl.DataType], meanings: Mapping[str, str]
) -> dg.TableSchema:
    """The asset's columns in order; ValueError naming any column without a meaning."""
    descriptions = column_descriptions(key, columns, meanings)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=descriptions[name])
            for name, dtype in columns.items()
        ]
    )
