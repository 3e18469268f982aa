"""Erase a subject from the whole lake: what the scan finds is rewritten, deleted or scrubbed, then the
subject's keys go, and the scan runs again to prove it.

The work is driven by a scan of every file (`scan.py`), so nothing is missed because it sat somewhere
unexpected: a data file of a table's current version is rewritten without the subject (silver rows made
anonymous, rows that exist per subject removed, any other occurrence replaced by `[erased]`) in one commit
per table, and the file it replaced is deleted at once; a file only older versions read is deleted
(time travel to those versions ends there); a landing file is scrubbed in place. Commits name no subject:
no predicate, no statistics of personal columns. The keys are deleted last, so an erasure killed at any
point is completed by running it again: until then the keys still open everything the scan needs.
"""

import gzip
import io
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson
import polars as pl
from deltalake import DeltaTable
from deltalake.transaction import AddAction, RemoveAction

from mobility_lake import data_files
from mobility_lake.gdpr.holdings import identifiers_of
from mobility_lake.gdpr.keys import LAYER as KEYS_LAYER
from mobility_lake.gdpr.scan import Identifiers, ScanReport, scan
from mobility_lake.gdpr.sealing import SEALED_FIELDS
from mobility_lake.personal import COORDINATES
from mobility_lake.storage import LAYERS, Lake

ERASED = "[erased]"
ANONYMIZED = ("user_id", "email", "phone", "event_subject", *sorted(COORDINATES))
GUARD = "gdpr erasure"
Say = Callable[[str], None]


@dataclass
class TableChange:
    """What an erasure did to one table: counts only."""

    files_rewritten: int = 0
    rows_anonymized: int = 0
    rows_removed: int = 0
    values_redacted: int = 0
    old_files_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if v}


@dataclass
class Erasure:
    changes: dict[str, TableChange] = field(default_factory=lambda: defaultdict(TableChange))
    landing_files_scrubbed: int = 0
    unfixable: list[str] = field(default_factory=list)  # places no rewrite reaches (a Delta log, Dagster's)
    verification: ScanReport | None = None

    def as_dict(self) -> dict:
        tables = {name: change.as_dict() for name, change in sorted(self.changes.items())}
        return {
            "tables": {name: change for name, change in tables.items() if change},
            "landing_files_scrubbed": self.landing_files_scrubbed,
            "left_in_place": sorted(set(self.unfixable)),
            "verification": None if self.verification is None else self.verification.as_dict(),
        }


def erase_subject(lake: Lake, dagster_home: Path | None, user_id: str, say: Say) -> Erasure:
    """Erase `user_id` from every table, version and landing file; the result ends with the verification."""
    say("finding the subject's identifiers")
    identifiers = identifiers_of(lake, user_id)
    say("scanning the lake and the Dagster home")
    found = scan(lake, dagster_home, identifiers, say)
    erasure = Erasure()
    by_table: dict[tuple[str, str], set[str]] = defaultdict(set)
    for finding in found.findings:
        where, _, path = finding.place.partition(":")
        parts = path.split("/")
        if where == "lake" and parts[0] in LAYERS and len(parts) > 2 and parts[2] != "_delta_log":
            by_table[(parts[0], parts[1])].add("/".join(parts[2:]))
        elif where == "lake" and parts[0] == "landing":
            by_table[("landing", "")].add(path)
        else:
            erasure.unfixable.append(finding.place)
    keys_last = sorted(by_table, key=lambda t: (t[0] == KEYS_LAYER, t))
    for layer, table in keys_last:
        if layer == "landing":
            for key in sorted(by_table[(layer, table)]):
                erasure.landing_files_scrubbed += scrub_landing_file(lake, key, identifiers)
            say(f"landing: {erasure.landing_files_scrubbed} file(s) scrubbed")
            continue
        change = erasure.changes[f"{layer}/{table}"]
        rewrite_table(lake, layer, table, sorted(by_table[(layer, table)]), identifiers, user_id, change)
        say(f"{layer}/{table}: {change.as_dict()}")
    say("verifying")
    erasure.verification = scan(lake, dagster_home, identifiers, say)
    return erasure


def rewrite_table(
    lake: Lake,
    layer: str,
    table: str,
    paths: list[str],
    identifiers: Identifiers,
    user_id: str,
    change: TableChange,
) -> None:
    """Rewrite the current files among `paths` without the subject, in one commit, then delete them and
    the other `paths` (files only older versions read)."""
    delta = lake.delta_table(layer, table)
    if delta is None:
        return
    schema = data_files.table_schema(delta)
    partition_by = delta.metadata().partition_columns
    current = {
        row["path"]: (row["size_bytes"], {c: _text(row[f"partition.{c}"]) for c in partition_by})
        for row in pl.DataFrame(delta.get_add_actions(flatten=True)).iter_rows(named=True)
    }
    actions: list[AddAction | RemoveAction] = []
    write = lambda path, payload: lake.write_bytes(f"{layer}/{table}/{path}", payload)  # noqa: E731
    now = int(time.time() * 1000)
    for path in paths:
        if path not in current:
            continue
        size, partitions = current[path]
        before = _read_file(lake, f"{layer}/{table}/{path}", partitions, schema)
        after = _without_subject(before, layer, user_id, identifiers, change)
        actions += data_files.write_data_files(after, schema, partition_by, write)
        actions.append(RemoveAction(path, True, now, size, partitions))
        change.files_rewritten += 1
    if actions:
        _commit(lake, layer, table, delta, actions, partition_by)
    for path in paths:
        lake.remove_file(f"{layer}/{table}/{path}")
        change.old_files_deleted += path not in current


