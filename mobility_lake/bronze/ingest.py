"""Ingest the landing files of one topic's arrival hours into its bronze table, each file exactly once.

Files are read in batches bounded in bytes, one data file per batch, and committed some batches at a time,
one Delta commit each. A batch's commit is
guarded by its arrival hour: if another run committed files of the same hour since the ledger was read,
the commit fails, the ledger is read again and only what is still missing is written. Re-running an hour
therefore adds nothing, and a new file in an old hour adds exactly its rows.
"""

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from mobility_lake.bronze.ledger import arrival_date, ingested_files
from mobility_lake.bronze.records import BRONZE_COLUMNS, records_from_file
from mobility_lake.bronze.undeclared import undeclared_fields
from mobility_lake.events.catalogue import LANDING_SUFFIXES, TELEMETRY, topic_for_table
from mobility_lake.events.envelope import event_times
from mobility_lake.gdpr.keys import keys_for_subjects
from mobility_lake.gdpr.sealing import KEY_COLUMN, naming_a_subject, seal
from mobility_lake.landing import LandingFile, hour_folder, parse_landing_key
from mobility_lake.storage import Lake, ObjectInfo

BATCH_BYTES = 64 * 1024 * 1024  # landing bytes read into one data file: what memory holds
COMMIT_BYTES = 1024 * 1024 * 1024  # landing bytes per Delta commit: what a crash or a conflict costs
PARTITION_BY = ["arrival_date"]
STRUCT_PAYLOADS = {"vehicle_telemetry": pl.Struct(TELEMETRY)}
log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion added: counts and error reason codes only, never row content."""

    files_added: int = 0
    files_already_ingested: int = 0
    files_skipped: int = 0  # in the hour folder, but not a landing file (another extension)
    rows_added: int = 0
    errors: Counter = field(default_factory=Counter)
    # new rows per (arrival hour, event hour or None): which silver hours the new rows touch
    event_hours: Counter = field(default_factory=Counter)
    undeclared: Counter = field(default_factory=Counter)  # rows per `field (event type)` not in the catalogue

    def merge(self, other: "IngestReport") -> None:
        self.files_added += other.files_added
        self.files_already_ingested += other.files_already_ingested
        self.files_skipped += other.files_skipped
        self.rows_added += other.rows_added
        self.errors.update(other.errors)
        self.event_hours.update(other.event_hours)
        self.undeclared.update(other.undeclared)


def landed_files(lake: Lake, table: str, hour: datetime) -> list[tuple[LandingFile, ObjectInfo]]:
    """The landing files of a table's topic in one arrival-hour folder."""
    return list_hour_folder(lake, table, hour)[0]


def list_hour_folder(
    lake: Lake, table: str, hour: datetime
) -> tuple[list[tuple[LandingFile, ObjectInfo]], list[str]]:
    """The landing files of a table's topic in one arrival-hour folder, and the keys of the other files
    there (another extension, a sink's temporary file): those are skipped, and said so."""
    topic = topic_for_table(table).name
    found, skipped = [], []
    for info in lake.list_files(hour_folder(topic, hour)):
        landing = parse_landing_key(info.key)
        if landing is not None and landing.topic == topic and landing.hour == hour:
            found.append((landing, info))
        else:
            skipped.append(info.key)
    return found, skipped


ORIGIN_COLUMNS = {
    "landing_file": pl.String(),
    "ingested_at": pl.Datetime("us", "UTC"),
    "arrival_hour": pl.Datetime("us", "UTC"),
    "arrival_date": pl.String(),
    "event_hour": pl.Datetime("us", "UTC"),
    "event_time": pl.Datetime("us", "UTC"),
}


def bronze_schema(table: str) -> pl.Schema:
    """Columns of a bronze table: envelope, payload as arrived, parse error, and where each row came from."""
    struct = STRUCT_PAYLOADS.get(table)
    return pl.Schema(
        {
            **BRONZE_COLUMNS,
            **({"data_struct": struct} if struct else {}),
            **ORIGIN_COLUMNS,
            KEY_COLUMN: pl.String(),
        }
    )


def ingest_by_hour(lake: Lake, table: str, hours: list[datetime]) -> dict[datetime, IngestReport]:
    """Ingest every not-yet-ingested file of the given arrival hours; returns what each hour added."""
    lake.ensure_table("bronze", table, bronze_schema(table), partition_by=PARTITION_BY)
    return {hour: _ingest_hour(lake, table, hour) for hour in hours}


