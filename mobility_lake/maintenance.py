"""Keeping the lake's Delta tables healthy for years: compaction, Z-order, vacuum, checkpoints, log cleanup.

A silver hour at seed scale is about 90 files: 788,000 files a year per table, and a log of tens of thousands
of versions. A pass over one table:

1. compacts the files of its closed partitions into files of about `TARGET_BYTES` (delta-rs
   `optimize.compact`, which leaves a partition with nothing to merge alone and commits nothing then). A
   partition is closed once no run writes it as a matter of course: its period and then its `settles` time
   (the lateness window for tables placed by event time) have passed. Partitions from the first hour a run
   in progress covers are left for the next pass.
2. Z-orders silver telemetry by `vehicle_id` and `event_time` for the closed days not yet Z-ordered (the
   table property `ZORDERED_THROUGH` records the last one; a day a backfill rewrites later is compacted,
   not Z-ordered again).
3. vacuums: removes the files no version of the last `vacuum_retention_days` needs, so time travel within
   that window keeps working and nothing older lingers.
4. writes a checkpoint and lets delta-rs remove log entries older than the same window.

Runs writing at the same time lose nothing: delta-rs refuses a compaction whose files a run removed
meanwhile (the pass tries again from the new version), and a run whose hour's files a compaction rewrote
finds them again, now straddling hours, and rewrites them (`Lake.replace_window_streaming`).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import polars as pl
from deltalake import CommitProperties, DeltaTable, WriterProperties
from deltalake.exceptions import CommitFailedError

from mobility_lake.bronze.history import ARCHIVE
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS, SKIP_ROW_GROUP
from mobility_lake.governance import audit
from mobility_lake.governance.retention import ARCHIVE_ZSTD_LEVEL
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake

TARGET_BYTES = 128 * 2**20
ZORDERED_THROUGH = "mobility_lake.zorderedThrough"
COMMIT_ATTEMPTS = 3
DAY = timedelta(days=1)
Say = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """One table as maintenance sees it: its date partition column, how long a partition spans, and how
    long after that writes to it still come."""

    layer: str
    table: str
    partition: str
    period: timedelta = DAY
    settles: timedelta = timedelta(0)
    zorder: tuple[str, ...] = ()
    compression_level: int | None = None
    row_group_rows: int | None = None

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.table}"

    def closed_through(self, now: datetime, busy_from: datetime | None) -> date:
        """The last partition (its first day) that is closed at `now` and that no run in progress covers."""
        until = now - self.settles if busy_from is None else min(now - self.settles, busy_from)
        return (until - self.period).date()


def targets(lateness_hours: int = 0) -> list[Target]:
    """Every table a pass maintains; tables placed by event time settle for `lateness_hours`."""
    lateness = timedelta(hours=lateness_hours)
    found = [Target("bronze", t.bronze_table, "arrival_date", settles=timedelta(hours=1)) for t in TOPICS]
    found += [
        Target(ARCHIVE, t.bronze_table, "arrival_date", compression_level=ARCHIVE_ZSTD_LEVEL) for t in TOPICS
    ]
    found += [
        Target(
            "silver", t.name, "date", settles=lateness,
            zorder=("vehicle_id", "event_time") if t.name == "vehicle_telemetry" else (),
        )
        for t in SILVER_TABLES
    ]  # fmt: skip
    found += [Target("quarantine", t.name, "partition_date", settles=lateness) for t in SILVER_TABLES]
    found += [
        Target(
            "gold",
            m.name,
            m.partition_by[0],
            timedelta(days=7 if m.cadence == "weekly" else 1),
            lateness,
            zorder=m.skip_by,
            row_group_rows=SKIP_ROW_GROUP if m.skip_by else None,
        )
        for m in MARTS
    ]
    found.append(Target(audit.LAYER, audit.TABLE, "date"))
    return found


@dataclass
class Outcome:
    """What one pass did to one table (or, in a dry run, would do)."""

    table: str
    files_before: int = 0
    bytes_before: int = 0
    files_after: int = 0
    bytes_after: int = 0
    files_merged: int = 0  # files compaction and Z-order rewrote into fewer
    zordered_days: list[str] = field(default_factory=list)
    files_vacuumed: int = 0
    log_entries_before: int = 0
    log_entries_after: int = 0
    checkpoint_version: int | None = None
    closed_through: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        zorder = f", Z-ordered {len(self.zordered_days)} day(s)" if self.zordered_days else ""
        return (
            f"  {self.table}: files {self.files_before} -> {self.files_after} "
            f"({_mib(self.bytes_before)} -> {_mib(self.bytes_after)} MiB), {self.files_merged} merged"
            f"{zorder}, {self.files_vacuumed} vacuumed, log entries {self.log_entries_before} -> "
            f"{self.log_entries_after}, in {self.seconds:.1f} s"
        )


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f}"


def maintain(
    lake: Lake,
    now: datetime,
    busy_from: datetime | None = None,
    only: str | None = None,
    dry_run: bool = False,
    say: Say = print,
) -> list[Outcome]:
    """One pass over every table that exists (or only `only`, `layer.table`)."""
    chosen = [t for t in targets(lake.settings.lateness_hours) if only is None or t.name == only]
    if only is not None and not chosen:
        names = ", ".join(t.name for t in targets())
        raise ValueError(f"no table {only} to maintain: expected one of {names}")
    outcomes = []
    for target in chosen:
        table = lake.delta_table(target.layer, target.table)
        if table is None:
            continue
        say(f"{target.name}: maintaining (partitions through {target.closed_through(now, busy_from)})")
        outcomes.append(maintain_table(lake, target, table, now, busy_from, dry_run))
    return outcomes


def maintain_table(
    lake: Lake,
    target: Target,
    table: DeltaTable,
    now: datetime,
    busy_from: datetime | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Compact, Z-order, vacuum and checkpoint one table, starting from the version `table` was loaded at."""
    began = time.perf_counter()
    last = target.closed_through(now, busy_from)
    outcome = Outcome(target.name, closed_through=last.isoformat())
    outcome.files_before, outcome.bytes_before = _files(table)
    outcome.log_entries_before = _log_entries(lake, target)
    retention = timedelta(days=lake.settings.vacuum_retention_days)
    if dry_run:
        outcome.files_merged = _compaction_candidates(table, target, last)
        outcome.zordered_days = [d.isoformat() for d in _zorder_days(table, target, last)]
        outcome.files_vacuumed = len(_vacuum(table, now, retention, dry_run=True))
        outcome.files_after, outcome.bytes_after = outcome.files_before, outcome.bytes_before
        outcome.log_entries_after = outcome.log_entries_before
    else:
        table = _rewrite(lake, target, table, last, retention, outcome)
        outcome.files_vacuumed = len(_vacuum(table, now, retention, dry_run=False))
        table.create_checkpoint()
        table.cleanup_metadata()
        outcome.checkpoint_version = table.version()
        table = lake.delta_table(target.layer, target.table) or table  # with any commit made meanwhile
        outcome.files_after, outcome.bytes_after = _files(table)
        outcome.log_entries_after = _log_entries(lake, target)
    outcome.seconds = time.perf_counter() - began
    return outcome


