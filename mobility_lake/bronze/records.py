"""Turn one landing file's bytes into bronze records, keeping every line or row, broken ones included.

Nothing here raises on bad input: a file that cannot be opened becomes one record naming the problem, a line
that is not JSON becomes a record with its raw text and parse error, and the lines before a truncation are
kept. Errors are reason codes plus the parser's position message, never the content of the line.
"""

import io
import zlib
from collections.abc import Iterator

import orjson
import polars as pl

from mobility_lake.bronze import avro
from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES

ORJSON_MAX_DEPTH = 254  # orjson writes at most this many nested levels (and reads at most 1024)

TOO_DEEP = f"too_deep: the event nests deeper than {ORJSON_MAX_DEPTH} levels"

BRONZE_COLUMNS: dict[str, pl.DataType] = {
    **{name: pl.String() for name in ENVELOPE_ATTRIBUTES},
    "data": pl.String(),
    "extensions": pl.String(),
    "raw": pl.String(),
    "error": pl.String(),
    "record_number": pl.Int64(),
}


def records_from_file(name: str, payload: bytes, payload_struct: pl.Struct | None = None) -> pl.DataFrame:
    """Bronze records of a landed file: one per line (JSONL), row (Parquet) or record (Avro), or one naming
    a file error.

    `payload_struct` is the catalogue struct of a topic whose Parquet payload may be kept as a typed struct
    (column `data_struct`); any other payload is kept as JSON text in `data`.
    """
    if not payload:
        return _file_error("empty_file: the file has no bytes", payload_struct)
    if name.endswith(".parquet"):
        return _parquet_records(payload, payload_struct)
    if name.endswith(".avro"):
        return _avro_records(payload, payload_struct)
    if name.endswith(".jsonl.gz"):
        text, gzip_error = _gunzip(payload)
        frame = _jsonl_records(text, payload_struct)
        if gzip_error is None:
            return (
                frame
                if frame.height
                else _file_error("empty_file: no lines after decompression", payload_struct)
            )
        tail = _file_error(gzip_error, payload_struct).with_columns(
            pl.lit(frame.height + 1, pl.Int64).alias("record_number")
        )
        return pl.concat([frame, tail])
    return _jsonl_records(payload, payload_struct)


def _gunzip(payload: bytes) -> tuple[bytes, str | None]:
    """Decompress as much as is readable; a truncated or corrupt stream keeps its readable whole lines."""
    inflater = zlib.decompressobj(wbits=47)
    try:
        text = inflater.decompress(payload)
    except zlib.error as exc:
        return b"", f"corrupt_gzip: {exc}"
    if not inflater.eof:
        complete = text[: text.rfind(b"\n") + 1]
        return (
            complete,
            "truncated_gzip: the compressed stream ends early; whole lines before the cut were kept",
        )
    return text, None


def _lines(text: bytes) -> Iterator[bytes]:
    lines = text.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        yield line.removesuffix(b"\r")


def _jsonl_records(text: bytes, payload_struct: pl.Struct | None) -> pl.DataFrame:
    columns: dict[str, list] = {name: [] for name in BRONZE_COLUMNS}
    for number, line in enumerate(_lines(text), start=1):
        record = _parse_line(line)
        for name in BRONZE_COLUMNS:
            columns[name].append(record.get(name))
        columns["record_number"][-1] = number
    frame = pl.DataFrame(columns, schema=BRONZE_COLUMNS)
    return _with_struct(frame, payload_struct)


def _parse_line(line: bytes) -> dict[str, str | None]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {
            "raw": line.decode("utf-8", "backslashreplace"),
            "error": f"not_utf8: invalid byte at {exc.start}",
        }
    if not text.strip():
        return {"raw": text, "error": "blank_line: the line holds no event"}
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in exc.msg or "recursion" in exc.msg.lower():
            return {"raw": text, "error": TOO_DEEP}
        return {"raw": text, "error": f"malformed_json: {exc.msg} at column {exc.colno}"}
    if not isinstance(event, dict):
        return {"raw": text, "error": f"not_an_object: the line is a JSON {type(event).__name__}"}
    try:
        return _envelope(event)
    except orjson.JSONEncodeError:  # parsed, but nested deeper than orjson writes: kept as it arrived
        return {
            **{k: v for k, v in event.items() if k in ENVELOPE_ATTRIBUTES and isinstance(v, str)},
            "raw": text,
            "error": TOO_DEEP,
        }


