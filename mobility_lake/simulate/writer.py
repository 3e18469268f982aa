"""Serialising landing files as a Kafka sink would: JSONL, gzipped JSONL, Parquet; written whole.

Every encoding is byte-deterministic (gzip without a timestamp, Parquet from polars), so a re-run with the
same arguments reproduces the same files. Malformed lines are made here because only JSONL can carry them.
Big telemetry JSONL is encoded slice by slice into the gzip stream so it never exists as one huge string.
"""

import gzip
import io
import math
import random
import re

import orjson
import polars as pl

from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES, TELEMETRY
from mobility_lake.simulate.defects import break_line

JSONL_SLICE_ROWS = 250_000
_NULL_KEY = (re.compile(r'"[a-z_]+":null,'), re.compile(r',"[a-z_]+":null'))


def malformed_positions(count: int, share: float, rng: random.Random) -> list[int]:
    """Line numbers to break, each with probability `share`, drawn as geometric gaps (cost ~ breaks, not lines)."""
    if share <= 0 or count == 0:
        return []
    if share >= 1:
        return list(range(count))
    positions, i, log_q = [], -1, math.log1p(-share)
    while True:
        i += 1 + int(math.log(1.0 - rng.random()) / log_q)
        if i >= count:
            return positions
        positions.append(i)


def _gzip() -> tuple[io.BytesIO, gzip.GzipFile]:
    buffer = io.BytesIO()
    return buffer, gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0)


def events_jsonl(events: list[dict], gz: bool, malformed: float, rng: random.Random) -> tuple[bytes, int]:
    """JSONL of CloudEvent dicts (absent keys stay absent) and how many lines were broken."""
    lines = [orjson.dumps(event) for event in events]
    broken = malformed_positions(len(lines), malformed, rng)
    for i in broken:
        lines[i] = break_line(lines[i], rng)
    payload = b"\n".join(lines) + b"\n"
    return (gzip.compress(payload, compresslevel=6, mtime=0) if gz else payload), len(broken)


def events_parquet(events: list[dict]) -> bytes:
    """One row per event: envelope attributes as string columns (null when absent), `data` as a JSON string."""
    columns = {name: [event.get(name) for event in events] for name in ENVELOPE_ATTRIBUTES}
    columns["data"] = [orjson.dumps(event["data"]).decode() for event in events]
    frame = pl.DataFrame(columns, schema={name: pl.String for name in columns})
    return _parquet(frame)


def telemetry_parquet(frame: pl.DataFrame) -> bytes:
    """Envelope string columns and `data` as a struct of the typed payload fields."""
    return _parquet(frame.select(*ENVELOPE_ATTRIBUTES, "data"))


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
    return buffer.getvalue()


def telemetry_jsonl(frame: pl.DataFrame, gz: bool, malformed: float, rng: random.Random) -> tuple[bytes, int]:
    """JSONL of telemetry rows; a null attribute or payload field (an injected defect) is left out entirely."""
    has_null = pl.any_horizontal(
        pl.col("id").is_null(), pl.col("time").is_null(), *(pl.col("data").struct.field(f).is_null() for f in TELEMETRY)
    )
    encoded = pl.struct(*ENVELOPE_ATTRIBUTES, "data").struct.json_encode()
    buffer, gzipped = _gzip() if gz else (io.BytesIO(), None)
    sink = gzipped or buffer
    broken_total = 0
    for offset in range(0, max(frame.height, 1), JSONL_SLICE_ROWS):
        part = frame.slice(offset, JSONL_SLICE_ROWS)
        if part.height == 0:
            break
        lines = part.select(line=encoded, has_null=has_null)
        text = lines["line"]
        fixes: dict[int, str] = {}
        for i in lines["has_null"].arg_true().to_list():
            fixes[i] = _NULL_KEY[1].sub("", _NULL_KEY[0].sub("", text[i]))
        broken = malformed_positions(part.height, malformed, rng)
        for i in broken:
            fixes[i] = break_line(fixes.get(i, text[i]).encode(), rng).decode(errors="replace")
        broken_total += len(broken)
        if fixes:
            text = text.scatter(list(fixes), list(fixes.values()))
        sink.write(text.str.join("\n").item().encode() + b"\n")
    if gzipped is not None:
        gzipped.close()
    return buffer.getvalue(), broken_total