def _text(value: object) -> str | None:
    return None if value is None else value.isoformat() if isinstance(value, date) else str(value)


def _commit(
    lake: Lake, layer: str, table: str, delta: DeltaTable, actions: list, partition_by: list[str]
) -> None:
    try:
        data_files.commit(delta, actions, GUARD, partition_by)
    except BaseException:
        for action in actions:
            if isinstance(action, AddAction):
                lake.remove_file(f"{layer}/{table}/{action.path}")
        raise


def _read_file(lake: Lake, key: str, partitions: dict[str, str | None], schema: pl.Schema) -> pl.DataFrame:
    frame = pl.read_parquet(io.BytesIO(lake.read_bytes(key)))
    return frame.with_columns(
        [_partition_column(name, value, schema[name]) for name, value in partitions.items()]
    ).select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _partition_column(name: str, value: str | None, dtype: pl.DataType) -> pl.Expr:
    text = pl.lit(value, pl.String)
    return (text.str.to_date() if dtype == pl.Date else text.cast(dtype)).alias(name)


def _without_subject(
    frame: pl.DataFrame, layer: str, user_id: str, identifiers: Identifiers, change: TableChange
) -> pl.DataFrame:
    """The rows with the subject gone: per-subject rows removed (gold, keys), silver rows anonymous, and
    every other occurrence of an identifier replaced by `[erased]`."""
    if "user_id" in frame.columns:
        theirs = pl.col("user_id") == user_id
        if layer in ("gold", KEYS_LAYER):
            change.rows_removed += frame.filter(theirs).height
            frame = frame.filter(~theirs.fill_null(False))
        else:
            change.rows_anonymized += frame.filter(theirs).height
            frame = frame.with_columns(
                [
                    pl.when(theirs).then(None).otherwise(pl.col(c)).alias(c)
                    for c in ANONYMIZED
                    if c in frame.columns
                ]
            )
    texts = _text_columns(frame)
    if texts:
        hits = frame.select(
            pl.sum_horizontal(pl.col(texts).str.count_matches(identifiers.text_pattern).fill_null(0))
        )
        change.values_redacted += int(hits.sum().item() or 0)
    return _redacted(frame, identifiers)


def _text_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items() if dtype == pl.String]


def _redacted(frame: pl.DataFrame, identifiers: Identifiers) -> pl.DataFrame:
    """Every identifier in a text column replaced by `[erased]`, the characters around it kept."""
    replaced = pl.col(_text_columns(frame)).str.replace_all(
        identifiers.replace_pattern, f"${{1}}{ERASED}${{3}}"
    )
    return frame.with_columns(replaced)


def scrub_landing_file(lake: Lake, key: str, identifiers: Identifiers) -> int:
    """Rewrite a landing file in place without the subject's values: in their events the personal fields
    become null, anywhere else an identifier becomes `[erased]`. 1 when the file changed."""
    payload = lake.read_bytes(key)
    zipped = key.endswith(".gz")
    text = gzip.decompress(payload) if zipped else payload
    if key.endswith(".parquet"):
        scrubbed = _scrub_parquet(text, identifiers)
    else:
        scrubbed = b"".join(_scrub_line(line, identifiers) for line in text.splitlines(keepends=True))
    if scrubbed == text:
        return 0
    lake.write_bytes(key, gzip.compress(scrubbed, mtime=0) if zipped else scrubbed)
    return 1


def _scrub_line(line: bytes, identifiers: Identifiers) -> bytes:
    pattern = identifiers.bytes_pattern
    if not pattern.search(line):
        return line
    ending = line[len(line.rstrip(b"\r\n")) :]
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        event = None
    if isinstance(event, dict) and _scrub_payload(event.get("data"), identifiers):
        event["subject"] = None
        line = orjson.dumps(event) + ending
    return pattern.sub(lambda m: m.group(0).replace(m.group(1), ERASED.encode()), line)


def _scrub_payload(data: object, identifiers: Identifiers) -> bool:
    """Null the personal fields of a payload of the subject's; whether it was theirs."""
    if not isinstance(data, dict) or data.get("user_id") not in identifiers.by_kind["user_id"]:
        return False
    for name in SEALED_FIELDS:
        if name in data:
            data[name] = None
    return True


def _scrub_json_text(text: str | None, identifiers: Identifiers) -> str | None:
    try:
        data = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return text
    return orjson.dumps(data).decode() if _scrub_payload(data, identifiers) else text


def _scrub_parquet(payload: bytes, identifiers: Identifiers) -> bytes:
    frame = pl.read_parquet(io.BytesIO(payload))
    if isinstance(frame.schema.get("data"), pl.Struct) and "user_id" in {
        f.name for f in frame.schema["data"].fields
    }:
        fields = {f.name for f in frame.schema["data"].fields}
        theirs = (
            pl.col("data")
            .struct.field("user_id")
            .is_in(list(identifiers.by_kind["user_id"]))
            .fill_null(False)
        )
        frame = frame.with_columns(
            pl.col("data").struct.with_fields(
                [
                    pl.when(theirs).then(None).otherwise(pl.field(n)).alias(n)
                    for n in SEALED_FIELDS
                    if n in fields
                ]
            )
        )
    if frame.schema.get("data") == pl.String:
        frame = frame.with_columns(
            pl.Series("data", [_scrub_json_text(t, identifiers) for t in frame["data"]], pl.String)
        )
    frame = _redacted(frame, identifiers)
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()
