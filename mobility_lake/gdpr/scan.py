"""The verification scan: every file under the lake root and the Dagster home, read the way its format
stores text, searched for a subject's identifiers and every masked form the lake stored for them.

Parquet files are decoded (every column as text, nested ones as JSON) and also searched as bytes (their
footers keep column statistics in clear); gzip files are decompressed; everything else (Delta commits,
`_last_checkpoint`, SQLite databases, logs) is searched as bytes. A value matches only as a whole token,
not inside a longer id (`u-1` is not found in `u-10`). Findings name the file and the kind of value, never
the value.
"""

import gzip
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl

from mobility_lake.storage import Lake

EDGE = "[^A-Za-z0-9]"
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class Identifiers:
    """What identifies a subject in the lake's files: kind ("user_id", "email", "phone", "mask") -> values."""

    by_kind: dict[str, frozenset[str]]

    def kind_of(self, value: str) -> str:
        return next(kind for kind, values in self.by_kind.items() if value in values)

    @cached_property
    def values(self) -> list[str]:
        # longest first, so that one value inside another is reported as the longer one
        return sorted({v for values in self.by_kind.values() for v in values if v}, key=len, reverse=True)

    @cached_property
    def text_pattern(self) -> str:
        """A regex (Rust and Python syntax, no look-around) of any value as a whole token; group 1 is it."""
        return f"(?:^|{EDGE})({self._alternatives})(?:{EDGE}|$)"

    @cached_property
    def replace_pattern(self) -> str:
        """`text_pattern` with its edges captured too (groups 1 and 3), so a replacement keeps them."""
        return f"(^|{EDGE})({self._alternatives})({EDGE}|$)"

    @cached_property
    def bytes_pattern(self) -> re.Pattern[bytes]:
        return re.compile(self.text_pattern.encode(), re.MULTILINE)

    @cached_property
    def _alternatives(self) -> str:
        return "|".join(re.escape(v) for v in self.values)


@dataclass(frozen=True)
class Finding:
    """A place that still holds a subject's value: where (`lake:` or `dagster_home:` and the path), what
    kind of value, and how it was read."""

    place: str
    kind: str
    read_as: str


@dataclass
class ScanReport:
    files: int = 0
    bytes: int = 0
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files_scanned": self.files,
            "bytes_scanned": self.bytes,
            "clean": not self.findings,
            "found": [{"place": f.place, "kind": f.kind, "read_as": f.read_as} for f in self.findings],
        }


def scan(
    lake: Lake,
    dagster_home: Path | None,
    identifiers: Identifiers,
    say: Callable[[str], None] = lambda _: None,
) -> ScanReport:
    """Every file under the lake root and `dagster_home`, searched for `identifiers`."""
    report = ScanReport()
    if not identifiers.values:
        return report
    for place, read in _files(lake, dagster_home):
        payload = read()
        report.files += 1
        report.bytes += len(payload)
        kinds = found_in(place, payload, identifiers)
        report.findings += [Finding(place, kind, how) for kind, how in sorted(kinds)]
        if report.files % PROGRESS_EVERY == 0:
            say(f"scanned {report.files} files, {report.bytes / 1e6:.0f} MB")
    say(f"scanned {report.files} files, {report.bytes / 1e6:.0f} MB: {len(report.findings)} finding(s)")
    return report


def found_in(name: str, payload: bytes, identifiers: Identifiers) -> set[tuple[str, str]]:
    """(kind, read_as) of every identifier a file holds, read as its format stores text."""
    found = {(identifiers.kind_of(m.decode()), "bytes") for m in _matches(identifiers, payload)}
    if name.endswith(".parquet"):
        found |= {(identifiers.kind_of(v), "parquet") for v in parquet_values(payload, identifiers)}
    elif name.endswith(".gz"):
        found |= {(identifiers.kind_of(m.decode()), "gzip") for m in _matches(identifiers, _gunzip(payload))}
    return found


def parquet_values(payload: bytes, identifiers: Identifiers) -> set[str]:
    """The identifiers found in a Parquet file's decoded values (an unreadable file: in none)."""
    try:
        frame = pl.read_parquet(io.BytesIO(payload))
    except (pl.exceptions.PolarsError, OSError):
        return set()
    pattern = identifiers.text_pattern
    found: set[str] = set()
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            found |= {m.decode() for v in frame[name].drop_nulls() for m in _matches(identifiers, v)}
            continue
        text = _as_text(pl.col(name), dtype)
        hits = frame.select(text.str.extract_all(pattern).alias("hits")).explode("hits").drop_nulls()
        for hit in hits["hits"].unique():
            found |= set(re.findall(pattern, hit))
    return found


def _as_text(column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if isinstance(dtype, pl.Struct):
        return column.struct.json_encode()
    if isinstance(dtype, pl.List | pl.Array):
        return pl.struct(column.alias("v")).struct.json_encode()
    return column.cast(pl.String)


def _matches(identifiers: Identifiers, payload: bytes) -> Iterator[bytes]:
    for match in identifiers.bytes_pattern.finditer(payload):
        yield match.group(1)


def _gunzip(payload: bytes) -> bytes:
    try:
        return gzip.decompress(payload)
    except (OSError, EOFError, zlib.error):
        return b""


def _files(lake: Lake, dagster_home: Path | None) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for info in lake.list_files(""):
        yield f"lake:{info.key}", lambda key=info.key: lake.read_bytes(key)
    if dagster_home is not None and dagster_home.exists():
        for path in sorted(p for p in dagster_home.rglob("*") if p.is_file()):
            yield f"dagster_home:{path.relative_to(dagster_home)}", path.read_bytes
