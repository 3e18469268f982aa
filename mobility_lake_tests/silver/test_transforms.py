"""Each validation rule: a failing example reaches quarantine with its rule and reason; good rows reach silver."""

import copy
import hashlib
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pytest

from mobility_lake.bronze.ingest import bronze_schema
from mobility_lake.bronze.records import records_from_file
from mobility_lake.events.catalogue import TELEMETRY
from mobility_lake.events.envelope import parse_event_time
from mobility_lake.gdpr.sealing import mask, naming_a_subject, seal
from mobility_lake.silver.pipeline import reference_data
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.silver.transforms import build_silver, silver_columns

H = datetime(2026, 3, 10, 8, tzinfo=UTC)
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
BERLIN = (52.52, 13.405)

GOOD = {
    "payment_events": {
        "type": "com.mobilitycorp.payment.captured.v1",
        "source": "//payment-service",
        "data": {
            "payment_id": "p-1",
            "booking_id": "b-1",
            "user_id": "u-1",
            "amount": 12.5,
            "currency": "PLN",
            "method": "card",
        },
    },
    "booking_events": {
        "type": "com.mobilitycorp.booking.completed.v1",
        "source": "//booking-service",
        "data": {
            "booking_id": "b-1",
            "user_id": "u-1",
            "vehicle_id": "AB123456",
            "vehicle_type": "ebike",
            "city": "Berlin",
            "started_at": "2026-03-10T07:40:00Z",
            "ended_at": "2026-03-10T08:05:30Z",
            "distance_km": 4.2,
            "end_latitude": BERLIN[0],
            "end_longitude": BERLIN[1],
            "fare_amount": 6.3,
            "currency": "EUR",
        },
    },
    "vehicle_telemetry": {
        "type": "com.mobilitycorp.vehicle.telemetry.v1",
        "source": "/vehicles/AB123456",
        "data": {
            "vehicle_id": "AB123456",
            "vehicle_type": "scooter",
            "city": "Berlin",
            "latitude": BERLIN[0],
            "longitude": BERLIN[1],
            "battery_level": 25.0,
            "speed_kmh": 14.0,
            "temperature_c": 7.5,
            "odometer_km": 1200.0,
            "status": "in_use",
        },
    },
    "app_events": {
        "type": "com.mobilitycorp.customer.profile_updated.v1",
        "source": "//mobile-app",
        "data": {
            "user_id": "u-1",
            "email": "anna.k123@example.com",
            "phone": "+49 30 1234567",
            "locale": "de-DE",
            "marketing_opt_in": True,
        },
    },
    "weather": {
        "type": "com.mobilitycorp.weather.observation.v1",
        "source": "//weather-service",
        "data": {
            "city": "Berlin",
            "temperature_c": 4.0,
            "precipitation_mm": 0.2,
            "wind_speed_kmh": 11.0,
            "condition": "rain",
        },
    },
}


def event(table: str, n: int = 1, **changes) -> dict:
    base = copy.deepcopy(GOOD[table])
    e = {"specversion": "1.0", "id": f"e-{n}", "time": "2026-03-10T08:10:00.000Z", **base}
    data = changes.pop("data", {})
    drop = changes.pop("drop", ())
    e.update(changes)
    e["data"] = {**e["data"], **data}
    for name in drop:
        (e["data"] if name in e["data"] else e).pop(name, None)
    return e


def bronze(
    lines: list[bytes], arrival: datetime = H, name: str = "f.jsonl", struct: pl.Struct | None = None
) -> pl.DataFrame:
    records = records_from_file(name, b"\n".join(lines), struct)
    table = "vehicle_telemetry" if struct is not None else "payment_events"
    records = records.with_columns(
        pl.lit(f"landing/{name}").alias("landing_file"),
        pl.lit(arrival, pl.Datetime("us", "UTC")).alias("ingested_at"),
        pl.lit(arrival, pl.Datetime("us", "UTC")).alias("arrival_hour"),
        pl.lit(arrival.date().isoformat()).alias("arrival_date"),
        parse_event_time(pl.col("time")).dt.truncate("1h").alias("event_hour"),
        parse_event_time(pl.col("time")).alias("event_time"),
    )
    named = naming_a_subject(records)
    keys = {user: (f"key-{user}", subject_key(user)) for user in named["user_id"]}
    return seal(records, keys, named).select(list(bronze_schema(table)))


def subject_key(user_id: str) -> bytes:
    """A stand-in for the key table: one fixed key per subject."""
    return hashlib.sha256(user_id.encode()).digest()


