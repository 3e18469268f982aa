"""Every kind of bad landing file the contract names becomes a bronze record, never a crash or a drop."""

import gzip
import io
from datetime import UTC

import orjson
import polars as pl
import pytest

from mobility_lake.bronze.records import records_from_file
from mobility_lake.events.catalogue import TELEMETRY

EVENT = {
    "specversion": "1.0",
    "id": "e-1",
    "source": "//booking-service",
    "type": "com.mobilitycorp.booking.cancelled.v1",
    "time": "2026-03-10T08:01:02.000Z",
    "datacontenttype": "application/json",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "data": {"booking_id": "b-1", "user_id": "u-1", "vehicle_id": "AB123456", "reason": "changed_mind"},
}
LINE = orjson.dumps(EVENT) + b"\n"
TELEMETRY_DATA = {
    "vehicle_id": "AB123456",
    "vehicle_type": "scooter",
    "city": "Berlin",
    "latitude": 52.5,
    "longitude": 13.4,
    "battery_level": 80.0,
    "speed_kmh": 12.0,
    "temperature_c": 9.5,
    "odometer_km": 1234.5,
    "status": "in_use",
}


def errors(frame: pl.DataFrame) -> list[str | None]:
    return [e.split(":")[0] if e else None for e in frame["error"].to_list()]


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


def test_good_lines_keep_envelope_and_payload_as_arrived():
    frame = records_from_file("a.jsonl", LINE + LINE.replace(b'"e-1"', b'"e-2"'))
    assert frame["id"].to_list() == ["e-1", "e-2"]
    assert frame["record_number"].to_list() == [1, 2]
    assert orjson.loads(frame["data"][0]) == EVENT["data"]
    assert frame["traceparent"][0] == EVENT["traceparent"]
    assert errors(frame) == [None, None]


def test_extension_attributes_and_ill_typed_attributes_are_kept_in_extensions():
    event = {**EVENT, "partitionkey": "AB123456", "id": 42}
    frame = records_from_file("a.jsonl", orjson.dumps(event))
    assert frame["id"][0] is None
    assert orjson.loads(frame["extensions"][0]) == {"partitionkey": "AB123456", "id": 42}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"id": "e-1", "source": ', "malformed_json"),
        (b"\xff\xfe not text", "not_utf8"),
        (b"   ", "blank_line"),
        (b'["an", "array"]', "not_an_object"),
    ],
)
def test_a_bad_line_is_kept_raw_with_its_reason_and_the_rest_of_the_file_survives(line, reason):
    frame = records_from_file("a.jsonl", LINE + line + b"\n" + LINE)
    assert errors(frame) == [None, reason, None]
    assert frame["record_number"].to_list() == [1, 2, 3]
    assert frame["raw"][1] is not None and frame["id"][1] is None


def test_windows_line_endings_and_a_missing_final_newline_are_read():
    frame = records_from_file("a.jsonl", LINE.replace(b"\n", b"\r\n") + LINE.rstrip(b"\n"))
    assert errors(frame) == [None, None]


def test_gzip_lines_are_read():
    frame = records_from_file("a.jsonl.gz", gzip.compress(LINE * 3))
    assert frame.height == 3 and errors(frame) == [None] * 3


