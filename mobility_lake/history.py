"""A table's versions and the lake as of a version or a time: `mobility-lake history` and `query --as-of`.

Each version's row changes come from its log entry: the rows of the files it adds (their `numRecords`
statistic) and of the files it removes (looked up from the version they were added in, or from the table
as it stood before the first version listed). Every writer of the lake records `numRecords`, delta-rs's and
the lake's own, so the figures are exact; compaction shows its files and rows both added and removed.

Time travel reaches as far back as maintenance keeps files and log entries
(`MOBILITY_LAKE_VACUUM_RETENTION_DAYS`, docs/maintenance.md).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from mobility_lake.storage import Lake

AsOf = int | datetime


class TimeTravelError(ValueError):
    """A table cannot be read as of the version or time asked for; the message says why and what can."""


@dataclass(frozen=True)
class Version:
    version: int
    time: datetime
    operation: str
    files_added: int
    files_removed: int
    rows_added: int
    rows_removed: int


def parse_as_of(text: str) -> AsOf:
    """A version number, or an ISO time (UTC unless it names its offset)."""
    if text.strip().isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeTravelError(
            f"'{text[:40]}' is neither a version nor a time: expected a version number such as 12 or an ISO "
            "time such as 2026-03-10T08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def as_of(table: DeltaTable, name: str, when: AsOf) -> DeltaTable:
    """`table` loaded at the version `when` names (a time: the last version committed by then)."""
    commits = {e["version"]: datetime.fromtimestamp(e["timestamp"] / 1000, UTC) for e in table.history()}
    oldest, latest = min(commits, default=table.version()), table.version()
    if isinstance(when, datetime):
        before = [version for version, committed in commits.items() if committed <= when]
        if not before:
            raise TimeTravelError(
                f"{name} has no version as of {when.isoformat()}: the oldest it keeps is version {oldest}, "
                f"committed {commits[oldest].isoformat(timespec='seconds')}"
            )
        version = max(before)
    else:
        version = when
    try:
        table.load_as_version(version)
    except (DeltaError, ValueError, OSError) as exc:
        raise TimeTravelError(
            f"{name} has no version {version}: versions {oldest} to {latest} can be read"
        ) from exc
    return table


def versions(lake: Lake, layer: str, name: str, limit: int) -> list[Version]:
    """The `limit` most recent versions of a table, newest first, with their row changes."""
    table = lake.delta_table(layer, name)
    if table is None:
        raise TimeTravelError(f"{layer}.{name} has no versions yet: nothing has written it")
    entries = sorted(table.history(limit), key=lambda e: e["version"])
    rows_of: dict[str, int] = {}
    while entries and entries[0]["version"] > 0:  # the files before the first version listed, if it loads
        rows = _rows_per_file(lake, layer, name, entries[0]["version"] - 1)
        if rows is not None:
            rows_of = rows
            break
        entries = entries[1:]
    found = []
    for entry in entries:
        adds, removes = _actions(lake, layer, name, entry["version"])
        for path, rows in adds.items():
            rows_of[path] = rows
        found.append(
            Version(
                version=entry["version"],
                time=datetime.fromtimestamp(entry["timestamp"] / 1000, UTC),
                operation=entry.get("operation", "?"),
                files_added=len(adds),
                files_removed=len(removes),
                rows_added=sum(adds.values()),
                rows_removed=sum(rows_of.pop(path, 0) for path in removes),
            )
        )
    return found[::-1]


def _rows_per_file(lake: Lake, layer: str, name: str, version: int) -> dict[str, int] | None:
    """Rows of each file of a version; None when the version no longer loads (its log entry is gone)."""
    try:
        table = DeltaTable(lake.table_uri(layer, name), version=version, storage_options=lake.storage_options)
    except DeltaError:
        return None
    frame = pl.DataFrame(table.get_add_actions(flatten=True))
    if frame.is_empty():
        return {}
    return dict(zip(frame["path"].to_list(), frame["num_records"].fill_null(0).to_list(), strict=True))


def _actions(lake: Lake, layer: str, name: str, version: int) -> tuple[dict[str, int], list[str]]:
    """The files a version's log entry adds (with their rows) and removes."""
    adds: dict[str, int] = {}
    removes: list[str] = []
    entry = lake.read_bytes(f"{layer}/{name}/_delta_log/{version:020d}.json")
    for line in entry.splitlines():
        if not line.strip():
            continue
        action = orjson.loads(line)
        if "add" in action:
            stats = action["add"].get("stats")
            adds[action["add"]["path"]] = int(orjson.loads(stats).get("numRecords", 0)) if stats else 0
        elif "remove" in action:
            removes.append(action["remove"]["path"])
    return adds, removes


def render(found: list[Version]) -> str:
    header = f"{'version':>7}  {'committed (UTC)':19}  {'operation':18} {'files +/-':>13} {'rows +/-':>23}"
    lines = [header]
    for v in found:
        files = f"+{v.files_added}/-{v.files_removed}"
        rows = f"+{v.rows_added}/-{v.rows_removed}"
        lines.append(
            f"{v.version:>7}  {v.time:%Y-%m-%d %H:%M:%S}  {v.operation[:18]:18} {files:>13} {rows:>23}"
        )
    return "\n".join(lines)
