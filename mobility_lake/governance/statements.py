"""What a query statement is allowed to be, read from its parse tree (sqlglot, DuckDB dialect).

One statement, and a query (SELECT, UNION, ...): no DDL, DML, COPY, ATTACH, INSTALL/LOAD, SET or PRAGMA.
It reads only `layer.table` names of the lake and the CTEs it defines, and calls no function that reads
files. DuckDB runs with external access off as a second wall (`query.py`); this first one knows which
tables a statement reads, so the policy is checked before any data is, and tells the user why in a line.

The audit log keeps the statement as `normalized`: literals become `?`, comments go, and every identifier
that is not a name the lake defines (a layer, a table, a column, a function) becomes `name1`, `name2`, ...
so no value typed into a statement (an e-mail in a WHERE, a user id as a quoted alias) reaches the log.
"""

import logging
from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# Refusal kinds, as the audit log records them.
FILE_READ = "file_read"
FILE_WRITE = "file_write"
ATTACH = "attach"
EXTENSION = "extension"
MULTIPLE = "multiple_statements"
DDL = "ddl"
DML = "dml"
SETTING = "setting"
NOT_A_QUERY = "not_a_query"
UNPARSABLE = "unparsable"
UNKNOWN_TABLE = "unknown_table"

_KINDS: tuple[tuple[tuple[type[exp.Expression], ...], str], ...] = (
    ((exp.Copy, exp.Export), FILE_WRITE),
    ((exp.Attach, exp.Detach, exp.Use), ATTACH),
    ((exp.Install,), EXTENSION),
    ((exp.Create, exp.Drop, exp.Alter, exp.TruncateTable, exp.Comment), DDL),
    ((exp.Insert, exp.Update, exp.Delete, exp.Merge), DML),
    ((exp.Set, exp.Pragma), SETTING),
)
_COMMAND_KINDS = {"load": EXTENSION, "export": FILE_WRITE, "import": FILE_READ, "call": SETTING}
# Table functions and scalar functions that reach files or other databases.
FILE_FUNCTION_PREFIXES = ("read_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_")
FILE_FUNCTIONS = frozenset({"glob", "query_table", "query", "sniff_csv", "load_aws_credentials"})
# sqlglot warns on stderr when it keeps a statement it cannot parse as a raw Command; the refusal says more.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class Refused(ValueError):
    """The statement is not one the query engine runs: `kind` for the audit, the message for the user."""

    def __init__(self, kind: str, message: str, normalized: str = ""):
        super().__init__(message)
        self.kind = kind
        self.normalized = normalized


@dataclass(frozen=True)
class Statement:
    sql: str
    tables: tuple[str, ...]  # `layer.table` names read, sorted
    normalized: str  # for the audit log: no literal, comment or unknown name


def parse(sql: str, tables: dict[str, Collection[str]], known_names: Collection[str]) -> Statement:
    """The one query in `sql` and the lake tables it reads; Refused otherwise.

    `tables` maps each layer to its table names; `known_names` are the column and function names the
    normalized statement may keep."""
    try:
        parsed = [p for p in sqlglot.parse(sql, read="duckdb") if p is not None]
    except SqlglotError:
        raise Refused(UNPARSABLE, "the statement could not be parsed as DuckDB SQL") from None
    if not parsed:
        raise Refused(UNPARSABLE, "the statement is empty")
    normalized = "; ".join(normalize(p, tables, known_names) for p in parsed)
    if len(parsed) > 1:
        raise Refused(MULTIPLE, f"{len(parsed)} statements given: run one query per call", normalized)
    tree = parsed[0]
    kind = statement_kind(tree)
    if kind is not None:
        raise Refused(kind, f"only queries run here, not {_describe(tree)} ({kind})", normalized)
    for function in tree.find_all(exp.Func):
        name = function_name(function)
        if name.startswith(FILE_FUNCTION_PREFIXES) or name in FILE_FUNCTIONS:
            raise Refused(
                FILE_READ, f"{name}() reads files: a query reads only the lake's tables", normalized
            )
    # DuckDB matches names case-insensitively, quoted or not: so does the policy.
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    read: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise Refused(
                FILE_READ, "a table function reads files: a query reads only the lake's tables", normalized
            )
        layer, name = table.db.lower(), table.name.lower()
        if table.catalog or (not layer and name not in ctes):
            raise Refused(
                UNKNOWN_TABLE, "a table is named without its layer: name tables as layer.table", normalized
            )
        if not layer:
            continue
        if layer not in tables:
            raise Refused(UNKNOWN_TABLE, f"no layer {table.db}: layers are {', '.join(tables)}", normalized)
        read.add(f"{layer}.{name}")
    return Statement(sql, tuple(sorted(read)), normalized)


def statement_kind(tree: exp.Expression) -> str | None:
    """None for a query; otherwise the refusal kind of the statement."""
    if isinstance(tree, exp.Query):
        return None
    for classes, kind in _KINDS:
        if isinstance(tree, classes):
            return kind
    if isinstance(tree, exp.Command):
        return _COMMAND_KINDS.get(str(tree.this).lower(), NOT_A_QUERY)
    return NOT_A_QUERY


def function_name(function: exp.Func) -> str:
    if isinstance(function, exp.Anonymous):
        return str(function.this).lower()
    return function.sql_name().lower()


def normalize(tree: exp.Expression, tables: dict[str, Collection[str]], known_names: Collection[str]) -> str:
    """The statement with literals as `?`, without comments, and unknown identifiers renamed; of a statement
    sqlglot keeps as raw text (LOAD, CALL, ...) only its first word."""
    if isinstance(tree, exp.Command):
        return f"{_describe(tree)} …"
    keep = {*tables, *(name for names in tables.values() for name in names), *known_names}
    keep |= {name.upper() for name in keep}
    renamed: dict[str, str] = {}

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Literal):
            return exp.Placeholder()
        if isinstance(node, exp.Identifier) and node.name not in keep:
            new = renamed.setdefault(node.name, f"name{len(renamed) + 1}")
            return exp.to_identifier(new)
        if isinstance(node, exp.Anonymous) and str(node.this).lower() not in keep:
            new = renamed.setdefault(str(node.this), f"name{len(renamed) + 1}")
            return exp.Anonymous(this=new, expressions=node.expressions)
        return node

    return tree.copy().transform(rename).sql(dialect="duckdb", comments=False)


def _describe(tree: exp.Expression) -> str:
    if isinstance(tree, exp.Command):
        return str(tree.this).upper()
    return tree.key.upper()