def test_truncated_gzip_keeps_the_whole_lines_before_the_cut_and_records_the_truncation():
    blob = gzip.compress(LINE * 200, mtime=0)
    frame = records_from_file("a.jsonl.gz", blob[: len(blob) // 2])
    kept = frame.filter(pl.col("error").is_null())
    assert 0 < kept.height < 200
    assert errors(frame)[-1] == "truncated_gzip"
    assert frame["record_number"].to_list() == list(range(1, frame.height + 1))


@pytest.mark.parametrize(
    ("name", "payload", "reason"),
    [
        ("a.jsonl", b"", "empty_file"),
        ("a.jsonl.gz", b"", "empty_file"),
        ("a.jsonl.gz", gzip.compress(b""), "empty_file"),
        ("a.jsonl.gz", b"this is not gzip", "corrupt_gzip"),
        ("a.parquet", b"PAR1 but not really", "unreadable_parquet"),
        ("a.parquet", parquet(pl.DataFrame({"id": ["x"]}).head(0)), "empty_file"),
    ],
)
def test_a_file_that_cannot_be_read_becomes_one_record_naming_why(name, payload, reason):
    frame = records_from_file(name, payload)
    assert frame.height == 1
    assert errors(frame) == [reason]


def test_parquet_with_json_payload_keeps_the_text():
    frame = records_from_file(
        "a.parquet", parquet(pl.DataFrame([{**EVENT, "data": orjson.dumps(EVENT["data"]).decode()}]))
    )
    assert errors(frame) == [None]
    assert orjson.loads(frame["data"][0]) == EVENT["data"]


def test_parquet_telemetry_keeps_the_payload_as_a_typed_struct():
    rows = [{**EVENT, "type": "com.mobilitycorp.vehicle.telemetry.v1", "data": TELEMETRY_DATA}]
    frame = records_from_file("a.parquet", parquet(pl.DataFrame(rows)), pl.Struct(TELEMETRY))
    assert frame["data_struct"][0] == TELEMETRY_DATA
    assert frame["data"][0] is None


def test_parquet_payload_struct_of_another_shape_is_kept_as_json_not_lost():
    odd = {**TELEMETRY_DATA, "firmware": "2.1"}
    rows = [{**EVENT, "data": odd}]
    frame = records_from_file("a.parquet", parquet(pl.DataFrame(rows)), pl.Struct(TELEMETRY))
    assert frame["data_struct"][0] is None
    assert orjson.loads(frame["data"][0]) == odd


def test_parquet_with_a_wrong_schema_keeps_every_row_and_names_the_missing_columns():
    wrong = pl.DataFrame({"event_id": ["a", "b"], "payload": ["{}", "{}"], "time": ["t", "t"]})
    frame = records_from_file("a.parquet", parquet(wrong))
    assert frame.height == 2
    assert set(errors(frame)) == {"parquet_schema"}
    assert "id, source, type" in frame["error"][0]
    assert orjson.loads(frame["extensions"][0]) == {"event_id": "a", "payload": "{}"}


def test_parquet_timestamp_time_is_kept_as_rfc3339_text():
    from datetime import datetime

    rows = pl.DataFrame(
        {
            **{k: [v] for k, v in EVENT.items() if k not in ("data", "time")},
            "time": [datetime(2026, 3, 10, 8, 1, 2, tzinfo=UTC)],
            "data": ["{}"],
        }
    )
    frame = records_from_file("a.parquet", parquet(rows))
    assert frame["time"][0] == "2026-03-10T08:01:02.000Z"


@pytest.mark.parametrize(
    ("depth", "reason"),
    [
        (254, None),
        (255, "too_deep"),
        (600, "too_deep"),
        (1023, "too_deep"),
        (1024, "too_deep"),
        (5000, "too_deep"),
    ],
)
def test_an_event_nested_too_deep_is_kept_raw_with_its_reason_and_the_rest_survives(depth, reason):
    """Bronze writes payloads as JSON text: what orjson cannot read (over 1024 levels) or write back (over
    254) is kept raw, with its identity where it could be read."""
    nested = b'{"a":' * depth + b"1" + b"}" * depth
    deep = orjson.dumps({**EVENT, "id": "deep"})[:-1] + b',"data":' + nested + b"}"
    frame = records_from_file("a.jsonl", LINE + deep + b"\n" + LINE)
    assert errors(frame) == [None, reason, None]
    if reason:
        assert frame["raw"][1] == deep.decode() and frame["data"][1] is None
    if depth < 1024:
        assert frame["id"][1] == "deep"


@pytest.mark.parametrize(
    ("column", "value"),
    [("data", {"blob": b"\x00\xff", "n": 1}), ("signature", b"\x00\xff"), ("data", {"parts": [b"\x01"]})],
    ids=["binary in the payload struct", "binary extra column", "binary inside a list"],
)
def test_parquet_binary_values_are_kept_as_base64_never_a_crash(column, value):
    row = {**{k: v for k, v in EVENT.items() if k != "data"}, "data": "{}", column: value}
    frame = records_from_file("a.parquet", parquet(pl.DataFrame([row])))
    assert frame.height == 1
    kept = orjson.loads(frame["data" if column == "data" else "extensions"][0])
    assert "AP8=" in str(kept) or "AQ==" in str(kept)  # base64 of the bytes
    # a binary payload field is not what any event type declares: silver quarantines it by this reason
    assert errors(frame) == (["unsupported_type"] if column == "data" else [None])