def _files(table: DeltaTable) -> tuple[int, int]:
    """Data files of the current version, and their bytes."""
    frame = pl.DataFrame(table.get_add_actions(flatten=True))
    return (frame.height, int(frame["size_bytes"].sum())) if "size_bytes" in frame.columns else (0, 0)


def _log_entries(lake: Lake, target: Target) -> int:
    """Commits the log holds (JSON entries; checkpoints not counted)."""
    log = f"{target.layer}/{target.table}/_delta_log"
    return sum(1 for info in lake.list_files(log) if info.key.endswith(".json"))


def _keep_history(table: DeltaTable, retention: timedelta) -> None:
    """Log entries and removed files are kept as long as time travel must reach (set when it differs)."""
    interval = f"interval {retention.days} days"
    wanted = {"delta.logRetentionDuration": interval, "delta.deletedFileRetentionDuration": interval}
    configuration = table.metadata().configuration
    if any(configuration.get(k) != v for k, v in wanted.items()):
        table.alter.set_table_properties(wanted)


def _closed(target: Target, last: date, after: date | None = None) -> list[tuple[str, str, str]]:
    found = [(target.partition, "<=", last.isoformat())]
    return found if after is None else [*found, (target.partition, ">", after.isoformat())]


def _writer(target: Target) -> WriterProperties:
    return WriterProperties(
        compression="ZSTD",
        compression_level=target.compression_level,
        max_row_group_size=target.row_group_rows,
    )


