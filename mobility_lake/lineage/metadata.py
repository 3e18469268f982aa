"""Column lineage and landing columns as Dagster metadata (`dagster/column_lineage`, `dagster/column_schema`)."""

import dagster as dg

from mobility_lake.lineage.model import LANDING_COLUMNS, table_deps

COLUMN_LINEAGE = "dagster/column_lineage"


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


def landing_schema() -> dg.TableSchema:
    """A landed event as the Kafka sink writes it: CloudEvents attributes and the payload."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name, "json" if name == "data" else "string") for name in LANDING_COLUMNS]
    )
