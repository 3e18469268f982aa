"""Where a subject's data lives, found without reading tables that hold no subject (telemetry, weather).

Bronze rows are found by the subject's keys (`subject_key`), silver and gold rows by `user_id`, and
quarantine rows by the bronze rows they came from (file and line): quarantine keeps no payload.
"""

from collections.abc import Callable

import orjson
import polars as pl

from mobility_lake.bronze.history import landed_rows
from mobility_lake.events.catalogue import PAYLOADS, TOPICS
from mobility_lake.gdpr.keys import keys_of_subject
from mobility_lake.gdpr.scan import Identifiers
from mobility_lake.gdpr.sealing import KEY_COLUMN, MASKED_FIELDS, mask, opened_rows
from mobility_lake.gold.marts import MARTS
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake

SUBJECT_TOPICS = tuple(t for t in TOPICS if any("user_id" in PAYLOADS[e] for e in t.event_types))
BRONZE = tuple(t.bronze_table for t in SUBJECT_TOPICS)
SILVER = tuple(t.name for t in SILVER_TABLES if "user_id" in t.payload_columns)
GOLD = tuple(m.name for m in MARTS if "user_id" in m.module.COLUMNS)
ORIGIN = ("landing_file", "record_number")
Say = Callable[[str], None]


def bronze_records(lake: Lake, user_id: str, keys: dict[str, bytes]) -> dict[str, pl.DataFrame]:
    """Per bronze table, the subject's rows with their personal values opened (`data` as JSON text)."""
    found = {}
    for table in BRONZE:
        scan = landed_rows(lake, table)
        if scan is None or not keys:
            found[table] = pl.DataFrame()
            continue
        found[table] = opened_rows(scan.filter(pl.col(KEY_COLUMN).is_in(list(keys))).collect(), keys)
    return found


def silver_rows(lake: Lake, user_id: str) -> dict[str, pl.DataFrame]:
    return {t: _where_user(lake, "silver", t, user_id) for t in SILVER}


def gold_rows(lake: Lake, user_id: str) -> dict[str, pl.DataFrame]:
    return {t: _where_user(lake, "gold", t, user_id) for t in GOLD}


def quarantine_rows(lake: Lake, bronze: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Quarantine rows that came from the subject's bronze rows."""
    found = {}
    for table in SILVER_TABLES:
        origins = bronze.get(table.bronze_table)
        scan = lake.scan("quarantine", table.name)
        if scan is None or origins is None or origins.is_empty():
            continue
        wanted = origins.select(ORIGIN).unique()
        files = wanted["landing_file"].unique().to_list()
        candidates = scan.filter(pl.col("landing_file").is_in(files)).collect()
        found[table.name] = candidates.join(wanted, on=list(ORIGIN), how="semi")
    return found


def _where_user(lake: Lake, layer: str, table: str, user_id: str) -> pl.DataFrame:
    scan = lake.scan(layer, table)
    return pl.DataFrame() if scan is None else scan.filter(pl.col("user_id") == user_id).collect()


def identifiers_of(lake: Lake, user_id: str) -> Identifiers:
    """The subject's id, every e-mail and phone their events carried, and every keyed mask silver stored
    of them (made with each of their keys): what an erasure removes and the scan looks for."""
    keys = keys_of_subject(lake, user_id)
    values: dict[str, set[str]] = {"email": set(), "phone": set()}
    for rows in bronze_records(lake, user_id, keys).values():
        for text in rows["data"].drop_nulls() if rows.height else []:
            payload = orjson.loads(text)
            for field in MASKED_FIELDS:
                value = payload.get(field) if isinstance(payload, dict) else None
                if value is not None:
                    values[field].add(value if isinstance(value, str) else orjson.dumps(value).decode())
    masks = {mask(key, field, v) for key in keys.values() for field in MASKED_FIELDS for v in values[field]}
    for rows in silver_rows(lake, user_id).values():
        for field in MASKED_FIELDS:
            if field in rows.columns:
                masks |= set(rows[field].drop_nulls().to_list())
    return Identifiers(
        {
            "user_id": frozenset({user_id}),
            "email": frozenset(values["email"]),
            "phone": frozenset(values["phone"]),
            "mask": frozenset(masks),
        }
    )
