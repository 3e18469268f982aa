"""Avro object container files, as Kafka Connect's S3 sink writes them, read block by block so that damage
costs only the records it touches.

A container is a header (magic, metadata holding the writer's schema and the codec, a 16-byte sync marker)
and blocks (record count, byte size, the records, the sync marker). The framing is parsed here, each block
decompressed here (null, deflate, snappy, zstandard), and the intact blocks put back together as one
uncompressed container that polars reads in a single call with the file's own schema (fastavro, slower,
when the schema has a type polars has no column for, such as a union of record types). A block whose bytes
are damaged is skipped to the next sync marker and counted as lost records; a file cut short keeps the
blocks before the cut. Nothing here raises on bad input: problems come back as reason-coded `Damage`.
"""

import io
import zlib
from dataclasses import dataclass, field

import cramjam
import fastavro
import orjson
import polars as pl
from backports import zstd

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
CODECS = ("null", "deflate", "snappy", "zstandard")
MAX_BLOCK_BYTES = 1 << 30  # a declared size beyond this is damage, not a block to allocate
DECODE_ERRORS = (Exception, pl.exceptions.PanicException)  # polars' reader panics on some damaged bytes


class AvroError(ValueError):
    """The header cannot be read: nothing in the file can be."""


@dataclass(frozen=True)
class Damage:
    """Records the file declares (or may hold) that could not be read, from record `first` on."""

    first: int  # record number (1-based) of the first record lost
    lost: int | None  # how many, when a block header said so
    reason: str  # reason code and detail, never content


@dataclass
class Container:
    schema: bytes  # the writer's schema, as JSON text
    blocks: list[tuple[int, int, bytes]] = field(default_factory=list)  # (first record, count, records)
    damage: list[Damage] = field(default_factory=list)


