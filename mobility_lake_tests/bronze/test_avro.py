"""Avro landing files as Kafka Connect's S3 sink writes them: every codec, `data` as a record or as JSON
text, and damage that costs only the records it touches, each loss a reason-coded bronze record."""

import io

import fastavro
import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mobility_lake.bronze.records import records_from_file
from mobility_lake.events.catalogue import TELEMETRY
from mobility_lake.simulate.writer import (
    AVRO_CODECS,
    EVENT_AVRO,
    TELEMETRY_AVRO,
    events_parquet,
    telemetry_parquet,
)

STRUCT = pl.Struct(TELEMETRY)
SYNC = bytes(range(16))


def telemetry(n: int) -> pl.DataFrame:
    """Telemetry rows as the simulator frames them; every 7th reading lacks its speed (a null field)."""
    return pl.DataFrame(
        {
            "specversion": ["1.0"] * n,
            "id": [f"t-{i}" for i in range(n)],
            "source": [f"/vehicles/AB{i % 50:06d}" for i in range(n)],
            "type": ["com.mobilitycorp.vehicle.telemetry.v1"] * n,
            "time": [f"2026-03-10T08:{i // 60 % 60:02d}:{i % 60:02d}.000Z" for i in range(n)],
            "subject": [None] * n,
            "datacontenttype": ["application/json"] * n,
            "dataschema": [None] * n,
            "traceparent": [None] * n,
            "data": [
                {
                    "vehicle_id": f"AB{i % 50:06d}",
                    "vehicle_type": "scooter",
                    "city": "Berlin",
                    "latitude": 52.5 + i / 1e5,
                    "longitude": 13.4,
                    "battery_level": float(100 - i % 100),
                    "speed_kmh": None if i % 7 == 0 else 12.5,
                    "temperature_c": 9.5,
                    "odometer_km": 1000.0 + i,
                    "status": "in_use",
                }
                for i in range(n)
            ],
        },
        schema_overrides={
            "data": STRUCT,
            "subject": pl.String,
            "dataschema": pl.String,
            "traceparent": pl.String,
        },
    )


def container(schema: dict, records: list[dict], codec: str = "null", block: int = 16000) -> bytes:
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, records, codec=codec, sync_marker=SYNC, sync_interval=block)
    return buffer.getvalue()


def telemetry_file(n: int, codec: str = "null", block: int = 16000) -> bytes:
    return container(TELEMETRY_AVRO, telemetry(n).iter_rows(named=True), codec, block)


def errors(frame: pl.DataFrame) -> list[str]:
    return [e for e in frame["error"].to_list() if e is not None]


@pytest.mark.parametrize("codec", AVRO_CODECS)
def test_every_codec_gives_the_rows_parquet_gives_with_data_as_a_typed_record(codec):
    frame = telemetry(500)
    from_avro = records_from_file("t.avro", telemetry_file(500, codec, block=2000), STRUCT)
    assert_frame_equal(from_avro, records_from_file("t.parquet", telemetry_parquet(frame), STRUCT))
    assert from_avro["data_struct"].struct.field("speed_kmh").null_count() == 72  # every 7th of 500
    assert from_avro["record_number"].to_list() == list(range(1, 501)) and not errors(from_avro)


def test_data_as_json_text_is_kept_as_that_text():
    events = [
        {"specversion": "1.0", "id": f"b-{i}", "source": "//booking-service", "type": "x.v1",
         "time": "2026-03-10T08:00:00Z", "data": {"booking_id": f"b-{i}", "promo_code": None}}
        for i in range(3)
    ]  # fmt: skip
    records = [
        {**{k: e.get(k) for k in ("specversion", "id", "source", "type", "time")}, "data": orjson.dumps(e["data"]).decode()}
        for e in events
    ]  # fmt: skip
    frame = records_from_file("b.avro", container(EVENT_AVRO, records))
    assert frame["data"].to_list() == [orjson.dumps(e["data"]).decode() for e in events]
    assert_frame_equal(frame, records_from_file("b.parquet", events_parquet(events)))


