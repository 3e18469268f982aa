"""Payload fields the catalogue does not declare: kept in bronze as they landed, counted so a producer's new
field is seen (and declared, docs/schema.md) rather than silently left out of silver."""

from collections import Counter

import polars as pl

from mobility_lake.events.catalogue import PAYLOADS, TYPE_PREFIX

KEY = r'"((?:[^"\\]|\\.)*)"\s*:'  # a JSON object's keys (payloads are flat: nested keys count too)


def undeclared_fields(rows: pl.DataFrame) -> Counter:
    """Rows per `field (event type)` whose JSON payload carries a field its event type does not declare;
    rows of unknown types are silver's to reject, not counted here."""
    declared = pl.DataFrame(
        [(TYPE_PREFIX + event_type, name) for event_type, fields in PAYLOADS.items() for name in fields],
        schema={"type": pl.String, "field": pl.String},
        orient="row",
    )
    keys = (
        rows.lazy()
        .filter(pl.col("data").is_not_null() & pl.col("type").is_in(declared["type"].unique().implode()))
        .select("type", pl.col("data").str.extract_all(KEY).alias("field"))
        .with_row_index("row")
        .explode("field")
        .with_columns(pl.col("field").str.extract(KEY, 1))
        .join(declared.lazy(), on=["type", "field"], how="anti")
        .filter(pl.col("field").is_not_null())
        .unique(["row", "field"])
        .group_by("type", "field")
        .len()
        .collect()
    )
    return Counter({f"{field} ({kind.removeprefix(TYPE_PREFIX)})": n for kind, field, n in keys.iter_rows()})
