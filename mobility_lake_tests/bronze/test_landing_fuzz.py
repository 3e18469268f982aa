"""Property-based fuzzing of the landing parsers: whatever bytes a landing file holds, bronze gets records
with reason codes, never an exception (issue 12: deep JSON and binary Parquet columns used to stop bronze)."""

import datetime
import gzip
import io
import itertools
import json
import re

import fastavro
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility_lake.bronze.records import BRONZE_COLUMNS, records_from_file
from mobility_lake.events.catalogue import TELEMETRY
from mobility_lake.simulate.writer import AVRO_CODECS, EVENT_AVRO

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASON = re.compile(r"^[a-z_0-9]+: ")
NAMES = ["a.jsonl", "a.jsonl.gz", "a.parquet", "a.avro"]
TELEMETRY_STRUCT = pl.Struct(TELEMETRY)


def assert_records(frame, lines: int | None = None) -> None:
    assert set(BRONZE_COLUMNS) <= set(frame.columns) and frame.height >= 1
    assert all(REASON.match(e) for e in frame["error"].drop_nulls())
    if lines is not None:
        assert frame.height == lines


@FUZZ
@given(name=st.sampled_from(NAMES), payload=st.binary(max_size=2000), struct=st.booleans())
def test_random_bytes_in_any_landing_format_become_records(name, payload, struct):
    assert_records(records_from_file(name, payload, TELEMETRY_STRUCT if struct else None))


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_random_bytes_gzipped_become_records(payload):
    assert_records(records_from_file("a.jsonl.gz", gzip.compress(payload)))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


def nest(value, depth: int):
    for _ in range(depth):
        value = {"a": value}
    return value


@FUZZ
@given(
    events=st.lists(
        st.tuples(st.dictionaries(st.sampled_from(["id", "source", "type", "time", "x"]), JSON), JSON),
        min_size=1,
        max_size=5,
    ),
    depth=st.integers(0, 1200),
)
def test_json_events_of_any_shape_and_depth_become_one_record_per_line(events, depth):
    lines = []
    for envelope, data in events:
        line = json.dumps({**envelope, "data": data}).encode()  # also what orjson cannot write
        lines.append(line)
    deep = b'{"id":"deep","data":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    frame = records_from_file("a.jsonl", b"\n".join([*lines, deep]) + b"\n")
    assert_records(frame, lines=len(lines) + 1)
    assert frame["error"][-1] is None or frame["error"][-1].startswith(("too_deep", "malformed_json"))


LEAVES = [
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.uint64(), st.integers(0, 2**64 - 1)),
    (pa.float64(), st.floats()),
    (pa.string(), st.text(max_size=10)),
    (pa.binary(), st.binary(max_size=10)),
    (pa.large_binary(), st.binary(max_size=10)),
    (pa.binary(3), st.binary(min_size=3, max_size=3)),
    (pa.bool_(), st.booleans()),
    (pa.date32(), st.dates()),
    (pa.timestamp("us", "UTC"), st.datetimes(timezones=st.just(datetime.UTC))),
    (pa.timestamp("ns"), st.datetimes(min_value=datetime.datetime(1700, 1, 1), max_value=datetime.datetime(2200, 1, 1))),
    (pa.time64("us"), st.times()),
    (pa.duration("ms"), st.timedeltas(min_value=datetime.timedelta(days=-999), max_value=datetime.timedelta(days=999))),
    (pa.decimal128(10, 2), st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False)),
]  # fmt: skip


@st.composite
def arrow_column(draw, depth: int = 0):
    """A type of any shape over the leaves, and values of it (some null)."""
    kind = draw(st.sampled_from(["leaf", "leaf", "list", "struct", "map"] if depth < 3 else ["leaf"]))
    if kind == "leaf":
        dtype, values = draw(st.sampled_from(LEAVES))
    elif kind == "list":
        inner, inner_values = draw(arrow_column(depth + 1))
        dtype, values = pa.list_(inner), st.lists(inner_values, max_size=3)
    elif kind == "struct":
        fields = draw(st.lists(arrow_column(depth + 1), min_size=1, max_size=3))
        dtype = pa.struct([(f"f{n}", t) for n, (t, _) in enumerate(fields)])
        values = st.fixed_dictionaries({f"f{n}": v for n, (_, v) in enumerate(fields)})
    else:
        inner, inner_values = draw(arrow_column(depth + 1))
        dtype = pa.map_(pa.string(), inner)
        values = st.lists(st.tuples(st.text(max_size=5), inner_values), max_size=3)
    return dtype, st.none() | values


