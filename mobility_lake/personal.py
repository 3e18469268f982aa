"""Which columns can hold personal data (CONTRACT §2) or raw payloads, so that no Delta log ever copies them.

A Delta log outlives the data files it names: a commit's `add` action keeps each file's minimum and
maximum per column, and neither rewriting nor vacuuming the files reaches it. Columns that hold a subject's
`user_id`, e-mail or phone, a raw payload (which holds them too), an envelope subject, or coordinates in a
table that also holds a `user_id`, therefore get no statistics, in the files polars writes
(`delta_stats.py`) and, through the table property `delta.dataSkippingStatsColumns`, in delta-rs's own.
Other strings keep statistics only up to `STRING_STATS_LENGTH` characters: a longer value is dropped
rather than cut, since a cut maximum is no upper bound and a cut landing key would stop the ledger from
skipping files.
"""

import polars as pl

PERSONAL = frozenset({"user_id", "email", "phone", "subject", "event_subject"})
RAW = frozenset({"data", "raw", "error", "extensions", "data_struct"})
COORDINATES = frozenset({"latitude", "longitude", "end_latitude", "end_longitude"})
MAX_STATS_COLUMNS = 32  # delta-rs reads statistics of the first 32 columns unless told otherwise
# A landing key fits (the bronze ledger skips files by `landing_file`); a raw line or payload does not.
STRING_STATS_LENGTH = 256
STATS_COLUMNS_PROPERTY = "delta.dataSkippingStatsColumns"


def stats_columns(schema: pl.Schema, partition_by: list[str] | None = None) -> list[str]:
    """The columns whose statistics a table's log may keep, in table order, at most `MAX_STATS_COLUMNS`."""
    located_subjects = "user_id" in schema
    return [
        name
        for name, dtype in schema.items()
        if not dtype.is_nested()
        and dtype != pl.Binary()
        and name not in (partition_by or ())
        and name not in PERSONAL | RAW
        and not (located_subjects and name in COORDINATES)
    ][:MAX_STATS_COLUMNS]
