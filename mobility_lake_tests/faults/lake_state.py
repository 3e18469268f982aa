"""The lake's invariants, read from a local lake root with delta-rs and polars only: what must hold after
any kill, race or re-run (CONTRACT §5). Each function returns what a test asserts on, and `violations`
gathers them into readable lines."""

import gzip
import hashlib
import io
import os
import re
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from deltalake import DeltaTable

from mobility_lake.events.catalogue import LANDING_SUFFIXES, TOPICS
from mobility_lake.silver.tables import SILVER_TABLES

LAYERS = ("bronze", "silver", "quarantine", "gold")
# When a row was ingested: differs between any two runs by design, so no checksum includes it.
RUN_TIME_COLUMNS = ("ingested_at",)
# Which copy of a redelivered event a silver or quarantine row came from. The copy that landed first stays
# (docs/silver.md), first by ingestion batch: materializes that ingest hours out of order, such as two of
# overlapping hours at once, keep other copies than a run in order, with the same values otherwise.
COPY_COLUMNS = ("landing_file", "record_number", "arrival_hour")
LANDING_ORDER = ("ingested_at", "arrival_hour", "landing_file", "record_number")
LOG_FILE = re.compile(r"\d{20}\.(json|crc|checkpoint(\.\d+\.\d+)?\.parquet)|_last_checkpoint")


def tables(root: Path) -> list[str]:
    """'layer/table' of every table with at least one commit; a directory that a killed run created
    without committing is not a table yet."""
    return sorted(
        f"{layer}/{path.name}"
        for layer in LAYERS
        for path in (root / layer).glob("*")
        if any((path / "_delta_log").glob("*.json"))
    )


def read_table(root: Path, name: str) -> pl.DataFrame:
    """The table's current version, every data file read."""
    return pl.from_arrow(DeltaTable(str(root / name)).to_pyarrow_table())


