"""Column lineage: each column of each table traced to the columns it comes from, down to the landing
topics. `model.py` holds it as data, `metadata.py` hands it to Dagster (also in each column's description),
`chain.py` prints it, and `probe.py` derives the silver and gold part from the code
(`python -m mobility_lake.lineage` rewrites `columns.json`).
"""

from mobility_lake.lineage.metadata import (
    column_descriptions,
    column_lineage,
    column_lineage_metadata,
    landing_schema,
)

__all__ = [
    "column_descriptions",
    "column_lineage",
    "column_lineage_metadata",
    "landing_schema",
    "lineage_chain",
]


def lineage_chain(table: str, column: str | None = None) -> list[str]:
    """See `chain.lineage_chain` (imported on use: it needs the silver and gold table definitions)."""
    from mobility_lake.lineage.chain import lineage_chain as chain

    return chain(table, column)
