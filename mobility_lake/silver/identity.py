"""One row per event identity across hours: which copy of a (`source`, `id`) stays, and which conflict.

Copies of an identity are ordered by when they landed: ingestion batch first, then arrival hour, landing
file and line. The first copy stays. A later copy with the same event time is a redelivery and is removed
as a duplicate; a later copy with another event time is a conflicting duplicate and goes to quarantine,
whether it lies in the same silver hour or in another one. Ordering by ingestion batch makes the choice
stable: a copy ingested later never displaces one already in silver, so only the hours that new bronze
rows touch need re-running, as the silver sensor already does.

Another hour's copies are looked for among the bronze rows that arrived within the lateness window of the
hour (the arrival hours from `hour - lateness - 1` to `hour + lateness`), and only among copies whose event
time placed them (a copy placed by its arrival hour has no trusted time, and is quarantined for it). Only
8-byte identity hashes are held in memory (`shared_hashes`); the rows they match are compared exactly.
"""

from datetime import datetime, timedelta

import polars as pl

from mobility_lake.bronze.history import landed_rows
from mobility_lake.bronze.ledger import arrival_date
from mobility_lake.placement import FUTURE_TOLERANCE, silver_hour
from mobility_lake.storage import Lake

ORDER = ("ingested_at", "arrival_hour", "landing_file", "record_number")
KEY = ("source", "id")
CONFLICT_RULE = "identity.unique"
CONFLICT_REASON = "conflicting_duplicate"
HOUR = timedelta(hours=1)


def identity_hash(source: str = "source", id_: str = "id") -> pl.Expr:
    return pl.struct(pl.col(source), pl.col(id_)).hash()


def window(hour: datetime, lateness: timedelta) -> tuple[datetime, datetime]:
    """The arrival hours [start, end) whose copies are compared with the hour's."""
    return hour - lateness - FUTURE_TOLERANCE, hour + lateness + HOUR


def earlier_copies(
    lake: Lake,
    bronze_table: str,
    hour: datetime,
    first_hour: datetime,
    lateness: timedelta,
    rows: pl.LazyFrame,
    hashes: pl.Series | None = None,
) -> pl.DataFrame:
    """For the identities of `rows` (the hour's placed bronze rows) that another hour also holds, that hour's
    first copy: its identity and its landing order (`ORDER`). `hashes` are the identity hashes of `rows`
    when the caller has them already."""
    scan = landed_rows(lake, bronze_table)
    identified = pl.col("source").is_not_null() & pl.col("id").is_not_null()
    if hashes is None:
        hashes = rows.filter(identified).select(identity_hash().alias("h")).collect(engine="streaming")["h"]
    none = pl.DataFrame(schema={**dict.fromkeys(KEY, pl.String()), **_order_schema(rows)})
    if scan is None or hashes.is_empty():
        return none
    start, end = window(hour, lateness)
    placed = silver_hour(pl.col("event_hour"), pl.col("arrival_hour"), first_hour)
    candidates = (
        scan.filter(pl.col("arrival_date").is_between(pl.lit(arrival_date(start)), pl.lit(arrival_date(end))))
        .filter((pl.col("arrival_hour") >= start) & (pl.col("arrival_hour") < end))
        .filter(identified & (pl.col("event_hour") != hour) & (placed == pl.col("event_hour")))
    )
    shared = shared_hashes(hashes, candidates.select(identity_hash()))
    if shared.is_empty():
        return none
    others = (
        candidates.filter(identity_hash().is_in(shared.implode()))
        .select(*KEY, *ORDER)
        .collect(engine="streaming")
    )
    exact = others.join(_matching(rows, KEY, others.select(identity_hash())), on=list(KEY), how="semi")
    return exact.sort(ORDER).unique(subset=list(KEY), keep="first", maintain_order=True)


def _order_schema(rows: pl.LazyFrame) -> dict[str, pl.DataType]:
    schema = rows.collect_schema()
    return {c: schema[c] for c in ORDER}


def classify_copies(
    frame: pl.DataFrame, earlier: pl.DataFrame | None, single_copies: bool = False
) -> pl.DataFrame:
    """`frame` (the hour's rows sorted by `ORDER`, `event_time` parsed) with a `copy` column: "first",
    "duplicate" (same event time as the first copy) or "conflicting"; rows without an identity are "first".

    The hour's first copy of an identity is "conflicting" too when another hour's copy landed before it."""
    frame = frame.with_columns(_copies_in(frame, single_copies))
    if earlier is None or earlier.is_empty():
        return frame
    landed_before = (
        pl.concat(
            [
                frame.filter(pl.col("copy") == "first").select(*KEY, *ORDER, pl.lit(True).alias("here")),
                earlier.select(*KEY, *ORDER, pl.lit(False).alias("here")),
            ]
        )
        .sort(ORDER)
        .unique(subset=list(KEY), keep="first", maintain_order=True)
        .filter(~pl.col("here"))
        .select(KEY)
    )
    displaced = frame.join(
        landed_before.with_columns(pl.lit(True).alias("_displaced")), on=list(KEY), how="left"
    )
    return displaced.with_columns(
        pl.when(pl.col("_displaced") & (pl.col("copy") == "first"))
        .then(pl.lit("conflicting"))
        .otherwise(pl.col("copy"))
        .alias("copy")
    ).drop("_displaced")


