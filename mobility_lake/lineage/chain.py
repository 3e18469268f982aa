"""A table's column lineage as an indented tree, down to the landing topics: what `mobility-lake lineage`
prints.

    gold.demand_by_zone_hour
      booking_count
        silver.booking_events.event_type
          bronze.domain_events.type
            landing domain.events: type

Within one column's tree, an upstream column met again is printed once more with "(see above)" instead of
its own tree.
"""

from mobility_lake.bronze.ingest import bronze_schema
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.lineage.model import landing_topics, table_deps
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.silver.transforms import silver_columns

INDENT = "  "
NO_UPSTREAM = {
    "bronze": "(from the landing file, not the event: no landing column)",
    "silver": "(from no bronze column)",
    "gold": "(from no silver column: the partition, or the code)",
}


def table_columns() -> dict[str, list[str]]:
    """Columns in table order, by table name as the CLI takes it ("gold.demand_by_zone_hour")."""
    return {
        **{f"bronze.{t.bronze_table}": list(bronze_schema(t.bronze_table)) for t in TOPICS},
        **{f"silver.{t.name}": list(silver_columns(t)) for t in SILVER_TABLES},
        **{f"gold.{m.name}": list(m.module.COLUMNS) for m in MARTS},
    }


def lineage_chain(table: str, column: str | None = None) -> list[str]:
    """The lines of the tree of a table's columns (or of one column); ValueError naming the valid choices."""
    tables = table_columns()
    if table not in tables:
        raise ValueError(f"unknown table '{table}': expected one of {', '.join(tables)}")
    columns = tables[table]
    if column is not None and column not in columns:
        raise ValueError(f"{table} has no column '{column}': expected one of {', '.join(columns)}")
    asset = table.replace(".", "/", 1)
    topics = landing_topics()
    lines = [table]
    for name in [column] if column is not None else columns:
        lines.append(INDENT + name)
        lines += _upstream(asset, name, 2, set(), topics)
    return lines


def _upstream(
    asset: str, column: str, depth: int, seen: set[tuple[str, str]], topics: dict[str, str]
) -> list[str]:
    indent = INDENT * depth
    found = (table_deps(asset) or {}).get(column, [])
    if not found:
        return [indent + NO_UPSTREAM[asset.partition("/")[0]]]
    lines = []
    for upstream, name in found:
        if upstream in topics:
            lines.append(f"{indent}landing {topics[upstream]}: {name}")
            continue
        label = f"{upstream.replace('/', '.', 1)}.{name}"
        if (upstream, name) in seen:
            lines.append(f"{indent}{label} (see above)")
            continue
        seen.add((upstream, name))
        lines.append(indent + label)
        lines += _upstream(upstream, name, depth + 1, seen, topics)
    return lines
