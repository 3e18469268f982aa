"""Reading payload fields as their contract types, from JSON text or from a typed Parquet struct.

Fields are pulled out of the JSON text one by one (`json_path_match`), so one bad value fails its row, not
the file, and a value that is present but not of the field's type is told apart from a missing one.
"""

import polars as pl

from mobility_lake.events.envelope import parse_event_time
from mobility_lake.silver.tables import TIMESTAMP, SilverTable
from mobility_lake.silver.validate import ROW, field_priority


def _typed(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == TIMESTAMP:
        return parse_event_time(text)
    if dtype == pl.Boolean:
        return pl.when(text == "true").then(True).when(text == "false").then(False).otherwise(None)
    if dtype == pl.String:
        return text
    return text.cast(dtype, strict=False)


def decode_payload(frame: pl.DataFrame, table: SilverTable) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed payload columns (with ROW), and the (row, rule, reason, priority) of values of the wrong type."""
    struct_fields = set()
    if "data_struct" in frame.columns:
        struct_fields = {f.name for f in frame.schema["data_struct"].fields}
    values, invalid = [], []
    for name, dtype in table.payload_columns.items():
        text = pl.col("data").str.json_path_match(f"$.{name}")
        value = _typed(text, dtype)
        broken = text.is_not_null() & value.is_null()
        if name in struct_fields:
            value = pl.coalesce(pl.col("data_struct").struct.field(name).cast(dtype), value)
        if dtype.is_float():
            broken = broken | value.is_nan().fill_null(False) | value.is_infinite().fill_null(False)
            value = pl.when(value.is_finite()).then(value)
        values.append(value.alias(name))
        invalid.append(broken.alias(name))
    typed = frame.select(
        ROW, pl.col("type").str.strip_prefix("com.mobilitycorp.").alias("event_type"), *values
    )
    flags = frame.select(ROW, *invalid).filter(pl.any_horizontal(pl.exclude(ROW)))  # the few broken rows
    columns = list(table.payload_columns)
    invalid_types = (
        flags.unpivot(index=ROW, on=columns, variable_name="field", value_name="broken")
        .filter(pl.col("broken"))
        .select(
            ROW,
            (pl.lit("payload.") + pl.col("field") + pl.lit(".type")).alias("rule"),
            pl.lit("invalid_type").alias("reason"),
            pl.col("field")
            .replace_strict({c: field_priority(table, c) for c in columns}, return_dtype=pl.Int32)
            .alias("priority"),
        )
    )
    return typed, invalid_types
