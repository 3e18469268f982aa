"""Serialising landing files as a Kafka sink would: JSONL, gzipped JSONL, Parquet, Avro; written whole.

Every encoding is byte-deterministic (gzip without a timestamp, Parquet from polars, Avro with a sync
marker and codec drawn from the file's own generator), so a re-run with the same arguments reproduces the
same files. Malformed lines are made here because only JSONL can carry them.
Big telemetry JSONL is encoded slice by slice into the gzip stream, never as one huge string.
"""

import gzip
import io
import math
import random
from collections.abc import Iterable

import fastavro
import orjson
import polars as pl

from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES, TELEMETRY
from mobility_lake.simulate.defects import break_line

JSONL_SLICE_ROWS = 100_000


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


AVRO_CODECS = ("null", "deflate", "snappy", "zstandard")
AVRO_TYPES = {pl.String: "string", pl.Float64: "double"}


def _optional(name: str, avro_type: object) -> dict:
    return {"name": name, "type": ["null", avro_type], "default": None}


def avro_schema(data: object) -> dict:
    """A CloudEvent as Kafka Connect's Avro converter writes it: optional string attributes, then `data`."""
    fields = [_optional(name, "string") for name in ENVELOPE_ATTRIBUTES]
    return {
        "type": "record",
        "name": "CloudEvent",
        "namespace": "com.mobilitycorp",
        "fields": [*fields, _optional("data", data)],
    }


EVENT_AVRO = fastavro.parse_schema(avro_schema("string"))
TELEMETRY_AVRO = fastavro.parse_schema(
    avro_schema(
        {
            "type": "record",
            "name": "VehicleTelemetry",
            "fields": [_optional(name, AVRO_TYPES[dtype]) for name, dtype in TELEMETRY.items()],
        }
    )
)


def avro_container(schema: dict, records: Iterable[dict], rng: random.Random) -> bytes:
    """An Avro object container of `records`, its codec and sync marker drawn from `rng`."""
    buffer = io.BytesIO()
    codec = rng.choice(AVRO_CODECS)
    fastavro.writer(buffer, schema, records, codec=codec, sync_marker=rng.randbytes(16))
    return buffer.getvalue()


def events_avro(events: list[dict], rng: random.Random) -> bytes:
    """One record per event, `data` as JSON text (as events_parquet)."""
    records = (
        {
            **{name: event.get(name) for name in ENVELOPE_ATTRIBUTES},
            "data": orjson.dumps(event["data"]).decode(),
        }
        for event in events
    )
    return avro_container(EVENT_AVRO, records, rng)


def telemetry_avro(frame: pl.DataFrame, rng: random.Random) -> bytes:
    """One record per row, `data` as a record of the typed payload fields (as telemetry_parquet)."""
    return avro_container(
        TELEMETRY_AVRO, frame.select(*ENVELOPE_ATTRIBUTES, "data").iter_rows(named=True), rng
    )


def _parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
    return buffer.getvalue()


def telemetry_jsonl(frame: pl.DataFrame, gz: bool, malformed: float, rng: random.Random) -> tuple[bytes, int]:
    """JSONL of telemetry rows; a null attribute or payload field (an injected defect) is left out entirely.

    Ordinary rows go through polars' NDJSON writer a slice at a time; the few special rows (fields to drop,
    lines to break) pass through Python and follow the ordinary rows of their slice. Gzip level 1: this
    is the high-volume path.
    """
    has_null = pl.any_horizontal(
        pl.col("id").is_null(),
        pl.col("time").is_null(),
        *(pl.col("data").struct.field(f).is_null() for f in TELEMETRY),
    )
    rows = frame.select(*ENVELOPE_ATTRIBUTES, "data")
    broken = set(malformed_positions(rows.height, malformed, rng))
    special = sorted(set(frame.select(has_null).to_series().arg_true().to_list()) | broken)
    buffer = io.BytesIO()
    sink = gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) if gz else buffer
    for offset in range(0, rows.height, JSONL_SLICE_ROWS):
        here = [i for i in special if offset <= i < offset + JSONL_SLICE_ROWS]
        part = rows.slice(offset, JSONL_SLICE_ROWS).with_row_index("i", offset)
        ordinary = io.BytesIO()
        part.filter(~pl.col("i").is_in(here)).drop("i").write_ndjson(ordinary)
        sink.write(ordinary.getvalue())
        for index in here:
            row = rows.row(index, named=True)
            event = {k: v for k, v in row.items() if v is not None}
            event["data"] = {k: v for k, v in row["data"].items() if v is not None}
            line = orjson.dumps(event)
            sink.write((break_line(line, rng) if index in broken else line) + b"\n")
    if gz:
        sink.close()
    return buffer.getvalue(), len(broken)


def encode_events(
    events: list[dict], extension: str, malformed: float, rng: random.Random
) -> tuple[bytes, int]:
    """A file of CloudEvent dicts in the format its extension names, and how many lines were broken."""
    if extension == "parquet":
        return events_parquet(events), 0
    if extension == "avro":
        return events_avro(events, rng), 0
    return events_jsonl(events, extension == "jsonl.gz", malformed, rng)


def encode_telemetry(
    frame: pl.DataFrame, extension: str, malformed: float, rng: random.Random
) -> tuple[bytes, int]:
    """A file of telemetry rows in the format its extension names, and how many lines were broken."""
    if extension == "parquet":
        return telemetry_parquet(frame), 0
    if extension == "avro":
        return telemetry_avro(frame, rng), 0
    return telemetry_jsonl(frame, extension == "jsonl.gz", malformed, rng)
