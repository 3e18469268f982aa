"""One encryption key per subject, in a Delta table of its own: deleting a subject's keys erases them
from bronze without touching a bronze file.

A subject can hold more than one key: two runs that ingest a new subject's first events at the same
time each make one. Every bronze row names the key it was sealed with (`subject_key`), so that is
harmless, and an erasure deletes every key of the subject. Keys are committed before the bronze rows
sealed with them, so no committed row names a key that does not exist.
"""

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import polars as pl

from mobility_lake.storage import Lake

LAYER, TABLE = "keys", "subject_keys"
TIMESTAMP = pl.Datetime("us", "UTC")
SCHEMA = pl.Schema(
    {"key_id": pl.String(), "user_id": pl.String(), "key": pl.Binary(), "created_at": TIMESTAMP}
)
KEY_BYTES = 32  # AES-256


def all_keys(lake: Lake) -> pl.DataFrame:
    """Every key row (key_id, user_id, key, created_at); empty before the first subject."""
    frame = lake.read(LAYER, TABLE)
    return frame if frame.width else pl.DataFrame(schema=SCHEMA)


def keys_by_id(lake: Lake, key_ids: Iterable[str]) -> dict[str, bytes]:
    """The keys of `key_ids` that still exist: an erased subject's are gone."""
    wanted = sorted(set(key_ids))
    scan = lake.scan(LAYER, TABLE)
    if scan is None or not wanted:
        return {}
    found = scan.filter(pl.col("key_id").is_in(wanted)).select("key_id", "key").collect()
    return dict(found.iter_rows())


def keys_of_subject(lake: Lake, user_id: str) -> dict[str, bytes]:
    """key_id -> key of every key the subject holds."""
    scan = lake.scan(LAYER, TABLE)
    if scan is None:
        return {}
    return dict(scan.filter(pl.col("user_id") == user_id).select("key_id", "key").collect().iter_rows())


def keys_for_subjects(lake: Lake, user_ids: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """user_id -> (key_id, key) for every subject given, making and committing a key for each one that has
    none; of several keys, the oldest (then the least key_id), so every run seals with the same one."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    scan = lake.scan(LAYER, TABLE)
    found: dict[str, tuple[str, bytes]] = {}
    if scan is not None:
        rows = (
            scan.filter(pl.col("user_id").is_in(wanted))
            .sort("created_at", "key_id")
            .unique("user_id", keep="first")
            .select("user_id", "key_id", "key")
            .collect()
        )
        found = {user: (key_id, key) for user, key_id, key in rows.iter_rows()}
    missing = [u for u in wanted if u not in found]
    if missing:
        made = pl.DataFrame(
            {
                "key_id": [str(uuid.uuid4()) for _ in missing],
                "user_id": missing,
                "key": [os.urandom(KEY_BYTES) for _ in missing],
                "created_at": [datetime.now(UTC)] * len(missing),
            },
            schema=SCHEMA,
        )
        lake.append(LAYER, TABLE, made)
        found |= {user: (key_id, key) for key_id, user, key, _ in made.iter_rows()}
    return found
