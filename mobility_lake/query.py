"""SQL over the lake as a role: every table the role may read as `layer.table`, in a closed DuckDB.

Order of a query: parse (`governance/statements.py`: one query, lake tables only, no file functions), check
the role's policy for every table it reads (`governance/policy.py`), then run it in a DuckDB connection that
holds only those tables, e-mail and phone columns masked unless the role is admin, with external access off
and the configuration locked; every outcome, allowed or not, is appended to `audit.query_log` before the
result is shown. An audit row that cannot be written fails the query: nothing is read unrecorded.

DuckDB 2.0 cannot load its Delta extension offline, so each table's current version is handed to DuckDB as
the Arrow dataset delta-rs reads: the same files, and so the same rows, any Delta reader sees.
"""

import json
import re
import secrets
from collections.abc import Iterable
from functools import cache

import duckdb
import polars as pl
from dagster_duckdb import DuckDBResource
from deltalake import DeltaTable

from mobility_lake.bronze.ingest import bronze_schema
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.governance import audit
from mobility_lake.governance.policy import MASK, MASKED_COLUMNS, may_read, sees_masked
from mobility_lake.governance.statements import Refused, Statement, parse
from mobility_lake.history import AsOf, TimeTravelError, as_of
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.silver.transforms import QUARANTINE, silver_columns
from mobility_lake.storage import Lake

TABLES: dict[str, tuple[str, ...]] = {
    "bronze": tuple(t.bronze_table for t in TOPICS),
    "silver": tuple(t.name for t in SILVER_TABLES),
    "quarantine": tuple(t.name for t in SILVER_TABLES),
    "gold": tuple(m.name for m in MARTS),
    "archive": tuple(t.bronze_table for t in TOPICS),
    audit.LAYER: (audit.TABLE,),
}
FORMATS = ("table", "csv", "json")
CLOSED = (
    "SET enable_external_access = false",
    "SET python_enable_replacements = false",
    "SET lock_configuration = true",
)

# DuckDB errors raised by a row's value quote the value (an e-mail inside a payload, say): their messages
# are replaced by the kind of error and the column, never the value.
ROW_VALUE_ERRORS = ("Conversion Error", "Invalid Input Error", "Out of Range Error", "Constraint Error")
SOURCE_COLUMN = re.compile(r"source column (\w+)")
MISSING_FILE = "Could not open Parquet input source"


class QueryError(ValueError):
    """The SQL failed; the message is DuckDB's first line, or for an error raised by a row's value the
    kind of error and the column only (`safe_message`)."""


class AccessDenied(QueryError):
    """The role may not read a table the statement reads, or the statement is not one that runs here."""


def safe_message(message: str) -> str:
    """DuckDB's message, unless a row's value caused the error: then nothing of the value."""
    first = message.splitlines()[0] if message else "the query failed"
    kind = first.split(":", 1)[0]
    if kind not in ROW_VALUE_ERRORS:
        return first
    column = SOURCE_COLUMN.search(first)
    where = f" in column {column[1]}" if column else ""
    return f"{kind}: a value{where} could not be used as the query asks (values are not shown)"


def existing_tables(
    lake: Lake, names: Iterable[str] | None = None, when: AsOf | None = None
) -> dict[str, DeltaTable]:
    """`layer.table` -> its Delta table, for the tables of `names` (default: all) written so far; as of
    `when` (a version or a time) when given (TimeTravelError when a table cannot be read then)."""
    wanted = (
        names
        if names is not None
        else (f"{layer}.{name}" for layer, tables in TABLES.items() for name in tables)
    )
    found = {}
    for qualified in wanted:
        table = lake.delta_table(*qualified.split("."))
        if table is not None:
            found[qualified] = table if when is None else as_of(table, qualified, when)
    return found


