"""Retention per layer (CONTRACT §7): bronze hours past their days move to the cold archive, silver, quarantine
and gold partitions past theirs are deleted and their files removed, audit days past seven years deleted.

Bronze moves one arrival date at a time: the date's old hours are written to `archive/{table}` (zstd at a
higher level, replacing exactly those hours, so a repeated pass writes them again rather than twice), the
archive's rows are counted per hour against bronze's, and only then are the hours deleted from bronze. A
crash between the steps leaves rows in both places, never in neither; the next pass completes the move.

A deleted partition is also removed from disk: the files the delete took out of the current version, and
every unreferenced file of a partition wholly past its retention (older versions' copies), so no file
keeps data past its days. Time travel to a version before the delete then fails for those partitions, as
it must. Hours that a run in progress covers, and all after them, are left for the next pass.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import polars as pl

from mobility_lake.bronze.history import ARCHIVE
from mobility_lake.data_files import current_files
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.governance import audit
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake, sql_literal

ARCHIVE_ZSTD_LEVEL = 12  # bronze is written at polars' default (3); the archive is read rarely
Say = Callable[[str], None]


@dataclass(frozen=True)
class Rule:
    """How one table's rows age: `partition` is its date partition column, `time` the column compared
    with the cutoff (None: whole partitions, each `period` long)."""

    layer: str
    table: str
    retention: str  # the layer whose days apply
    partition: str
    time: str | None
    period: timedelta = timedelta(days=1)


def rules() -> list[Rule]:
    """Every table retention deletes from (bronze is moved, not deleted: `archive_bronze`)."""
    found = [Rule("silver", t.name, "silver", "date", "event_time") for t in SILVER_TABLES]
    found += [Rule("quarantine", t.name, "silver", "partition_date", "partition_hour") for t in SILVER_TABLES]
    found += [
        Rule(
            "gold", m.name, "gold", m.partition_by[0], None, timedelta(days=7 if m.cadence == "weekly" else 1)
        )
        for m in MARTS
    ]
    found.append(Rule(audit.LAYER, audit.TABLE, "audit", "date", "time"))
    return found


@dataclass
class Change:
    layer: str
    table: str
    action: str  # "archived" | "deleted"
    rows: int
    partitions: list[str]
    files_removed: int = 0

    def line(self, dry_run: bool) -> str:
        verb = {"archived": "would move", "deleted": "would delete"}[self.action] if dry_run else self.action
        where = f" to {ARCHIVE}.{self.table}" if self.action == "archived" else ""
        span = (
            self.partitions[0]
            if len(self.partitions) == 1
            else f"{self.partitions[0]} .. {self.partitions[-1]}"
        )
        files = "" if dry_run else f", {self.files_removed} file(s) removed from disk"
        return f"{self.layer}.{self.table}: {verb} {self.rows} row(s) of {len(self.partitions)} partition(s) ({span}){where}{files}"


@dataclass
class Report:
    now: datetime
    cutoffs: dict[str, datetime]
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    held_back: datetime | None = None  # earliest hour a run in progress covers

    def lines(self) -> list[str]:
        head = f"retention as of {self.now:%Y-%m-%dT%H:%M} UTC" + (
            " (dry run: nothing changed)" if self.dry_run else ""
        )
        cut = ", ".join(f"{layer} before {at:%Y-%m-%dT%H:%M}" for layer, at in self.cutoffs.items())
        lines = [head, f"  cutoffs: {cut}"]
        if self.held_back is not None:
            lines.append(
                f"  a run in progress covers {self.held_back:%Y-%m-%dT%H:%M}: nothing from then on is touched"
            )
        lines += [f"  {c.line(self.dry_run)}" for c in self.changes] or ["  nothing is past its retention"]
        return lines


def cutoffs(now: datetime, days: dict[str, int], busy_from: datetime | None) -> dict[str, datetime]:
    """The first hour each layer keeps: `days` before `now` (on the hour), or earlier when a run in
    progress covers an hour after that."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    found = {layer: hour - timedelta(days=n) for layer, n in days.items()}
    if busy_from is not None:
        found = {layer: min(at, busy_from) for layer, at in found.items()}
    return found


def apply_retention(
    lake: Lake, now: datetime, days: dict[str, int], busy_from: datetime | None, dry_run: bool, say: Say
) -> Report:
    """Archive and delete what is past its retention as of `now` (or say what would be, when `dry_run`)."""
    report = Report(now, cutoffs(now, days, busy_from), dry_run, held_back=busy_from)
    for topic in TOPICS:
        report.changes += archive_bronze(lake, topic.bronze_table, report.cutoffs["bronze"], dry_run, say)
    for rule in rules():
        change = delete_past(lake, rule, report.cutoffs[rule.retention], dry_run, say)
        if change is not None:
            report.changes.append(change)
    return report


