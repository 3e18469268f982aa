"""SQL over the lake: every existing table as `layer.table` in DuckDB (through dagster-duckdb's resource).

DuckDB 2.0 cannot load its Delta extension offline, so each table's current version is handed to DuckDB as
the Arrow dataset delta-rs reads: the same files, and so the same rows, any Delta reader sees. Datasets are
scanned lazily, with DuckDB's filters and projections pushed into them.
"""

import re

import polars as pl
from dagster_duckdb import DuckDBResource

from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake

TABLES: dict[str, tuple[str, ...]] = {
    "bronze": tuple(t.bronze_table for t in TOPICS),
    "silver": tuple(t.name for t in SILVER_TABLES),
    "quarantine": tuple(t.name for t in SILVER_TABLES),
    "gold": tuple(m.name for m in MARTS),
}
FORMATS = ("table", "csv", "json")


# DuckDB errors raised by a row's value quote the value (an e-mail inside a payload, say): their messages
# are replaced by the kind of error and the column, never the value.
ROW_VALUE_ERRORS = ("Conversion Error", "Invalid Input Error", "Out of Range Error", "Constraint Error")
SOURCE_COLUMN = re.compile(r"source column (\w+)")


class QueryError(ValueError):
    """The SQL failed; the message is DuckDB's first line, or for an error raised by a row's value the
    kind of error and the column only (`safe_message`)."""


def safe_message(message: str) -> str:
    """DuckDB's message, unless a row's value caused the error: then nothing of the value."""
    first = message.splitlines()[0] if message else "the query failed"
    kind = first.split(":", 1)[0]
    if kind not in ROW_VALUE_ERRORS:
        return first
    column = SOURCE_COLUMN.search(first)
    where = f" in column {column[1]}" if column else ""
    return f"{kind}: a value{where} could not be used as the query asks (values are not shown)"


def existing_tables(lake: Lake) -> list[tuple[str, str]]:
    return [
        (layer, name) for layer, names in TABLES.items() for name in names if lake.delta_table(layer, name)
    ]


def run_query(lake: Lake, sql: str) -> pl.DataFrame:
    """Run `sql` with every existing table registered as `layer.table`."""
    duckdb = DuckDBResource(database=":memory:")
    with duckdb.get_connection() as conn:
        for layer in TABLES:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
        for layer, name in existing_tables(lake):
            dataset = lake.delta_table(layer, name).to_pyarrow_dataset()
            alias = f"_{layer}_{name}"
            conn.register(alias, dataset)
            conn.execute(f"CREATE VIEW {layer}.{name} AS SELECT * FROM {alias}")
        try:
            return conn.sql(sql).pl()
        except Exception as exc:  # duckdb raises many error classes; all mean the SQL could not run
            raise QueryError(safe_message(str(exc))) from None


def render(frame: pl.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return frame.write_csv()
    if fmt == "json":
        return frame.write_json()
    with pl.Config(
        tbl_rows=200, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200, tbl_hide_dataframe_shape=True
    ):
        return f"{frame}\n({frame.height} row{'s' if frame.height != 1 else ''})"


def referenced_tables(sql: str) -> set[str]:
    """`layer.table` names the SQL mentions, to tell the user which ones do not exist yet."""
    return {m.group(0) for m in re.finditer(rf"\b({'|'.join(TABLES)})\.[a-z_]+\b", sql)}