def run_query(lake: Lake, sql: str, role: str, user: str, when: AsOf | None = None) -> pl.DataFrame:
    """Run `sql` as `role`, audited; AccessDenied or QueryError when it does not run. Only the tables the
    statement reads are opened, as of `when` (a version or a time) when given."""

    def audited(outcome: str, statement: str | None, reason: str | None = None, **more) -> None:
        audit.record(
            lake, audit.Entry(user, role, "query", outcome, statement=statement, reason=reason, **more)
        )

    try:
        statement = parse(sql, TABLES, known_names())
    except Refused as refused:
        audited("refused", refused.normalized or None, refused.kind)
        raise AccessDenied(f"refused: {refused}") from None
    denied = [name for name in statement.tables if not may_read(role, *name.split("."))]
    if denied:
        audited("denied", statement.normalized, f"denied: {denied[0]}", tables=statement.tables)
        raise AccessDenied(f"role {role} may not read {denied[0]}")
    try:
        existing = existing_tables(lake, statement.tables, when)
    except TimeTravelError as exc:
        audited("failed", statement.normalized, "no such version", tables=statement.tables)
        raise QueryError(str(exc)) from None
    missing = [name for name in statement.tables if name not in existing]
    if missing:
        audited("failed", statement.normalized, "no such table yet", tables=statement.tables)
        readable = sorted(n for n in existing_tables(lake) if may_read(role, *n.split(".")))
        raise QueryError(f"no such table yet: {', '.join(missing)}; tables: {', '.join(readable)}")
    try:
        frame = _execute(statement, existing, sees_masked(role))
    except QueryError as failed:
        audited("failed", statement.normalized, str(failed).split(":", 1)[0], tables=statement.tables)
        raise
    audited("ok", statement.normalized, tables=statement.tables, rows=frame.height)
    return frame


def _execute(statement: Statement, tables: dict[str, DeltaTable], masked: bool) -> pl.DataFrame:
    """Run the statement in a DuckDB that holds `tables` only and can reach nothing else."""
    with DuckDBResource(database=":memory:").get_connection() as conn:
        for layer in {name.split(".")[0] for name in tables}:
            conn.execute(f"CREATE SCHEMA {layer}")
        for name, table in tables.items():
            dataset = table.to_pyarrow_dataset()
            hidden = f"_{secrets.token_hex(8)}"  # unguessable; the parser admits layer.table names only
            conn.register(hidden, dataset)
            conn.execute(
                f"CREATE VIEW {name} AS SELECT {_columns(dataset.schema.names, masked)} FROM {hidden}"
            )
        for setting in CLOSED:
            conn.execute(setting)
        try:
            return conn.sql(statement.sql).pl()
        except duckdb.Error as exc:
            if MISSING_FILE in str(exc):
                raise QueryError(
                    "a data file of the version read is gone: vacuumed, past the window time travel reaches "
                    "(MOBILITY_LAKE_VACUUM_RETENTION_DAYS)"
                ) from None
            raise QueryError(safe_message(str(exc))) from None


def _columns(names: list[str], masked: bool) -> str:
    masking = [n for n in names if masked and n in MASKED_COLUMNS]
    if not masking:
        return "*"
    replaced = ", ".join(f"CASE WHEN {n} IS NULL THEN NULL ELSE '{MASK}' END AS {n}" for n in masking)
    return f"* REPLACE ({replaced})"


@cache
def known_names() -> frozenset[str]:
    """The names the normalized statement keeps (every other is renamed): the columns the lake's tables are
    written with, from their schemas in code (no table is opened), and DuckDB's function names."""
    schemas = [bronze_schema(t.bronze_table) for t in TOPICS]
    schemas += [silver_columns(t) for t in SILVER_TABLES] + [QUARANTINE, audit.SCHEMA]
    schemas += [m.module.COLUMNS for m in MARTS]
    with duckdb.connect(":memory:") as conn:
        functions = conn.sql("SELECT function_name FROM duckdb_functions()").fetchall()
    return frozenset(name for schema in schemas for name in schema) | {r[0].lower() for r in functions}


def render(frame: pl.DataFrame, fmt: str) -> str:
    if fmt == "csv":  # CSV holds no lists or structs: those columns as JSON text
        nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
        return frame.with_columns(
            pl.Series(name, [json.dumps(v, default=str) for v in frame[name].to_list()], pl.String)
            for name in nested
        ).write_csv()
    if fmt == "json":
        return frame.write_json()
    with pl.Config(
        tbl_rows=200, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200, tbl_hide_dataframe_shape=True
    ):
        return f"{frame}\n({frame.height} row{'s' if frame.height != 1 else ''})"