def stand_in_keys(key_ids: list[str]) -> dict[str, bytes]:
    return {k: subject_key(k.removeprefix("key-")) for k in key_ids}


def run(table: str, events: list[dict | bytes], arrival: datetime = H):
    lines = [e if isinstance(e, bytes) else orjson.dumps(e) for e in events]
    return build_silver(
        bronze(lines, arrival), SILVER_BY_NAME[table], H, FIRST, reference_data(), keys=stand_in_keys
    )


@pytest.mark.parametrize("table", sorted(GOOD))
def test_a_good_event_reaches_silver_typed_with_the_contract_columns_first(table):
    result = run(table, [event(table)])
    assert result.quarantine.height == 0
    assert result.silver.height == 1
    assert list(result.silver.schema.items()) == list(silver_columns(SILVER_BY_NAME[table]).items())
    assert result.silver.columns[:4] == ["event_id", "event_source", "event_type", "event_time"]
    row = result.silver.row(0, named=True)
    assert (row["event_id"], row["event_time"], row["date"], row["hour"]) == (
        "e-1",
        H + timedelta(minutes=10),
        H.date(),
        8,
    )


CASES = [
    # (table, the bad event, rule, reason)
    ("payment_events", b'{"specversion": "1.0", "id": ', "bronze.parse", "malformed_json"),
    ("payment_events", b"\xff\xfe", "bronze.parse", "not_utf8"),
    (
        "payment_events",
        event("payment_events", specversion="0.3"),
        "envelope.specversion",
        "unsupported_specversion",
    ),
    ("payment_events", event("payment_events", drop=["id"]), "envelope.id", "missing_id"),
    ("payment_events", event("payment_events", source=""), "envelope.source", "missing_source"),
    ("payment_events", event("payment_events", drop=["type"]), "envelope.type", "missing_type"),
    (
        "payment_events",
        event("payment_events", type="com.mobilitycorp.payment.teleported.v9"),
        "envelope.type",
        "unknown_type",
    ),
    (
        "payment_events",
        event("payment_events", type="com.mobilitycorp.booking.created.v1"),
        "envelope.type",
        "unknown_type",
    ),
    ("payment_events", event("payment_events", drop=["time"]), "envelope.time", "missing_time"),
    ("payment_events", event("payment_events", time="10/03/2026 08:10"), "envelope.time", "invalid_time"),
    ("payment_events", event("payment_events", time="2026-03-10T08:10:00"), "envelope.time", "invalid_time"),
    (
        "payment_events",
        event("payment_events", time="2026-03-10T11:00:00Z"),
        "envelope.time",
        "time_in_future",
    ),
    (
        "payment_events",
        event("payment_events", time="2024-06-01T08:00:00Z"),
        "envelope.time",
        "before_first_partition",
    ),
    ("payment_events", event("payment_events", drop=["data"]), "envelope.data", "missing_data"),
    ("payment_events", {**event("payment_events"), "data": "a string"}, "envelope.data", "invalid_data"),
    (
        "payment_events",
        event("payment_events", data={"amount": "twelve"}),
        "payload.amount.type",
        "invalid_type",
    ),
    (
        "payment_events",
        event("payment_events", data={"amount": -1}),
        "payload.amount.greater_than_or_equal_to(0)",
        "out_of_range",
    ),
    (
        "payment_events",
        event("payment_events", drop=["user_id"]),
        "payload.user_id.not_nullable",
        "missing_field",
    ),
    (
        "payment_events",
        event("payment_events", data={"payment_id": ""}),
        "payload.payment_id.str_length(1, None)",
        "empty_value",
    ),
    (
        "payment_events",
        event("payment_events", data={"method": "cash"}),
        "payload.method.isin",
        "not_allowed",
    ),
    (
        "payment_events",
        event("payment_events", data={"currency": "zloty"}),
        "payload.currency.str_matches('^[A-Z]{3}$')",
        "invalid_format",
    ),
    (
        "payment_events",
        event("payment_events", data={"currency": "XXX"}),
        "enrichment.fx_rate",
        "missing_fx_rate",
    ),
    (
        "vehicle_telemetry",
        event("vehicle_telemetry", data={"battery_level": 140}),
        "payload.battery_level.in_range(0, 100)",
        "out_of_range",
    ),
    (
        "vehicle_telemetry",
        event("vehicle_telemetry", data={"latitude": 123.0}),
        "payload.latitude.in_range(-90, 90)",
        "out_of_range",
    ),
    (
        "vehicle_telemetry",
        event("vehicle_telemetry", data={"speed_kmh": -4}),
        "payload.speed_kmh.greater_than_or_equal_to(0)",
        "out_of_range",
    ),
    (
        "vehicle_telemetry",
        event("vehicle_telemetry", data={"vehicle_id": "ab12"}),
        "payload.vehicle_id.str_matches('^[A-Z]{2}\\d{6}$')",
        "invalid_format",
    ),
    (
        "vehicle_telemetry",
        event("vehicle_telemetry", data={"status": "flying"}),
        "payload.status.isin",
        "not_allowed",
    ),
    (
        "booking_events",
        event("booking_events", data={"ended_at": "2026-03-10T07:00:00Z"}),
        "payload.ended_not_before_started",
        "inconsistent_times",
    ),
    (
        "booking_events",
        event("booking_events", data={"started_at": "yesterday"}),
        "payload.started_at.type",
        "invalid_type",
    ),
    (
        "booking_events",
        event("booking_events", data={"distance_km": -2.0}),
        "payload.distance_km.greater_than_or_equal_to(0)",
        "out_of_range",
    ),
    (
        "app_events",
        event("app_events", data={"marketing_opt_in": "yes"}),
        "payload.marketing_opt_in.type",
        "invalid_type",
    ),
    ("weather", event("weather", data={"condition": "sunny-ish"}), "payload.condition.isin", "not_allowed"),
]


