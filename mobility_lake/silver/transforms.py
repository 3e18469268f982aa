"""The silver core: one hour of bronze rows in, that hour's silver rows and quarantine rows out.

Plain polars, no Dagster. Copies of an event (same `source` and `id`) are sorted out first: the copy that
landed first stays, redeliveries are removed and conflicting copies quarantined (`identity.py`); every
other row is validated (`validate.py`), typed (`payload.py`), enriched and masked. Each bronze row of the
hour ends as exactly one of: a silver row, a quarantine row, or a removed duplicate.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from mobility_lake.events.envelope import event_times
from mobility_lake.gdpr.sealing import ERASED, KEY_COLUMN, SEALED_FIELDS, open_for_silver
from mobility_lake.silver.fx import to_eur
from mobility_lake.silver.identity import CONFLICT_REASON, CONFLICT_RULE, ORDER, classify_copies
from mobility_lake.silver.payload import decode_payload
from mobility_lake.silver.tables import TIMESTAMP, SilverTable
from mobility_lake.silver.validate import ROW, envelope_failures, first_failure, payload_failures
from mobility_lake.silver.zones import Zones, assign_zones

ENVELOPE = {
    "event_id": pl.String(),
    "event_source": pl.String(),
    "event_type": pl.String(),
    "event_time": TIMESTAMP,
    "event_subject": pl.String(),
}
LINEAGE = {"landing_file": pl.String(), "record_number": pl.Int64(), "ingested_at": TIMESTAMP}
QUARANTINE = {
    "event_id": pl.String(),
    "event_source": pl.String(),
    "event_type": pl.String(),
    "event_time": TIMESTAMP,
    "rule": pl.String(),
    "reason": pl.String(),
    "landing_file": pl.String(),
    "record_number": pl.Int64(),
    "arrival_hour": TIMESTAMP,
    "ingested_at": TIMESTAMP,
    "partition_hour": TIMESTAMP,
    "partition_date": pl.Date(),
}
FX_PRIORITY = 5000
# An erased subject's personal values are null in bronze's re-reads: their events stay, anonymous.
ERASABLE_RULES = tuple(f"payload.{field}.not_nullable" for field in SEALED_FIELDS)
Keys = Callable[[list[str]], dict[str, bytes]]


@dataclass(frozen=True)
class Reference:
    """The reference data silver enriches with."""

    zones: Zones
    fx_rates: pl.DataFrame


@dataclass(frozen=True)
class SilverResult:
    silver: pl.DataFrame
    quarantine: pl.DataFrame
    bronze_rows: int
    duplicates: int


def derived_columns(table: SilverTable) -> dict[str, pl.DataType]:
    """Columns silver adds after the payload, per table."""
    columns: dict[str, pl.DataType] = {}
    if "latitude" in table.payload_columns:
        columns |= {"zone_id": pl.String(), "zone_name": pl.String()}
    if table.name == "vehicle_telemetry":
        columns["battery_status"] = pl.String()
    if table.name == "booking_events":
        columns |= {"trip_duration_min": pl.Float64(), "fare_amount_eur": pl.Float64()}
    if table.name == "payment_events":
        columns["amount_eur"] = pl.Float64()
    return columns | {"date": pl.Date(), "hour": pl.Int8()}


def silver_columns(table: SilverTable) -> dict[str, pl.DataType]:
    return ENVELOPE | table.payload_columns | derived_columns(table) | LINEAGE


def build_silver(
    bronze: pl.DataFrame,
    table: SilverTable,
    hour: datetime,
    first_hour: datetime,
    reference: Reference,
    earlier: pl.DataFrame | None = None,
    keys: Keys = lambda key_ids: {},
    single_copies: bool = False,
) -> SilverResult:
    """Silver and quarantine rows of one silver hour, from all bronze rows placed in that hour; `earlier`
    holds other hours' first copies of identities the hour also has (`identity.earlier_copies`), and
    `keys(key_ids)` the subject keys that still exist, to open sealed personal values with.
    `single_copies` says no identity of `bronze` has two rows in the hour: none is looked for."""
    if KEY_COLUMN not in bronze.columns:
        bronze = bronze.with_columns(pl.lit(None, pl.String).alias(KEY_COLUMN))
    ordered = _in_landing_order(open_for_silver(bronze, keys)).with_row_index(ROW)
    timed = ordered.with_columns(_event_time(ordered))
    frame = classify_copies(timed, earlier, single_copies)
    kept = frame.filter(pl.col("copy") == "first")
    conflicting = frame.filter(pl.col("copy") == "conflicting").with_columns(
        pl.lit(CONFLICT_RULE).alias("rule"), pl.lit(CONFLICT_REASON).alias("reason")
    )
    duplicates = frame.height - kept.height - conflicting.height

    envelope = envelope_failures(kept, table, first_hour)
    passing = _without(kept, envelope)
    typed, invalid_types = decode_payload(passing, table)
    failures = [envelope, payload_failures(typed, invalid_types, table)]

    silver = _enrich(_assemble(passing, typed, table), table, reference)
    failures.append(_fx_failures(silver, table))
    erased = passing.filter(pl.col(ERASED)).select(ROW).to_series()
    excused = pl.col("rule").is_in(ERASABLE_RULES) & pl.col(ROW).is_in(erased.implode())
    failed = first_failure(pl.concat(failures, how="vertical").filter(~excused))
    silver = _without(silver, failed).select(list(silver_columns(table)))
    quarantine = _quarantine(pl.concat([conflicting, kept.join(failed, on=ROW)], how="diagonal"), hour)
    return SilverResult(silver=silver, quarantine=quarantine, bronze_rows=frame.height, duplicates=duplicates)


def _in_landing_order(bronze: pl.DataFrame) -> pl.DataFrame:
    """The rows sorted by `ORDER`, landing files compared by their rank among the few files of the rows
    (integers sort in a third less time than the file names)."""
    files = bronze["landing_file"].unique().sort(nulls_last=True).drop_nulls()
    rank = pl.col("landing_file").replace_strict(
        files, pl.int_range(files.len(), dtype=pl.UInt32, eager=True), default=None
    )
    keys = [rank if column == "landing_file" else pl.col(column) for column in ORDER]
    return bronze if _ascending(bronze, keys) else bronze.sort(keys, nulls_last=True)


def _event_time(bronze: pl.DataFrame) -> pl.Series:
    """The event time as bronze read it; times of rows bronze ingested before it kept them are read here."""
    if "event_time" not in bronze.columns:
        return event_times(bronze["time"]).alias("event_time")
    carried = bronze["event_time"]
    unread = (carried.is_null() & bronze["time"].is_not_null()).arg_true()
    if unread.len():
        carried = carried.scatter(unread, event_times(bronze["time"].gather(unread)))
    return carried


def _ascending(frame: pl.DataFrame, keys: list[pl.Expr]) -> bool:
    """Whether the rows are already in the order of `keys` (and none is null): a part read from one bronze
    file is, and checking costs a tenth of sorting."""
    columns = frame.select(k.alias(f"k{i}") for i, k in enumerate(keys))
    if columns.null_count().sum_horizontal().item():
        return False
    ordered = None
    for name in reversed(columns.columns):  # row <= next row, compared key by key
        this, following = pl.col(name), pl.col(name).shift(-1)
        ordered = (
            this <= following if ordered is None else (this < following) | ((this == following) & ordered)
        )
    return bool(columns.select(ordered.fill_null(True).all()).item())


def _without(frame: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """`frame` without the rows `failures` names."""
    return frame.join(failures.select(ROW), on=ROW, how="anti") if failures.height else frame


def _assemble(passing: pl.DataFrame, typed: pl.DataFrame, table: SilverTable) -> pl.DataFrame:
    """Envelope and typed payload side by side: `typed` holds `passing`'s rows in its order."""
    envelope = passing.select(
        ROW,
        pl.col("id").alias("event_id"),
        pl.col("source").alias("event_source"),
        pl.col("type").alias("event_type"),
        "event_time",
        pl.col("subject").alias("event_subject"),
        *LINEAGE,
    )
    return pl.concat([envelope, typed.drop(ROW, "event_type")], how="horizontal")