def _envelope(event: dict) -> dict[str, str | None]:
    """Attributes as strings; anything else, or an attribute of the wrong type, kept in `extensions`."""
    record: dict[str, str | None] = {}
    extra = {}
    for key, value in event.items():
        if key == "data":
            record["data"] = None if value is None else orjson.dumps(value).decode()
        elif key in ENVELOPE_ATTRIBUTES and (value is None or isinstance(value, str)):
            record[key] = value
        else:
            extra[key] = value
    if extra:
        record["extensions"] = orjson.dumps(extra).decode()
    return record


def _parquet_records(payload: bytes, payload_struct: pl.Struct | None) -> pl.DataFrame:
    try:
        # polars reads a telemetry file about 3x faster than pyarrow's read_table plus conversion
        frame = pl.read_parquet(io.BytesIO(payload))
    except (pl.exceptions.PolarsError, OSError) as exc:
        return _file_error(f"unreadable_parquet: {_first_line(exc)}", payload_struct)
    if frame.height == 0:
        return _file_error("empty_file: the Parquet file has no rows", payload_struct)
    try:
        return _columns_to_bronze(frame, payload_struct, "parquet")
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:  # a type JSON text cannot hold
        return _file_error(f"unsupported_type: {_first_line(exc)}", payload_struct)


def _avro_records(payload: bytes, payload_struct: pl.Struct | None) -> pl.DataFrame:
    """The records of the intact blocks, read as Parquet rows are, and a record per damaged stretch naming
    how many records it lost; each record keeps its number in the file, damaged stretches included."""
    try:
        frame, numbers, damage = avro.read_frame(avro.read_container(payload))
    except avro.AvroError as exc:
        return _file_error(f"unreadable_avro: {exc}", payload_struct)
    if frame.height == 0 and not damage:
        return _file_error("empty_file: the Avro file has no records", payload_struct)
    parts = []
    if frame.height:
        try:
            rows = _columns_to_bronze(frame, payload_struct, "avro")
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:
            return _file_error(f"unsupported_type: {_first_line(exc)}", payload_struct)
        parts.append(rows.with_columns(record_number=pl.Series(numbers, dtype=pl.Int64)))
    for lost in damage:
        count = "an unknown number of records" if lost.lost is None else f"{lost.lost} record(s)"
        parts.append(
            _file_error(f"{lost.reason}; {count} lost", payload_struct).with_columns(
                record_number=pl.lit(lost.first, pl.Int64)
            )
        )
    return pl.concat(parts).sort("record_number")