def unreadable(root: Path) -> dict[str, str]:
    """Tables that do not open or read fully, with the error."""
    failed = {}
    for name in tables(root):
        try:
            read_table(root, name)
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            failed[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
    return failed


def _records(key: str, payload: bytes) -> int:
    """Bronze records of a landing file, counted apart from the ingest code: a line of JSONL (blank and
    malformed lines included) or a row of Parquet, and one record naming the error for a file with none."""
    if key.endswith(".parquet"):
        return pq.read_metadata(io.BytesIO(payload)).num_rows or 1
    text = gzip.decompress(payload) if key.endswith(".gz") else payload
    return len(text.removesuffix(b"\n").split(b"\n")) if text else 1


def landed_records(root: Path) -> dict[str, int]:
    """Per bronze table, the records of every landing file of its topic."""
    counts = {}
    for topic in TOPICS:
        files = (p for p in (root / "landing" / topic.name).rglob("*") if p.name.endswith(LANDING_SUFFIXES))
        counts[topic.bronze_table] = sum(_records(p.name, p.read_bytes()) for p in files)
    return counts


def bronze_rows(root: Path) -> dict[str, int]:
    return {t.bronze_table: read_table(root, f"bronze/{t.bronze_table}").height for t in TOPICS}


def repeated_origins(root: Path) -> dict[str, int]:
    """Per bronze table, rows whose (landing_file, record_number) another row has too: a line twice."""
    return _repeated(root, "bronze", ("landing_file", "record_number"))


def repeated_identities(root: Path) -> dict[str, int]:
    """Per silver table, rows whose (event_source, event_id) another row of the whole table has too."""
    return _repeated(root, "silver", ("event_source", "event_id"))


def _repeated(root: Path, layer: str, key: tuple[str, ...]) -> dict[str, int]:
    return {
        name.split("/")[1]: int(read_table(root, name).select(key).is_duplicated().sum())
        for name in tables(root)
        if name.startswith(f"{layer}/")
    }


def conservation(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per silver table: (bronze rows, silver rows, quarantine rows, redelivered copies in bronze); every
    bronze row ends as exactly one of the last three. A redelivery is a later copy of an event (same
    source and id) with the same `time` as the first; a copy with another time is quarantined."""
    counts = {}
    for table in SILVER_TABLES:
        bronze = read_table(root, f"bronze/{table.bronze_table}")
        copies = bronze.drop_nulls(["source", "id"]).sort(LANDING_ORDER)
        first_time = pl.col("time").first().over("source", "id")
        later = pl.int_range(pl.len()).over("source", "id") > 0
        redelivered = copies.filter(later & pl.col("time").eq_missing(first_time)).height
        silver = read_table(root, f"silver/{table.name}").height
        quarantine = read_table(root, f"quarantine/{table.name}").height
        counts[table.name] = (bronze.height, silver, quarantine, redelivered)
    return counts


def later_copies_kept(root: Path) -> dict[str, int]:
    """Per silver table, rows that came from a copy of their event other than the first to land (by
    ingestion batch, arrival hour, file, line) among all of bronze's copies."""
    found = {}
    for table in SILVER_TABLES:
        bronze = read_table(root, f"bronze/{table.bronze_table}").drop_nulls(["source", "id"])
        first = bronze.sort(LANDING_ORDER).unique(["source", "id"], keep="first", maintain_order=True)
        silver = read_table(root, f"silver/{table.name}")
        kept = silver.join(
            first.select("source", "id", "landing_file", "record_number"),
            left_on=["event_source", "event_id", "landing_file", "record_number"],
            right_on=["source", "id", "landing_file", "record_number"],
            how="anti",
        )
        found[table.name] = kept.height
    return found


def unreferenced_files(root: Path) -> dict[str, list[str]]:
    """Per table, files in its directory that its log does not mention: data files neither in the
    current version nor removed by a commit (tombstones, which time travel still reads), and files in
    `_delta_log` that are not commits or checkpoints (a commit's temporary file)."""
    found = {}
    for name in tables(root):
        directory = (root / name).resolve()  # as delta-rs names its files
        table = DeltaTable(str(directory))
        mentioned = {os.path.relpath(uri, directory) for uri in table.file_uris()}
        mentioned |= set(table.vacuum(retention_hours=0, dry_run=True, enforce_retention_duration=False))
        stray = []
        for path in sorted(directory.rglob("*")):
            relative = str(path.relative_to(directory))
            if path.is_dir():
                continue
            if relative.startswith("_delta_log/"):
                if not LOG_FILE.fullmatch(path.name):
                    stray.append(relative)
            elif relative not in mentioned:
                stray.append(relative)
        if stray:
            found[name] = stray
    return found


def checksum(frame: pl.DataFrame) -> str:
    """sha256 of the schema and of the rows as JSON lines in sorted order: equal exactly when the tables
    hold the same typed values, whatever their row order or file layout."""
    lines = sorted(frame.write_ndjson().splitlines())
    digest = hashlib.sha256(repr(list(frame.schema.items())).encode())
    for line in lines:
        digest.update(line.encode() + b"\n")
    return digest.hexdigest()


def checksums(root: Path, same_ingestion_order: bool = True) -> dict[str, str]:
    """The checksum of every table, without the columns that record when something ran, nor, unless the
    hours were ingested in order, the columns naming which copy of an event was kept."""
    sums = {}
    for name in tables(root):
        frame = read_table(root, name)
        dropped = RUN_TIME_COLUMNS
        if not same_ingestion_order and name.startswith(("silver/", "quarantine/")):
            dropped += COPY_COLUMNS
        sums[name] = checksum(frame.drop([c for c in dropped if c in frame.columns]))
    return sums


def age_files(root: Path, by: timedelta) -> int:
    """Make every file under the root `by` older, as the time between a crash and the next run; the count."""
    when = time.time() - by.total_seconds()
    paths = [p for p in root.rglob("*") if p.is_file()]
    for path in paths:
        os.utime(path, (when, when))
    return len(paths)


def committed_state_violations(root: Path) -> list[str]:
    """What must hold at every committed version, even right after a kill (CONTRACT §5.1, 5.2, 5.5):
    every table reads, no landed line twice in bronze, no identity twice in silver."""
    problems = [f"{name} unreadable: {error}" for name, error in unreadable(root).items()]
    if problems:
        return problems
    problems += [f"bronze/{t}: {n} rows share a landing line" for t, n in repeated_origins(root).items() if n]
    problems += [f"silver/{t}: {n} rows share an identity" for t, n in repeated_identities(root).items() if n]
    return problems


def violations(root: Path, reference: Path, same_ingestion_order: bool = True) -> list[str]:
    """Every invariant of a complete lake, compared with `reference`, the same landing files materialized
    once without faults: each broken one as a line. Without `same_ingestion_order` the comparison leaves
    out which copy of an event was kept; that it was the first to land is checked either way."""
    problems = committed_state_violations(root)
    if any("unreadable" in p for p in problems):
        return problems
    landed, bronze = landed_records(root), bronze_rows(root)
    problems += [
        f"bronze/{t}: {bronze[t]} rows, {n} landed records" for t, n in landed.items() if bronze[t] != n
    ]
    for table, (rows, silver, quarantine, duplicates) in conservation(root).items():
        if rows != silver + quarantine + duplicates:
            problems.append(
                f"{table}: bronze {rows} != silver {silver} + quarantine {quarantine} + duplicates {duplicates}"
            )
    problems += [f"silver/{t}: {n} rows from a later copy" for t, n in later_copies_kept(root).items() if n]
    problems += [f"{t}: unreferenced {', '.join(files)}" for t, files in unreferenced_files(root).items()]
    sums, expected = checksums(root, same_ingestion_order), checksums(reference, same_ingestion_order)
    if missing := sorted(set(expected) - set(sums)):
        problems.append(f"tables missing: {', '.join(missing)}")
    problems += [f"{t}: content differs from the reference" for t, s in sums.items() if expected.get(t) != s]
    return problems