def _rewrite(
    lake: Lake, target: Target, table: DeltaTable, last: date, retention: timedelta, outcome: Outcome
) -> DeltaTable:
    """The pass's commits, made again from the table's new version when a run's commit won the race."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        try:
            _keep_history(table, retention)
            _compact(target, table, last, outcome)
            return table
        except CommitFailedError:
            if attempt == COMMIT_ATTEMPTS:
                raise
            table = lake.delta_table(target.layer, target.table) or table
    return table


def _compact(target: Target, table: DeltaTable, last: date, outcome: Outcome) -> None:
    """Z-order the closed days not Z-ordered yet, then compact every closed partition."""
    properties = CommitProperties(custom_metadata={"mobility_lake": "maintenance"})
    days = _zorder_days(table, target, last)
    if days:
        done = table.optimize.z_order(
            target.zorder, _closed(target, days[-1], days[0] - DAY), TARGET_BYTES,
            writer_properties=_writer(target), commit_properties=properties,
        )  # fmt: skip
        outcome.files_merged += done["numFilesRemoved"]
        table.alter.set_table_properties({ZORDERED_THROUGH: days[-1].isoformat()}, raise_if_not_exists=False)
        outcome.zordered_days += [d.isoformat() for d in days]
    done = table.optimize.compact(
        _closed(target, last), TARGET_BYTES, writer_properties=_writer(target), commit_properties=properties
    )
    outcome.files_merged += done["numFilesRemoved"]


def _zorder_days(table: DeltaTable, target: Target, last: date) -> list[date]:
    """Closed days not Z-ordered yet, oldest first, that hold files."""
    if not target.zorder:
        return []
    through = table.metadata().configuration.get(ZORDERED_THROUGH)
    after = date.fromisoformat(through) if through else date.min
    days = _data_files(table, target)["day"].unique().sort()
    return [d for d in days.to_list() if after < d <= last]


def _compaction_candidates(table: DeltaTable, target: Target, last: date) -> int:
    """Files compaction would merge: the small files of closed partitions that hold more than one."""
    files = _data_files(table, target)
    counts = (
        files.filter((pl.col("day") <= last) & (pl.col("size_bytes") < TARGET_BYTES)).group_by("day").len()
    )
    return int(counts.filter(pl.col("len") > 1)["len"].sum())


def _data_files(table: DeltaTable, target: Target) -> pl.DataFrame:
    """Each data file's partition day (a date, whether the column is a date or text) and size."""
    frame = pl.DataFrame(table.get_add_actions(flatten=True))
    column = f"partition.{target.partition}"
    if column not in frame.columns:
        return pl.DataFrame(schema={"day": pl.Date, "size_bytes": pl.Int64})
    day = pl.col(column).str.to_date("%Y-%m-%d") if frame.schema[column] == pl.String else pl.col(column)
    return frame.select(day.alias("day"), "size_bytes")


def _vacuum(table: DeltaTable, now: datetime, retention: timedelta, dry_run: bool) -> list[str]:
    """Remove files removed from the table before `now - retention`. delta-rs measures from the wall
    clock; the hours are counted from `now` (rounded up: never fewer kept)."""
    wall = datetime.now(UTC)
    hours = max(0, math.ceil((wall - (now - retention)).total_seconds() / 3600))
    return table.vacuum(hours, dry_run=dry_run, enforce_retention_duration=False)
