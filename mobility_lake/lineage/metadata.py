"""Column lineage and column descriptions as Dagster metadata (`dagster/column_lineage`,
`dagster/column_schema`)."""

from collections.abc import Iterable, Mapping

import dagster as dg

from mobility_lake.bronze.meanings import LANDING_MEANINGS
from mobility_lake.lineage.model import LANDING_COLUMNS, Dep, landing_topics, table_deps

COLUMN_LINEAGE = "dagster/column_lineage"
NO_UPSTREAM = {  # what sets a column that no upstream column feeds, by layer
    "bronze": "Set at ingestion (no landing column)",
    "silver": "Set by the silver transform (no bronze column)",
    "gold": "Set from the partition being built (no silver column)",
}


def column_lineage(key: dg.AssetKey) -> dg.TableColumnLineage | None:
    """Each column's direct upstream columns; columns from no upstream column are left out."""
    deps = table_deps(key.to_user_string())
    if not deps:
        return None
    return dg.TableColumnLineage(
        deps_by_column={
            column: [
                dg.TableColumnDep(asset_key=dg.AssetKey.from_user_string(a), column_name=c) for a, c in found
            ]
            for column, found in deps.items()
            if found
        }
    )


def column_lineage_metadata(key: dg.AssetKey) -> dict[str, dg.TableColumnLineage]:
    lineage = column_lineage(key)
    return {COLUMN_LINEAGE: lineage} if lineage is not None else {}


def column_descriptions(
    key: dg.AssetKey, columns: Iterable[str], meanings: Mapping[str, str]
) -> dict[str, str]:
    """Each column's meaning, then where it comes from: its upstream columns as `layer/table.column`, the
    Kafka topic of a landing column, or what sets it. The open-source UI draws no column lineage but shows
    these descriptions. ValueError naming every column without a meaning."""
    asset = key.to_user_string()
    columns = list(columns)
    missing = [f"{asset}.{column}" for column in columns if not meanings.get(column)]
    if missing:
        raise ValueError(
            f"no meaning for {', '.join(missing)}: add one beside the table's other column meanings "
            "(bronze/meanings.py, silver/meanings.py, or the gold mart's DOCS)"
        )
    deps = table_deps(asset) or {}
    return {
        column: f"{meanings[column].rstrip('.')}. {_origin(asset, deps.get(column, []))}"
        for column in columns
    }


def _origin(asset: str, found: list[Dep]) -> str:
    if found:
        return "From: " + ", ".join(f"{upstream}.{column}" for upstream, column in found)
    layer = asset.partition("/")[0]
    if layer == "landing":
        return f"From: Kafka topic {landing_topics()[asset]}"
    return NO_UPSTREAM[layer]


def landing_schema(key: dg.AssetKey) -> dg.TableSchema:
    """A landed event as the Kafka sink writes it: CloudEvents attributes and the payload."""
    descriptions = column_descriptions(key, LANDING_COLUMNS, LANDING_MEANINGS)
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, "json" if name == "data" else "string", description=descriptions[name])
            for name in LANDING_COLUMNS
        ]
    )