@pytest.mark.parametrize(
    ("table", "bad", "rule", "reason"), CASES, ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_rule_sends_its_failing_example_to_quarantine_with_its_reason(table, bad, rule, reason):
    result = run(table, [event(table, n=100), bad])
    assert result.silver["event_id"].to_list() == ["e-100"]
    assert result.quarantine.select("rule", "reason").rows() == [(rule, reason)]
    quarantined = result.quarantine.row(0, named=True)
    assert quarantined["landing_file"] == "landing/f.jsonl" and quarantined["record_number"] == 2
    assert quarantined["partition_hour"] == H


def test_a_row_failing_several_rules_is_quarantined_once_under_the_first():
    bad = event("payment_events", data={"amount": -1, "method": "cash"}, drop=["user_id"])
    result = run("payment_events", [bad])
    assert result.quarantine.select("rule", "reason").rows() == [
        ("payload.user_id.not_nullable", "missing_field")
    ]


def test_redelivered_copies_collapse_to_the_first_landed_and_are_counted():
    result = run(
        "payment_events", [event("payment_events", 1), event("payment_events", 2), event("payment_events", 1)]
    )
    assert sorted(result.silver["event_id"]) == ["e-1", "e-2"]
    assert result.silver.filter(pl.col("event_id") == "e-1")["record_number"].to_list() == [1]
    assert (result.bronze_rows, result.duplicates, result.quarantine.height) == (3, 1, 0)


def test_rows_handed_in_any_order_are_judged_in_landing_order():
    lines = [orjson.dumps(event("payment_events", n % 3, data={"amount": float(n)})) for n in range(9)]
    landed = bronze(lines, name="a.jsonl")
    later = bronze(lines, name="b.jsonl")  # the same events again, in a later file
    rows = pl.concat([landed, later])
    results = [
        build_silver(order, SILVER_BY_NAME["payment_events"], H, FIRST, reference_data(), keys=stand_in_keys)
        for order in (rows, rows.reverse(), rows.sample(fraction=1.0, shuffle=True, seed=5))
    ]
    for result in results:  # e-0, e-1, e-2 first landed as records 1, 2, 3 of a.jsonl; the rest repeat them
        firsts = result.silver.sort("event_id").select("landing_file", "record_number").rows()
        assert firsts == [("landing/a.jsonl", 1), ("landing/a.jsonl", 2), ("landing/a.jsonl", 3)]
        assert (result.quarantine.height, result.duplicates) == (0, 15)


def test_rows_bronze_ingested_before_it_kept_the_event_time_are_read_from_time():
    lines = [
        orjson.dumps(event("payment_events", n, time=f"2026-03-10T08:{n:02d}:00+00:00")) for n in range(4)
    ]
    lines.append(orjson.dumps(event("payment_events", 9, time="not a time")))
    rows = bronze(lines)
    older = rows.with_columns(pl.lit(None, rows.schema["event_time"]).alias("event_time"))
    table = SILVER_BY_NAME["payment_events"]
    results = [
        build_silver(frame, table, H, FIRST, reference_data(), keys=stand_in_keys) for frame in (rows, older)
    ]
    assert results[0].silver.equals(results[1].silver) and results[0].quarantine.equals(results[1].quarantine)
    assert results[1].silver["event_time"].dt.minute().to_list() == [0, 1, 2, 3]
    assert results[1].quarantine["reason"].to_list() == ["invalid_time"]


def test_the_same_id_from_another_source_is_another_event():
    result = run(
        "payment_events", [event("payment_events", 1), event("payment_events", 1, source="//other-service")]
    )
    assert result.silver.height == 2 and result.duplicates == 0


def test_every_bronze_row_is_silver_quarantined_or_a_duplicate():
    events = [event("payment_events", i) for i in range(5)] + [
        event("payment_events", 1),
        b"{",
        event("payment_events", 9, data={"amount": -5}),
    ]
    result = run("payment_events", events)
    assert result.bronze_rows == result.silver.height + result.quarantine.height + result.duplicates == 8


def test_enrichment_zone_battery_status_duration_and_eur():
    telemetry = run(
        "vehicle_telemetry",
        [
            event("vehicle_telemetry", data={"battery_level": b}, n=i)
            for i, b in enumerate([5, 10, 29.9, 69, 70, 100])
        ],
    ).silver.sort("event_id")
    assert telemetry["battery_status"].to_list() == ["critical", "low", "low", "medium", "good", "good"]
    assert telemetry["zone_id"].null_count() == 0
    far = run(
        "vehicle_telemetry", [event("vehicle_telemetry", data={"latitude": 0.0, "longitude": 0.0})]
    ).silver
    assert far["zone_id"].to_list() == [None]
    trip = run("booking_events", [event("booking_events")]).silver.row(0, named=True)
    assert trip["trip_duration_min"] == pytest.approx(25.5)
    assert trip["fare_amount_eur"] == pytest.approx(6.3)
    assert trip["zone_id"] is not None
    payment = run("payment_events", [event("payment_events")]).silver.row(0, named=True)
    rates = reference_data().fx_rates.filter((pl.col("currency") == "PLN") & (pl.col("date") == H.date()))
    assert payment["amount_eur"] == pytest.approx(12.5 * rates["eur_rate"].item())


def test_email_and_phone_never_reach_silver_in_plaintext():
    row = run("app_events", [event("app_events")]).silver.row(0, named=True)
    assert row["email"] == mask(subject_key("u-1"), "email", "anna.k123@example.com")
    assert row["phone"] == mask(subject_key("u-1"), "phone", "+49 30 1234567")
    assert row["user_id"] == "u-1"
    text = str(run("app_events", [event("app_events")]).silver.to_dicts())
    assert "anna.k123" not in text and "1234567" not in text and "example.com" not in text


def test_bronze_holds_personal_values_sealed_and_the_rest_as_landed():
    rows = bronze([orjson.dumps(event("booking_events")), orjson.dumps(event("app_events"))])
    text = str(rows.drop("landing_file", "subject_key").to_dicts())
    for personal in ("u-1", "anna.k123", "1234567", "52.52", "13.405"):
        assert personal not in text
    assert rows["subject_key"].to_list() == ["key-u-1", "key-u-1"]
    assert '"vehicle_id":"AB123456"' in rows["data"][0]
    assert bronze([orjson.dumps(event("booking_events"))]).equals(rows.head(1)), "sealing is reproducible"


@pytest.mark.parametrize("table", ["booking_events", "app_events", "payment_events"])
def test_an_erased_subjects_events_stay_in_silver_anonymous(table):
    """Their keys gone, the events are still valid events: no quarantine, personal values null."""
    rows = bronze([orjson.dumps(event(table))])
    built = build_silver(rows, SILVER_BY_NAME[table], H, FIRST, reference_data(), keys=lambda ids: {})
    assert built.quarantine.is_empty()
    row = built.silver.row(0, named=True)
    personal = {"user_id", "email", "phone", "latitude", "longitude", "end_latitude", "end_longitude"}
    assert {c: row[c] for c in personal if c in row} == dict.fromkeys(personal & set(row))
    assert row["event_subject"] is None
    kept = {"booking_events": "booking_id", "app_events": "locale", "payment_events": "amount"}[table]
    assert row[kept] is not None


def test_parquet_telemetry_struct_payload_is_read_like_json():
    rows = [{**event("vehicle_telemetry"), "data": GOOD["vehicle_telemetry"]["data"]}]
    import io

    buf = io.BytesIO()
    pl.DataFrame(rows, schema_overrides={"data": pl.Struct(TELEMETRY)}).write_parquet(buf)
    frame = bronze([buf.getvalue()], name="t.parquet", struct=pl.Struct(TELEMETRY))
    result = build_silver(frame, SILVER_BY_NAME["vehicle_telemetry"], H, FIRST, reference_data())
    assert result.quarantine.height == 0
    assert result.silver["battery_level"].to_list() == [25.0]