@FUZZ
@given(column=arrow_column(), where=st.sampled_from(["data", "extra", "id", "time"]), rows=st.data())
def test_parquet_with_any_arrow_type_anywhere_becomes_one_record_per_row(column, where, rows):
    dtype, values = column
    data = rows.draw(st.lists(values, min_size=1, max_size=4))
    table = {"id": ["1"] * len(data), "source": ["s"] * len(data), "type": ["t"] * len(data)}
    table[where] = pa.array(data, dtype)
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    frame = records_from_file("a.parquet", buffer.getvalue(), TELEMETRY_STRUCT)
    assert_records(frame)
    assert frame.height == len(data) or frame["error"][0].startswith(
        ("unsupported_type", "unreadable_parquet")
    )


def avro_file(schema: dict, records: list[dict], codec: str = "null") -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(schema), records, codec=codec, sync_interval=300)
    return buffer.getvalue()


AVRO_EVENTS = [
    {"specversion": "1.0", "id": f"e-{i}", "source": "//s", "type": "t", "data": f'{{"n": {i}}}'}
    for i in range(60)
]


@FUZZ
@given(
    codec=st.sampled_from(AVRO_CODECS),
    changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=4),
    keep=st.floats(0, 1),
)
def test_damaged_avro_keeps_what_it_can_and_names_the_rest(codec, changes, keep):
    payload = bytearray(avro_file(EVENT_AVRO, AVRO_EVENTS, codec))
    for where, value in changes:
        payload[int(where * len(payload))] = value
    frame = records_from_file("a.avro", bytes(payload[: max(1, int(keep * len(payload)))]))
    assert_records(frame)
    numbers = frame["record_number"].drop_nulls()
    assert numbers.n_unique() == numbers.len() and numbers.is_sorted()
    if not changes:  # cut only: the records before the cut, exactly
        kept = frame.filter(pl.col("error").is_null())
        assert kept["id"].to_list() == [e["id"] for e in AVRO_EVENTS[: kept.height]]


NAMED = itertools.count()  # Avro names a named type once per schema


@st.composite
def avro_type(draw, depth: int = 0):
    """An Avro type of any shape, and values of it."""
    leaves = [
        ("boolean", st.booleans()),
        ("int", st.integers(-(2**31), 2**31 - 1)),
        ("long", st.integers(-(2**63), 2**63 - 1)),
        ("double", st.floats()),
        ("float", st.floats(width=32)),
        ("string", st.text(max_size=8)),
        ("bytes", st.binary(max_size=8)),
        ({"type": "enum", "name": f"E{next(NAMED)}", "symbols": ["A", "B"]}, st.sampled_from(["A", "B"])),
        ({"type": "fixed", "name": f"F{next(NAMED)}", "size": 2}, st.binary(min_size=2, max_size=2)),
        ({"type": "long", "logicalType": "timestamp-millis"}, st.datetimes(timezones=st.just(datetime.UTC), min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2200, 1, 1))),
        ({"type": "int", "logicalType": "date"}, st.dates(min_value=datetime.date(1970, 1, 1))),
    ]  # fmt: skip
    kind = draw(
        st.sampled_from(["leaf", "leaf", "array", "map", "record", "union"] if depth < 3 else ["leaf"])
    )
    if kind == "leaf":
        return draw(st.sampled_from(leaves))
    if kind == "array":
        inner, values = draw(avro_type(depth + 1))
        return {"type": "array", "items": inner}, st.lists(values, max_size=3)
    if kind == "map":
        inner, values = draw(avro_type(depth + 1))
        return {"type": "map", "values": inner}, st.dictionaries(st.text(max_size=4), values, max_size=3)
    if kind == "record":
        fields = draw(st.lists(avro_type(depth + 1), min_size=1, max_size=3))
        schema = {
            "type": "record",
            "name": f"R{next(NAMED)}",
            "fields": [{"name": f"f{n}", "type": t} for n, (t, _) in enumerate(fields)],
        }
        return schema, st.fixed_dictionaries({f"f{n}": v for n, (_, v) in enumerate(fields)})
    return ["null", "string", "long"], st.none() | st.text(max_size=5) | st.integers(-5, 5)


@FUZZ
@given(column=avro_type(), where=st.sampled_from(["data", "extra", "id", "time"]), rows=st.data())
def test_avro_with_any_type_anywhere_becomes_one_record_per_row(column, where, rows):
    schema, values = column
    data = rows.draw(st.lists(values, min_size=1, max_size=4))
    fields = {"id": "string", "source": "string", "type": "string", where: schema}
    records = [{"id": "1", "source": "s", "type": "t", where: value} for value in data]
    payload = avro_file(
        {"type": "record", "name": "Event", "fields": [{"name": k, "type": t} for k, t in fields.items()]},
        records,
    )
    frame = records_from_file("a.avro", payload, TELEMETRY_STRUCT)
    assert_records(frame)
    assert frame.height == len(data) or frame["error"][0].startswith(("unsupported_type", "unreadable_avro"))
