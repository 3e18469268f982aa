"""Property-based fuzzing of the landing parsers: whatever bytes a landing file holds, bronze gets records
with reason codes, never an exception (issue 12: deep JSON and binary Parquet columns used to stop bronze)."""

import datetime
import gzip
import io
import json
import re

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility_lake.bronze.records import BRONZE_COLUMNS, records_from_file
from mobility_lake.events.catalogue import TELEMETRY

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASON = re.compile(r"^[a-z_0-9]+: ")
NAMES = ["a.jsonl", "a.jsonl.gz", "a.parquet"]
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