def archive_bronze(lake: Lake, table: str, cutoff: datetime, dry_run: bool, say: Say) -> list[Change]:
    """Move `bronze/{table}`'s arrival hours before `cutoff` to `archive/{table}`, one arrival date a commit."""
    scan = lake.scan("bronze", table)
    if scan is None:
        return []
    old = (
        scan.filter(
            (pl.col("arrival_date") <= cutoff.strftime("%Y-%m-%d")) & (pl.col("arrival_hour") < cutoff)
        )
        .group_by("arrival_date", "arrival_hour")
        .len()
        .sort("arrival_hour")
        .collect()
    )
    if old.is_empty():
        return []
    schema = scan.collect_schema()
    changes = []
    for (day,), hours in old.partition_by("arrival_date", as_dict=True, maintain_order=True).items():
        counts = dict(zip(hours["arrival_hour"].to_list(), hours["len"].to_list(), strict=True))
        change = Change("bronze", table, "archived", sum(counts.values()), [str(day)])
        changes.append(change)
        if dry_run:
            continue
        say(f"bronze.{table}: moving {change.rows} row(s) of {day} ({len(counts)} hour(s)) to the archive")
        predicate = _hours_predicate(str(day), list(counts))
        try:
            lake.replace_streaming(
                ARCHIVE, table, schema, lambda d=day, c=counts: _hour_frames(scan, str(d), list(c)),
                predicate, ["arrival_date"], compression_level=ARCHIVE_ZSTD_LEVEL,
            )  # fmt: skip
        except Exception as exc:  # the store or Delta refused the write (many error classes): bronze stays
            raise RetentionError(
                f"archive.{table}: writing {day}'s hours failed ({type(exc).__name__}); bronze keeps them"
            ) from exc
        archived = _counts(lake.scan(ARCHIVE, table), str(day), list(counts))
        if archived != counts:
            raise RetentionError(
                f"archive.{table} holds {sum(archived.values())} row(s) of {day}'s old hours, bronze "
                f"{change.rows}: bronze keeps them; run retention again"
            )
        _, removed = lake.delete_where("bronze", table, predicate)
        change.files_removed = _remove(lake, "bronze", table, removed, "arrival_date", _past_days(cutoff))
    return changes


def delete_past(lake: Lake, rule: Rule, cutoff: datetime, dry_run: bool, say: Say) -> Change | None:
    """Delete `rule`'s rows before `cutoff` (whole partitions when it has no time column)."""
    scan = lake.scan(rule.layer, rule.table)
    if scan is None:
        return None
    last_past = (cutoff - rule.period).date()  # the last partition wholly before the cutoff
    if rule.time is None:
        past = pl.col(rule.partition) <= last_past
        predicate = f"{rule.partition} <= {sql_literal(last_past.isoformat())}"
    else:
        past = (pl.col(rule.partition) <= _date_of(cutoff, rule.partition, scan)) & (
            pl.col(rule.time) < cutoff
        )
        predicate = (
            f"{rule.partition} <= {sql_literal(_text(cutoff.date()))} AND {rule.time} < {sql_literal(cutoff)}"
        )
    found = scan.filter(past).group_by(rule.partition).len().sort(rule.partition).collect()
    if found.is_empty():
        return None
    change = Change(
        rule.layer, rule.table, "deleted", int(found["len"].sum()), [_text(p) for p in found[rule.partition]]
    )
    if dry_run:
        return change
    say(f"{rule.layer}.{rule.table}: deleting {change.rows} row(s) of {len(change.partitions)} partition(s)")
    _, removed = lake.delete_where(rule.layer, rule.table, predicate)
    change.files_removed = _remove(
        lake, rule.layer, rule.table, removed, rule.partition, lambda v: v <= _text(last_past)
    )
    return change


class RetentionError(RuntimeError):
    """A step did not leave the lake as retention requires; what is not moved stays where it was."""


def _hours_predicate(day: str, hours: list[datetime]) -> str:
    alternatives = " OR ".join(f"arrival_hour = {sql_literal(h)}" for h in hours)
    return f"arrival_date = {sql_literal(day)} AND ({alternatives})"


def _hour_frames(scan: pl.LazyFrame, day: str, hours: list[datetime]) -> Iterator[pl.DataFrame]:
    """Bronze rows of each hour in turn: one hour in memory at a time. `scan` is opened before delta-rs's
    writer consumes this generator: a Delta table cannot be opened from inside its runtime."""
    for hour in hours:
        yield (scan.filter((pl.col("arrival_date") == day) & (pl.col("arrival_hour") == hour)).collect())


def _counts(scan: pl.LazyFrame | None, day: str, hours: list[datetime]) -> dict[datetime, int]:
    if scan is None:
        return {}
    found = (
        scan.filter((pl.col("arrival_date") == day) & pl.col("arrival_hour").is_in(hours))
        .group_by("arrival_hour")
        .len()
        .collect()
    )
    return dict(zip(found["arrival_hour"].to_list(), found["len"].to_list(), strict=True))


def _past_days(cutoff: datetime) -> Callable[[str], bool]:
    """Bronze dates wholly before the cutoff: all their hours are archived."""
    last = (cutoff - timedelta(days=1)).strftime("%Y-%m-%d")
    return lambda value: value <= last


def _remove(
    lake: Lake, layer: str, table: str, removed: list[str], partition: str, wholly_past: Callable[[str], bool]
) -> int:
    """Delete from disk the files the commit took out, and every file of a wholly past partition that the
    current version does not hold (copies from older versions)."""
    current = current_files(lake.delta_table(layer, table))
    doomed = set(removed)
    prefix = f"{layer}/{table}/"
    marker = f"{partition}="
    for info in lake.list_files(prefix):
        relative = info.key[len(prefix) :]
        first = relative.split("/", 1)[0]
        if first.startswith(marker) and wholly_past(first[len(marker) :]) and relative not in current:
            doomed.add(relative)
    for path in sorted(doomed):
        lake.remove_file(prefix + path)
    return len(doomed)


def _date_of(cutoff: datetime, partition: str, scan: pl.LazyFrame) -> date | str:
    """The cutoff's date as the partition column holds it (a date, or ISO text)."""
    return cutoff.date() if scan.collect_schema()[partition] == pl.Date else cutoff.date().isoformat()


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