def test_a_file_cut_inside_a_block_keeps_the_blocks_before_it_and_counts_the_records_lost():
    payload = telemetry_file(1000, "deflate", block=4000)
    whole = records_from_file("t.avro", payload, STRUCT)
    cut = records_from_file("t.avro", payload[: len(payload) * 2 // 3], STRUCT)
    kept = cut.filter(pl.col("error").is_null())
    assert 0 < kept.height < 1000
    assert_frame_equal(kept, whole.head(kept.height))
    (error,) = errors(cut)
    assert error.startswith("truncated_avro: the file ends inside a block of ")
    lost = int(error.split("a block of ")[1].split(" ")[0])
    assert error.endswith(f"{lost} record(s) lost") and lost > 0
    assert cut["record_number"].to_list()[-1] == kept.height + 1


def test_a_damaged_block_in_the_middle_costs_only_its_own_records():
    payload = bytearray(telemetry_file(1000, "snappy", block=4000))
    first = payload.find(SYNC, payload.find(SYNC) + 16)  # the sync marker after the first block
    payload[first - 20 : first - 10] = b"\xff" * 10  # bytes of the first block's compressed records
    frame = records_from_file("t.avro", bytes(payload), STRUCT)
    whole = records_from_file("t.avro", telemetry_file(1000, "snappy", block=4000), STRUCT)
    (error,) = errors(frame)
    assert error.startswith("corrupt_avro_block: a snappy block of ")
    lost = int(error.split("a snappy block of ")[1].split(" ")[0])
    kept = frame.filter(pl.col("error").is_null())
    assert kept.height == 1000 - lost and kept["record_number"].min() == lost + 1
    assert_frame_equal(kept, whole.tail(1000 - lost))


def test_a_lost_sync_marker_is_skipped_to_the_next_block():
    payload = bytearray(telemetry_file(1000, "null", block=4000))
    second = payload.find(SYNC, payload.find(SYNC) + 16)
    payload[second : second + 16] = b"\x00" * 16
    frame = records_from_file("t.avro", bytes(payload), STRUCT)
    (error,) = errors(frame)
    assert error.startswith("corrupt_avro_block:") and "sync marker" in error
    assert frame.filter(pl.col("error").is_null()).height < 1000
    assert frame["record_number"].is_sorted() and frame["record_number"].n_unique() == frame.height


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"Obj\x02" + bytes(40), "unreadable_avro: not an Avro container"),
        (b"Obj\x01\x04\x16avro", "unreadable_avro: the metadata cannot be read"),
        (telemetry_file(10)[:30], "unreadable_avro:"),
        (container(TELEMETRY_AVRO, telemetry(10).iter_rows(named=True), "bzip2"), "unreadable_avro: unsupported codec 'bzip2'"),
        (container(TELEMETRY_AVRO, []), "empty_file: the Avro file has no records"),
    ],
    ids=["magic", "metadata", "header-cut", "codec", "no-records"],
)  # fmt: skip
def test_a_file_that_cannot_be_opened_is_one_record_naming_why(payload, reason):
    frame = records_from_file("t.avro", payload, STRUCT)
    assert frame.height == 1 and frame["error"][0].startswith(reason)


def test_a_payload_that_is_a_union_of_record_types_is_kept_as_json_text():
    """Several event types in one topic, as a union of their records: a schema polars has no column for."""

    def record(name: str, fields: tuple[str, ...]) -> dict:
        return {"type": "record", "name": name, "fields": [{"name": f, "type": "string"} for f in fields]}

    envelope = [{"name": name, "type": "string"} for name in ("id", "source", "type")]
    union = [record("Created", ("booking_id", "user_id")), record("Cancelled", ("booking_id", "reason"))]
    schema = fastavro.parse_schema(
        {"type": "record", "name": "E", "fields": [*envelope, {"name": "data", "type": union}]}
    )
    created, cancelled = (
        {"booking_id": "b-1", "user_id": "u-1"},
        {"booking_id": "b-2", "reason": "changed_mind"},
    )
    events = [
        {"id": "1", "source": "//b", "type": "t", "data": created},
        {"id": "2", "source": "//b", "type": "t", "data": ("Cancelled", cancelled)},
    ]
    frame = records_from_file("b.avro", container(schema, events))
    assert not errors(frame) and frame["record_number"].to_list() == [1, 2]
    assert [orjson.loads(d) for d in frame["data"]] == [created, cancelled]