def _columns_to_bronze(frame: pl.DataFrame, payload_struct: pl.Struct | None, form: str) -> pl.DataFrame:
    """Envelope columns as strings, the payload as a typed struct when it is exactly the catalogue's; rows
    of a Parquet or Avro file (`form`, for the reason codes) alike."""
    exprs: list[pl.Expr] = []
    extras = []
    for name in ENVELOPE_ATTRIBUTES:
        dtype = frame.schema.get(name)
        if dtype is None:
            exprs.append(pl.lit(None, pl.String).alias(name))
        elif dtype == pl.String:
            exprs.append(pl.col(name))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(_rfc3339(pl.col(name), dtype).alias(name))
        else:
            exprs.append(pl.lit(None, pl.String).alias(name))
            extras.append(name)
    data_dtype = frame.schema.get("data")
    struct_expr = pl.lit(None, payload_struct).alias("data_struct") if payload_struct is not None else None
    if data_dtype is None:
        data_expr = pl.lit(None, pl.String)
    elif data_dtype == pl.String:
        data_expr = pl.col("data")
    elif payload_struct is not None and _same_fields(data_dtype, payload_struct):
        data_expr = pl.lit(None, pl.String)
        struct_expr = pl.col("data").cast(payload_struct, strict=True).alias("data_struct")
    else:
        data_expr = _json_ready(pl.col("data"), data_dtype)
        data_expr = data_expr if data_dtype == pl.Binary else data_expr.struct.json_encode()
    extras += [c for c in frame.columns if c not in ENVELOPE_ATTRIBUTES and c != "data"]
    missing = [c for c in ("id", "source", "type") if c not in frame.columns]
    error = f"{form}_schema: missing column(s) {', '.join(missing)}" if missing else None
    if error is None and data_dtype is not None and _has_binary(data_dtype):
        error = "unsupported_type: the payload holds binary values, kept as base64 text"
    extensions = (
        pl.struct([_json_ready(pl.col(c), frame.schema[c]).alias(c) for c in extras]).struct.json_encode()
        if extras
        else pl.lit(None, pl.String)
    )
    out = frame.select(
        *exprs,
        data_expr.alias("data"),
        extensions.alias("extensions"),
        pl.lit(None, pl.String).alias("raw"),
        pl.lit(error, pl.String).alias("error"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("record_number"),
        *([struct_expr] if struct_expr is not None else []),
    )
    return out


def _has_binary(dtype: pl.DataType) -> bool:
    if dtype == pl.Binary:
        return True
    if isinstance(dtype, pl.Struct):
        return any(_has_binary(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List | pl.Array):
        return _has_binary(dtype.inner)
    if isinstance(dtype, pl.Map):
        return _has_binary(dtype.key) or _has_binary(dtype.value)
    return False


def _json_ready(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Binary values, at any depth, as base64 text: JSON cannot hold bytes (polars panics writing them)."""
    if not _has_binary(dtype):
        return expr
    if dtype == pl.Binary:
        return expr.bin.encode("base64")
    if isinstance(dtype, pl.Struct):
        fields = [_json_ready(expr.struct.field(f.name), f.dtype).alias(f.name) for f in dtype.fields]
        return pl.when(expr.is_not_null()).then(pl.struct(fields))
    if isinstance(dtype, pl.Map):  # as its entries, which JSON can hold once their bytes are text
        entries = pl.List(pl.Struct({"key": dtype.key, "value": dtype.value}))
        return _json_ready(expr.cast(entries), entries)
    if isinstance(dtype, pl.Array):
        expr = expr.arr.to_list()
    return expr.list.eval(_json_ready(pl.element(), dtype.inner))


def _rfc3339(column: pl.Expr, dtype: pl.Datetime) -> pl.Expr:
    """A Parquet timestamp attribute as the RFC 3339 text a JSON sink would have written."""
    utc = (
        column.dt.replace_time_zone("UTC") if dtype.time_zone is None else column.dt.convert_time_zone("UTC")
    )
    return utc.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def _same_fields(dtype: pl.DataType, struct: pl.Struct) -> bool:
    if not isinstance(dtype, pl.Struct):
        return False
    arrived = {f.name: f.dtype for f in dtype.fields}
    expected = {f.name: f.dtype for f in struct.fields}
    if arrived.keys() != expected.keys():
        return False
    return all(
        arrived[k] == expected[k] or (arrived[k].is_numeric() and expected[k].is_float()) for k in expected
    )


def _with_struct(frame: pl.DataFrame, payload_struct: pl.Struct | None) -> pl.DataFrame:
    if payload_struct is None:
        return frame
    return frame.with_columns(pl.lit(None, payload_struct).alias("data_struct"))


def _file_error(reason: str, payload_struct: pl.Struct | None) -> pl.DataFrame:
    frame = pl.DataFrame({"error": [reason]}, schema={"error": pl.String}).select(
        *[
            pl.lit(None, dtype).alias(name) if name != "error" else pl.col("error")
            for name, dtype in BRONZE_COLUMNS.items()
        ]
    )
    return _with_struct(frame, payload_struct)


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