def ingest_hours(lake: Lake, table: str, hours: list[datetime]) -> IngestReport:
    """`ingest_by_hour`, with what the hours added summed."""
    report = IngestReport()
    for hour_report in ingest_by_hour(lake, table, hours).values():
        report.merge(hour_report)
    return report


def _ingest_hour(lake: Lake, table: str, hour: datetime) -> IngestReport:
    listed, skipped = list_hour_folder(lake, table, hour)
    report = IngestReport()
    for commit in _batches(listed, COMMIT_BYTES):
        report.merge(_ingest_batch(lake, table, hour, commit))
    report.files_already_ingested = len(listed) - report.files_added
    report.files_skipped = len(skipped)
    for key in skipped:
        log.warning(f"{key}: skipped, not a landing file (expected {', '.join(LANDING_SUFFIXES)})")
    log.info(
        "bronze/%s %s: %d files added, %d already ingested, %d rows",
        table,
        hour.isoformat(),
        report.files_added,
        report.files_already_ingested,
        report.rows_added,
    )
    return report


Listed = list[tuple[LandingFile, ObjectInfo]]


def _batches(listed: Listed, limit: int) -> list[Listed]:
    """Consecutive files in batches of at most `limit` bytes (a larger file is a batch alone)."""
    batches: list[Listed] = []
    size = limit
    for landing, info in listed:
        if size + info.size > limit and (not batches or batches[-1]):
            batches.append([])
            size = 0
        batches[-1].append((landing, info))
        size += info.size
    return [b for b in batches if b]


def _ingest_batch(lake: Lake, table: str, hour: datetime, commit: Listed) -> IngestReport:
    """One commit's files, read `BATCH_BYTES` at a time into a data file each: a data file is written while
    the next is read, so reading and writing share the two cores."""
    report = IngestReport()

    def prepare() -> tuple[Iterator[pl.DataFrame], str] | None:
        done = ingested_files(lake, table, [hour], [f.key for f, _ in commit])
        todo = [(f, info) for f, info in commit if f.key not in done]
        report.files_added, report.rows_added, report.errors, report.event_hours = 0, 0, Counter(), Counter()
        report.undeclared = Counter()
        if not todo:
            return None
        ingested_at = datetime.now(UTC)

        def data_files() -> Iterator[pl.DataFrame]:
            for batch in _batches(todo, BATCH_BYTES):
                frames = [_file_rows(lake, table, f, hour, ingested_at) for f, _ in batch]
                data = _sealed(lake, table, pl.concat(frames, how="vertical"))
                report.files_added += len(batch)
                report.rows_added += data.height
                report.errors.update(data["error"].drop_nulls().str.extract(r"^([a-z_0-9]+)", 1).to_list())
                report.event_hours.update(
                    {(hour, e): n for e, n in data.group_by("event_hour").len().iter_rows()}
                )
                report.undeclared.update(undeclared_fields(data))
                yield data

        return data_files(), f"ingest {hour.isoformat()}"

    lake.append_guarded("bronze", table, prepare, partition_by=PARTITION_BY)
    return report


def _sealed(lake: Lake, table: str, data: pl.DataFrame) -> pl.DataFrame:
    """The batch with its subjects' personal values sealed; new subjects' keys are committed first, so a
    crash between the two commits leaves unused keys, never unreadable rows."""
    named = naming_a_subject(data)
    keys = keys_for_subjects(lake, named["user_id"].unique().to_list())
    return seal(data, keys, named).select(list(bronze_schema(table)))


def _file_rows(
    lake: Lake, table: str, landing: LandingFile, hour: datetime, ingested_at: datetime
) -> pl.DataFrame:
    payload = lake.read_bytes(landing.key)
    records = records_from_file(landing.name, payload, STRUCT_PAYLOADS.get(table))
    reasons = Counter(records["error"].drop_nulls().str.extract(r"^([a-z_0-9]+)", 1).to_list())
    if reasons:  # the file and reason counts, never a line's content
        described = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
        log.warning(
            f"{landing.key}: {sum(reasons.values())} of {records.height} record(s) unparsed ({described})"
        )
    times = event_times(records["time"])
    return records.with_columns(
        pl.lit(landing.key).alias("landing_file"),
        pl.lit(ingested_at, pl.Datetime("us", "UTC")).alias("ingested_at"),
        pl.lit(hour, pl.Datetime("us", "UTC")).alias("arrival_hour"),
        pl.lit(arrival_date(hour)).alias("arrival_date"),
        times.dt.truncate("1h").alias("event_hour"),
        times.alias("event_time"),
    ).select([c for c in bronze_schema(table) if c != KEY_COLUMN])