def _long(buffer: memoryview, pos: int) -> tuple[int, int]:
    """A zig-zag varint at `pos`; the value and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(buffer):
            raise EOFError("the file ends inside a number")
        byte = buffer[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("a number longer than 64 bits")


def _bytes(buffer: memoryview, pos: int) -> tuple[bytes, int]:
    """Length-prefixed bytes at `pos`; them and the position after them."""
    size, pos = _long(buffer, pos)
    if size < 0 or pos + size > len(buffer):
        raise ValueError(f"a length of {size} bytes where {len(buffer) - pos} remain")
    return bytes(buffer[pos : pos + size]), pos + size


def _header(buffer: memoryview) -> tuple[dict[str, bytes], bytes, int]:
    if bytes(buffer[:4]) != MAGIC:
        raise AvroError("not an Avro container (no 'Obj\\x01' magic)")
    meta: dict[str, bytes] = {}
    pos = 4
    try:
        while True:
            count, pos = _long(buffer, pos)
            if count == 0:
                break
            if count < 0:
                count = -count
                _, pos = _long(buffer, pos)  # the block's byte size, not needed
            for _ in range(count):
                key, pos = _bytes(buffer, pos)
                meta[key.decode("utf-8")], pos = _bytes(buffer, pos)
    except (EOFError, ValueError, UnicodeDecodeError) as exc:
        raise AvroError(f"the metadata cannot be read: {exc}") from None
    sync = bytes(buffer[pos : pos + SYNC_SIZE])
    if len(sync) < SYNC_SIZE or pos > len(buffer):
        raise AvroError("the header ends before its sync marker")
    if "avro.schema" not in meta:
        raise AvroError("the header holds no schema")
    return meta, sync, pos + SYNC_SIZE


def _decompress(codec: str, data: bytes) -> bytes:
    if codec == "null":
        return data
    if codec == "deflate":
        return zlib.decompress(data, wbits=-15)
    if codec == "snappy":  # snappy block, then the big-endian CRC-32 of the uncompressed bytes
        raw = bytes(cramjam.snappy.decompress_raw(data[:-4]))
        if zlib.crc32(raw) != int.from_bytes(data[-4:], "big"):
            raise ValueError("snappy checksum mismatch")
        return raw
    return zstd.decompress(data)


def read_container(payload: bytes) -> Container:
    """The file's schema and its intact blocks, decompressed; damage where a block could not be read.

    Raises AvroError only when the header is unreadable."""
    buffer = memoryview(payload)
    meta, sync, pos = _header(buffer)
    codec = meta.get("avro.codec", b"null").decode("utf-8", "replace") or "null"
    if codec not in CODECS:
        raise AvroError(f"unsupported codec '{codec[:40]}': expected one of {', '.join(CODECS)}")
    container = Container(meta["avro.schema"])
    record = 1
    while pos < len(buffer):
        try:
            count, after = _long(buffer, pos)
            size, after = _long(buffer, after)
        except (EOFError, ValueError):
            container.damage.append(
                Damage(record, None, "truncated_avro: the file ends inside a block header")
            )
            return container
        if count < 0 or size < 0 or size > MAX_BLOCK_BYTES:
            next_block = _resync(payload, sync, pos)
            container.damage.append(
                Damage(record, None, "corrupt_avro_block: a block header holds impossible numbers")
            )
            if next_block is None:
                return container
            pos = next_block
            continue
        end = after + size
        if end + SYNC_SIZE > len(buffer):
            container.damage.append(
                Damage(record, count, f"truncated_avro: the file ends inside a block of {count} record(s)")
            )
            return container
        if bytes(buffer[end : end + SYNC_SIZE]) != sync:
            next_block = _resync(payload, sync, after)
            container.damage.append(
                Damage(
                    record, count, f"corrupt_avro_block: a block of {count} record(s) lacks its sync marker"
                )
            )
            if next_block is None:
                return container
            pos, record = next_block, record + count
            continue
        try:
            container.blocks.append((record, count, _decompress(codec, bytes(buffer[after:end]))))
        except Exception as exc:  # noqa: BLE001 - any codec failure is damage to this block only
            reason = f"corrupt_avro_block: a {codec} block of {count} record(s) cannot be decompressed"
            container.damage.append(Damage(record, count, f"{reason} ({type(exc).__name__})"))
        pos, record = end + SYNC_SIZE, record + count
    return container


def _resync(payload: bytes, sync: bytes, start: int) -> int | None:
    """Where the block after the next sync marker from `start` begins, or None when no marker follows."""
    found = payload.find(sync, start)
    return None if found < 0 else found + SYNC_SIZE


def _encode_long(value: int) -> bytes:
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _uncompressed(schema: bytes, blocks: list[tuple[int, int, bytes]]) -> bytes:
    """One null-codec container of `blocks` with `schema`, for polars."""
    sync = b"\x00" * SYNC_SIZE
    out = io.BytesIO()
    out.write(MAGIC)
    out.write(_encode_long(1))
    for key, value in ((b"avro.schema", schema),):
        out.write(_encode_long(len(key)) + key + _encode_long(len(value)) + value)
    out.write(_encode_long(0) + sync)
    for _, count, data in blocks:
        out.write(_encode_long(count) + _encode_long(len(data)) + data + sync)
    return out.getvalue()


def read_frame(container: Container) -> tuple[pl.DataFrame, list[int], list[Damage]]:
    """The records of the intact blocks as one frame, their record numbers, and all damage. polars reads a
    CloudEvent-shaped file in one call; any other schema, or a block polars cannot decode (bytes damaged
    under the null codec), goes to fastavro block by block, where a bad block costs its own records."""
    try:
        if _columnar(orjson.loads(container.schema)):
            return _polars(container.schema, container.blocks), _numbers(container.blocks), container.damage
    except DECODE_ERRORS:  # bytes damaged under the null codec, or a schema polars refuses
        pass
    return fastavro_frame(container)


def _polars(schema: bytes, blocks: list[tuple[int, int, bytes]]) -> pl.DataFrame:
    frame = pl.read_avro(io.BytesIO(_uncompressed(schema, blocks)))
    if frame.height != sum(count for _, count, _ in blocks):
        raise ValueError("a block holds fewer or more records than it declares")
    return frame


PRIMITIVES = {"boolean", "int", "long", "float", "double", "string", "bytes"}
LOGICAL = {"timestamp-millis", "timestamp-micros", "date"}


def _columnar(schema: object, depth: int = 0) -> bool:
    """Whether the schema has the shape polars' reader is sound on: a record of primitives (optional or
    not) and of records of primitives, as a CloudEvent with a payload record is. Other shapes (enums,
    unions of several types, deeper nesting) make it panic or misread: fastavro reads those."""
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return depth > 0 and len(branches) == 1 and _columnar(branches[0], depth)
    if isinstance(schema, str):
        return depth > 0 and schema in PRIMITIVES
    if not isinstance(schema, dict):
        return False
    if schema.get("type") in PRIMITIVES:
        return depth > 0 and schema.get("logicalType") in LOGICAL | {None}
    fields = schema.get("fields", [])
    return (
        schema.get("type") == "record"
        and depth < 2
        and all(isinstance(f, dict) and _columnar(f.get("type"), depth + 1) for f in fields)
    )


def fastavro_frame(container: Container) -> tuple[pl.DataFrame, list[int], list[Damage]]:
    """The records decoded by fastavro, each field as JSON text (`data` as the payload's JSON), for
    schemas polars cannot read. Slower, so only for those."""
    try:
        schema = fastavro.parse_schema(orjson.loads(container.schema))
    except Exception as exc:  # noqa: BLE001 - any schema fastavro refuses
        raise AvroError(f"the schema cannot be read: {_first_line(exc)}") from None
    names = [f["name"] for f in schema.get("fields", [])]
    rows: list[dict] = []
    numbers: list[int] = []
    damage = list(container.damage)
    for first, count, data in container.blocks:
        try:
            records = list(
                fastavro.reader(io.BytesIO(_uncompressed(container.schema, [(first, count, data)])))
            )
            if len(records) != count:
                raise ValueError("a block holds fewer or more records than it declares")
        except Exception as exc:  # noqa: BLE001
            reason = f"corrupt_avro_block: a block of {count} record(s) cannot be decoded"
            damage.append(Damage(first, count, f"{reason} ({type(exc).__name__})"))
            continue
        rows += [{name: _text(record.get(name)) for name in names} for record in records]
        numbers += range(first, first + count)
    frame = pl.DataFrame(rows, schema={name: pl.String for name in names}, orient="row")
    return frame, numbers, sorted(damage, key=lambda d: d.first)


def _text(value: object) -> str | None:
    """A decoded field as the text bronze keeps: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def _numbers(blocks: list[tuple[int, int, bytes]]) -> list[int]:
    return [first + i for first, count, _ in blocks for i in range(count)]


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