def _copies_in(frame: pl.DataFrame, single_copies: bool) -> pl.Series:
    """The `copy` of each row within the frame alone (all "first" when the caller knows it has single
    copies). Identities are compared exactly only among the rows whose 8-byte identity hash repeats (a
    hundredth of an hour): a unique hash is a unique identity."""
    copies = pl.repeat("first", frame.height, dtype=pl.String, eager=True).alias("copy")
    if single_copies:
        return copies
    repeats = frame.select(identity_hash().is_duplicated()).to_series()
    if not repeats.any():
        return copies
    rows = repeats.arg_true()  # ascending: the candidates keep their landing order
    identified = pl.col("id").is_not_null() & pl.col("source").is_not_null()
    first_time = pl.col("event_time").first().over(KEY)
    copy = (
        pl.when(~identified | pl.struct(KEY).is_first_distinct())
        .then(pl.lit("first"))
        .when(pl.col("event_time").eq_missing(first_time))
        .then(pl.lit("duplicate"))
        .otherwise(pl.lit("conflicting"))
    )
    candidates = frame.select(*KEY, "event_time").gather(rows)
    return copies.scatter(rows, candidates.select(copy).to_series())


def silver_hour_rows(scan: pl.LazyFrame, hour: datetime) -> pl.LazyFrame:
    """The rows of a silver hour, pruned to its day's partition."""
    return scan.filter(pl.col("date") == hour.date()).filter(_in_hour(hour))


def silver_hour_hashes(scan: pl.LazyFrame, hour: datetime) -> pl.Series:
    """The identity hash of every row of a silver hour, streamed from the table: 8 bytes a row."""
    key = identity_hash("event_source", "event_id").alias("h")
    return silver_hour_rows(scan, hour).select(key).collect(engine="streaming")["h"]


def held_twice(hashes: pl.Series) -> pl.Series:
    """The values a sorted series holds more than once, once each: found next to each other, no hash table."""
    following, preceding = hashes.slice(1), hashes.slice(0, max(hashes.len() - 1, 0))  # views, not copies
    return following.filter(following == preceding).unique()


def _in_hour(hour: datetime) -> pl.Expr:
    return (pl.col("event_time") >= hour) & (pl.col("event_time") < hour + HOUR)


def repeated_elsewhere(
    lake: Lake, table: str, hour: datetime, lateness: timedelta, here: pl.Series | None = None
) -> int:
    """Identities of the silver hour that silver also holds in another hour of the window (`window`, here
    in event time); `here` is the hour's `silver_hour_hashes` when the caller has them already."""
    scan = lake.scan("silver", table)
    if scan is None:
        return 0
    start, end = window(hour, lateness)
    in_hour = _in_hour(hour)
    key = identity_hash("event_source", "event_id")
    if here is None:
        here = silver_hour_hashes(scan, hour)
    if here.is_empty():
        return 0
    elsewhere = scan.filter(pl.col("date").is_between(start.date(), end.date())).filter(
        (pl.col("event_time") >= start) & (pl.col("event_time") < end) & ~in_hour
    )
    shared = shared_hashes(here, elsewhere.select(key))
    if shared.is_empty():
        return 0
    candidates = (
        elsewhere.filter(key.is_in(shared.implode()))
        .select("event_source", "event_id")
        .collect(engine="streaming")
    )
    mine = _matching(
        silver_hour_rows(scan, hour),
        ("event_source", "event_id"),
        candidates.select(identity_hash("event_source", "event_id")),
    )
    return candidates.join(mine, on=["event_source", "event_id"], how="semi").unique().height


def shared_hashes(here: pl.Series, there: pl.LazyFrame) -> pl.Series:
    """The hashes of `here` that `there` (one column of hashes, unread) also holds, once each.

    A hash set costs about 24 bytes an entry: 4 GiB for a 180M-row hour. It is built of `there` when that
    holds fewer rows than `here` (an hour's window usually holds few rows of other hours; a seed hour's
    none), of `here` only when `there` is larger."""
    found = there.head(here.len() + 1).collect(engine="streaming").to_series()
    if found.len() <= here.len():
        return here.filter(here.is_in(found.unique().implode())).unique()
    matched = there.filter(pl.first().is_in(here.implode())).unique().collect(engine="streaming")
    return matched.to_series()


def _matching(frame: pl.LazyFrame, key: tuple[str, ...], hashes: pl.DataFrame) -> pl.DataFrame:
    """The distinct identities of `frame` whose hash is among `hashes` (few): never all of the hour's."""
    wanted = hashes.to_series().implode()
    return frame.filter(identity_hash(*key).is_in(wanted)).select(key).unique().collect(engine="streaming")