def _enrich(frame: pl.DataFrame, table: SilverTable, reference: Reference) -> pl.DataFrame:
    columns = table.payload_columns
    if "latitude" in columns:
        if "end_latitude" in columns:
            frame = frame.with_columns(
                pl.coalesce("latitude", "end_latitude").alias("_zone_lat"),
                pl.coalesce("longitude", "end_longitude").alias("_zone_lon"),
            )
        else:
            frame = frame.with_columns(
                pl.col("latitude").alias("_zone_lat"), pl.col("longitude").alias("_zone_lon")
            )
        frame = assign_zones(frame, "_zone_lat", "_zone_lon", reference.zones).drop("_zone_lat", "_zone_lon")
    if "battery_level" in columns:
        level = pl.col("battery_level")
        frame = frame.with_columns(
            pl.when(level < 10)
            .then(pl.lit("critical"))
            .when(level < 30)
            .then(pl.lit("low"))
            .when(level < 70)
            .then(pl.lit("medium"))
            .when(level.is_not_null())
            .then(pl.lit("good"))
            .alias("battery_status")
        )
    if "started_at" in columns:
        minutes = (pl.col("ended_at") - pl.col("started_at")).dt.total_microseconds() / 60_000_000
        frame = frame.with_columns(minutes.alias("trip_duration_min"))
        frame = to_eur(frame, "fare_amount", "currency", "event_time", "fare_amount_eur", reference.fx_rates)
    if "amount" in columns:
        frame = to_eur(frame, "amount", "currency", "event_time", "amount_eur", reference.fx_rates)
    return frame.with_columns(
        pl.col("event_time").dt.date().alias("date"),
        pl.col("event_time").dt.hour().cast(pl.Int8).alias("hour"),
    )


def _fx_failures(silver: pl.DataFrame, table: SilverTable) -> pl.DataFrame:
    pairs = [("fare_amount", "fare_amount_eur"), ("amount", "amount_eur")]
    missing = pl.lit(False)
    for amount, eur in pairs:
        if eur in silver.columns:
            missing = missing | (pl.col(amount).is_not_null() & pl.col(eur).is_null())
    return silver.filter(missing).select(
        ROW,
        pl.lit("enrichment.fx_rate").alias("rule"),
        pl.lit("missing_fx_rate").alias("reason"),
        pl.lit(FX_PRIORITY, pl.Int32).alias("priority"),
    )


def _quarantine(rejected: pl.DataFrame, hour: datetime) -> pl.DataFrame:
    return rejected.select(
        pl.col("id").alias("event_id"),
        pl.col("source").alias("event_source"),
        pl.col("type").alias("event_type"),
        "event_time",
        "rule",
        "reason",
        "landing_file",
        "record_number",
        "arrival_hour",
        "ingested_at",
        pl.lit(hour, TIMESTAMP).alias("partition_hour"),
        pl.lit(hour.date(), pl.Date).alias("partition_date"),
    ).cast(QUARANTINE)
