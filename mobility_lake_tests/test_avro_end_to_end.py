"""Avro landing files through the whole pipeline: a topic landed as Avro gives the silver and quarantine rows
the same events give as JSON lines, and the files of one hour may carry different versions of a schema."""

import io
from datetime import UTC, datetime, timedelta

import dagster as dg
import fastavro
import orjson
import polars as pl
from polars.testing import assert_frame_equal

from mobility_lake.cli import _materialize
from mobility_lake.definitions import build_definitions
from mobility_lake.landing import landing_key
from mobility_lake.settings import load_settings
from mobility_lake.silver.transforms import LINEAGE
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.simulate.writer import avro_schema
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver
from mobility_lake_tests.in_process import in_process_runs

H = datetime(2026, 3, 10, 8, tzinfo=UTC)
TOPICS = {"veh.events.raw": "vehicle_telemetry", "domain.events": "booking_events"}  # data: record, JSON text
PROVENANCE = [*LINEAGE]  # which file and line a row came from: the file names differ by their extension


def built(root, form: str) -> Lake:
    """Two hours of every defect but broken lines (which only JSON lines can carry), the two topics in
    `form`, through `mobility-lake materialize`'s path with a real Dagster instance."""
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(root), "MOBILITY_LAKE_START": "2026-03-01-00:00"})
    lake = Lake(settings)
    defects = DefectShares(malformed=0.0, out_of_range=0.02, missing_field=0.02)
    simulate(lake, H, 2, vehicles=40, seed=3, defects=defects, formats=dict.fromkeys(TOPICS, form))
    with dg.instance_for_test() as instance:
        defs = build_definitions(settings)
        _materialize(
            settings, H, H + timedelta(hours=2), instance, runs=lambda: in_process_runs(defs, instance)
        )
    return lake


def rows(lake: Lake, layer: str, table: str) -> pl.DataFrame:
    frame = lake.read(layer, table)
    return frame.drop([c for c in frame.columns if c in PROVENANCE]).sort(frame.columns[:2] + ["event_time"])


def test_a_topic_in_avro_gives_the_silver_and_quarantine_rows_of_json_lines(tmp_path):
    jsonl, avro = built(tmp_path / "jsonl", "jsonl"), built(tmp_path / "avro", "avro")
    assert any((tmp_path / "avro" / "landing").rglob("*.avro"))
    for table in TOPICS.values():
        silver = rows(avro, "silver", table)
        assert silver.height > 50
        assert_frame_equal(silver, rows(jsonl, "silver", table))
        quarantined = rows(avro, "quarantine", table)
        assert set(quarantined["reason"]) >= {"missing_field", "out_of_range"}
        assert_frame_equal(quarantined, rows(jsonl, "quarantine", table))


BOOKING = {
    "booking_id": "string", "user_id": "string", "vehicle_id": "string", "vehicle_type": "string",
    "city": "string", "latitude": "double", "longitude": "double", "customer_segment": "string",
}  # fmt: skip


def booking_file(extra: dict[str, object], fields: dict[str, object], first: int) -> bytes:
    """booking.created events with `data` as a record of `fields` (and `extra` fields with defaults)."""
    data = {
        "type": "record",
        "name": "BookingCreated",
        "fields": [{"name": n, "type": t} for n, t in fields.items()]
        + [{"name": n, "type": "string", "default": d} for n, d in extra.items()],
    }
    events = []
    for i in range(first, first + 5):
        payload = {
            "booking_id": f"bk-{i}", "user_id": f"u-{i:06d}", "vehicle_id": f"AB{i:06d}", "vehicle_type": "scooter",
            "city": "Berlin", "latitude": 52.52, "longitude": 13.405, "customer_segment": "commuter",
            "promo_code": "SPRING" if i % 2 else None, **dict.fromkeys(extra, "app"),
        }  # fmt: skip
        events.append(
            {"specversion": "1.0", "id": f"e-{i}", "source": "//booking-service",
             "type": "com.mobilitycorp.booking.created.v1", "time": f"2026-03-10T08:{i:02d}:00.000Z",
             "datacontenttype": "application/json", "data": {k: payload[k] for k in [*fields, *extra]}}
        )  # fmt: skip
    buffer = io.BytesIO()
    fastavro.writer(buffer, fastavro.parse_schema(avro_schema(data)), events, codec="deflate")
    return buffer.getvalue()


def test_files_of_one_hour_written_with_an_older_and_a_newer_schema_both_reach_silver(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    newer = BOOKING | {"promo_code": ["null", "string"]}
    lake.write_bytes(
        landing_key("domain.events", H, "old.avro"), booking_file({}, BOOKING, 0)
    )  # no promo_code
    lake.write_bytes(landing_key("domain.events", H, "new.avro"), booking_file({"channel": "app"}, newer, 10))
    bronze_and_silver(lake, [H], H)
    bronze = lake.read("bronze", "domain_events").sort("id")
    assert bronze.height == 10 and bronze["error"].is_null().all()
    data = dict(zip(bronze["id"], bronze["data"], strict=True))
    assert orjson.loads(data["e-10"])["channel"] == "app" and "channel" not in orjson.loads(data["e-0"])
    silver = lake.read("silver", "booking_events").sort("event_time")
    assert silver["event_id"].to_list() == [f"e-{i}" for i in (*range(5), *range(10, 15))]
    assert silver["promo_code"].to_list() == [None] * 5 + ["SPRING" if i % 2 else None for i in range(10, 15)]
    assert "channel" not in silver.columns
    assert lake.read("quarantine", "booking_events").height == 0
