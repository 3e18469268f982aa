"""The simulator writes landing files a Kafka sink would: every topic and format, contract-conformant when
clean, with the defects it is asked for in the shares asked for, and byte-identical for the same arguments.

Every check reads the real files back from a local lake; nothing is mocked.
"""

import csv
import gzip
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fastavro
import polars as pl
import pytest

from mobility_lake.cli import main
from mobility_lake.events.catalogue import (
    APP_ACTIONS,
    CUSTOMER_SEGMENTS,
    DEVICE_OSES,
    PAYLOADS,
    PAYMENT_METHODS,
    TELEMETRY,
    TOPICS,
    TOPICS_BY_NAME,
    TYPE_PREFIX,
    VEHICLE_STATUSES,
    VEHICLE_TYPES,
    WEATHER_CONDITIONS,
)
from mobility_lake.landing import parse_landing_key
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.simulate import DefectShares, SimulationSummary, simulate
from mobility_lake.simulate.cities import CITIES
from mobility_lake.simulate.reference import fx_rates_csv, zones_geojson
from mobility_lake.storage import Lake

START = datetime(2026, 3, 10, 7, tzinfo=UTC)
REFERENCE = PROJECT_ROOT / "data" / "reference"
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


@dataclass
class Line:
    """One line or row of a landed file, with the event it holds (None when it is not JSON)."""

    topic: str
    hour: datetime
    file: str
    raw: bytes | None
    event: dict | None

    @property
    def identity(self) -> tuple[str, str] | None:
        if self.event is None or "id" not in self.event or self.event["id"] is None:
            return None
        return self.event["source"], self.event["id"]

    @property
    def event_hour(self) -> datetime | None:
        if self.event is None or not self.event.get("time"):
            return None
        moment = datetime.strptime(self.event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return moment.replace(minute=0, second=0, microsecond=0)


def run(
    tmp: Path, hours: int, vehicles: int, seed: int = 7, defects: DefectShares | None = None
) -> SimulationSummary:
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp)}))
    return simulate(lake, START, hours, vehicles=vehicles, seed=seed, defects=defects or DefectShares())


def landed(root: Path) -> list[Line]:
    """Every line or row under the lake root's landing zone, in file order."""
    lines = []
    for path in sorted((root / "landing").rglob("*")):
        if not path.is_file():
            continue
        where = parse_landing_key(path.relative_to(root).as_posix())
        assert where is not None, f"{path} is not a landing file"
        if where.name.endswith(".parquet"):
            for row in pl.read_parquet(path).to_dicts():
                data = row["data"]
                if isinstance(data, str):
                    data = json.loads(data)
                else:  # a struct: a null field is an absent field
                    data = {k: v for k, v in data.items() if v is not None}
                event = {k: v for k, v in row.items() if v is not None} | {"data": data}
                lines.append(Line(where.topic, where.hour, where.name, None, event))
            continue
        if where.name.endswith(".avro"):
            with path.open("rb") as file:
                for record in fastavro.reader(file):
                    data = record["data"]
                    data = (
                        json.loads(data)
                        if isinstance(data, str)
                        else {k: v for k, v in data.items() if v is not None}
                    )
                    event = {k: v for k, v in record.items() if v is not None} | {"data": data}
                    lines.append(Line(where.topic, where.hour, where.name, None, event))
            continue
        payload = path.read_bytes()
        payload = gzip.decompress(payload) if where.name.endswith(".gz") else payload
        for raw in payload.splitlines():
            try:
                event = json.loads(raw)
            except ValueError:
                event = None
            lines.append(
                Line(where.topic, where.hour, where.name, raw, event if isinstance(event, dict) else None)
            )
    return lines


@dataclass
class Landing:
    root: Path
    summary: SimulationSummary
    lines: list[Line]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    """Three hours without defects."""
    root = tmp_path_factory.mktemp("clean")
    summary = run(root, hours=3, vehicles=60, defects=DefectShares.none())
    return Landing(root, summary, landed(root))


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    """Five hours with the default defect shares (four hours or more always include a telemetry JSONL file)."""
    root = tmp_path_factory.mktemp("default")
    summary = run(root, hours=5, vehicles=60)
    return Landing(root, summary, landed(root))


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_write_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    run(tmp_path / "a", hours=2, vehicles=25, seed=7)
    run(tmp_path / "c", hours=2, vehicles=25, seed=8)
    # the second run in another interpreter with another string-hash seed: no hidden dependence on either
    script = (
        "import sys; from datetime import datetime, UTC; from mobility_lake.settings import load_settings; "
        "from mobility_lake.storage import Lake; from mobility_lake.simulate import simulate; "
        "simulate(Lake(load_settings({'MOBILITY_LAKE_ROOT': sys.argv[1]})), datetime(2026, 3, 10, 7, tzinfo=UTC), "
        "2, vehicles=25, seed=7)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "b")], check=True, env=env, cwd=PROJECT_ROOT)
    first, again, other = tree(tmp_path / "a"), tree(tmp_path / "b"), tree(tmp_path / "c")
    assert first and first.keys() == again.keys()
    assert [k for k in first if first[k] != again[k]] == [], "same seed, different bytes"
    shared = first.keys() & other.keys()
    assert not shared or any(first[k] != other[k] for k in shared), "another seed wrote the same files"


def test_summary_counts_what_was_written(default: Landing) -> None:
    summary, lines = default.summary, default.lines
    assert summary.lines == len(lines) == sum(summary.per_topic.values())
    assert summary.per_topic == Counter(line.topic for line in lines)
    assert summary.lines == summary.events + summary.defects["duplicate"]
    assert summary.files == len({(line.topic, line.hour, line.file) for line in lines})
    assert sum(1 for line in lines if line.event is None) == summary.defects["malformed"]
    unknown = {
        line.identity
        for line in lines
        if line.event and line.event["type"] not in TOPICS_BY_NAME[line.topic].full_types
    }
    assert len(unknown - {None}) <= summary.defects["unknown_type"]


def test_clean_output_is_valid_unique_and_on_time(clean: Landing) -> None:
    summary, lines = clean.summary, clean.lines
    assert set(summary.defects.values()) == {0}
    assert all(line.event is not None for line in lines), "a line is not JSON"
    identities = [line.identity for line in lines]
    assert None not in identities and len(set(identities)) == len(identities) == summary.events
    assert all(line.event_hour == line.hour for line in lines), (
        "an on-time event sits in another hour's folder"
    )
    assert all(START <= line.hour < START + timedelta(hours=3) for line in lines)
    for line in lines:
        event = line.event
        assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
        assert event["type"] in TOPICS_BY_NAME[line.topic].full_types
        short = event["type"].removeprefix(TYPE_PREFIX)
        assert set(event["data"]) <= set(PAYLOADS[short]) and TIME.match(event["time"])
        assert TRACEPARENT.match(event["traceparent"]) and event["dataschema"].endswith(f"/{short}.json")


def test_clean_payloads_conform_to_the_contract(clean: Landing) -> None:
    lines = clean.lines
    by_type = defaultdict(list)
    for line in lines:
        by_type[line.event["type"].removeprefix(TYPE_PREFIX)].append(line.event)
    for short, events in by_type.items():
        for event in events:  # every field present (nullable ones as null in JSON)
            assert set(event["data"]) == set(PAYLOADS[short]) or short == "vehicle.telemetry.v1", (
                short,
                event,
            )
    telemetry = pl.DataFrame([e["data"] for e in by_type["vehicle.telemetry.v1"]], schema=TELEMETRY)
    assert telemetry["vehicle_id"].str.contains(r"^[A-Z]{2}\d{6}$").all()
    assert set(telemetry["vehicle_type"]) == set(VEHICLE_TYPES) and set(telemetry["status"]) <= set(
        VEHICLE_STATUSES
    )
    assert {"available", "in_use", "charging"} <= set(telemetry["status"])
    assert telemetry["battery_level"].is_between(0, 100).all() and (telemetry["speed_kmh"] >= 0).all()
    assert telemetry["latitude"].is_between(-90, 90).all() and (telemetry["odometer_km"] >= 0).all()
    assert telemetry.filter(pl.col("status") == "in_use")["speed_kmh"].mean() > 5
    assert all(e["source"] == f"/vehicles/{e['data']['vehicle_id']}" for e in by_type["vehicle.telemetry.v1"])
    created = by_type["booking.created.v1"]
    assert created and {e["data"]["customer_segment"] for e in created} <= set(CUSTOMER_SEGMENTS)
    assert all(re.match(r"^u-\d{6}$", e["data"]["user_id"]) for e in created)
    currency = {city.name: city.currency for city in CITIES}
    completed = {e["data"]["booking_id"]: e["data"] for e in by_type["booking.completed.v1"]}
    assert completed and all(
        d["currency"] == currency[d["city"]] and d["fare_amount"] > 0 for d in completed.values()
    )
    captured = [e["data"] for e in by_type["payment.captured.v1"]]
    assert captured and {p["method"] for p in captured} <= set(PAYMENT_METHODS)
    for payment in captured:
        booking = completed.get(payment["booking_id"])
        if booking is not None:
            assert (payment["user_id"], payment["amount"], payment["currency"]) == (
                booking["user_id"],
                booking["fare_amount"],
                booking["currency"],
            )
    app = [e["data"] for e in by_type["app.interaction.v1"]]
    assert {a["action"] for a in app} <= set(APP_ACTIONS) and {a["device_os"] for a in app} <= set(
        DEVICE_OSES
    )
    assert {a["user_id"] for a in app} & {e["data"]["user_id"] for e in created}, (
        "sessions and bookings share users"
    )
    profiles = [e["data"] for e in by_type["customer.profile_updated.v1"]]
    assert profiles and all(re.match(r"^[a-z._0-9]+@[a-z.]+\.(com|org|net)$", p["email"]) for p in profiles)
    assert all(re.match(r"^\+\d{1,3}( \d+)+$", p["phone"]) for p in profiles)
    weather = [e["data"] for e in by_type["weather.observation.v1"]]
    assert len(weather) == 3 * len(CITIES) and {w["condition"] for w in weather} <= set(WEATHER_CONDITIONS)


def observed_defects(lines: list[Line]) -> Counter[str]:
    """Content defects as a consumer sees them, each distinct event counted once (copies repeat it)."""
    seen, found = set(), Counter()
    for line in lines:
        event = line.event
        if event is None or json.dumps(event, sort_keys=True) in seen:
            continue
        seen.add(json.dumps(event, sort_keys=True))
        short = event["type"].removeprefix(TYPE_PREFIX)
        if event["type"] not in TOPICS_BY_NAME[line.topic].full_types:
            found["unknown_type"] += 1
        elif (
            "time" not in event
            or "id" not in event
            or set(PAYLOADS[short]) - set(event["data"]) - NULLABLE.get(short, set())
        ):
            found["missing_field"] += 1
        elif any(_out_of_range(name, value) for name, value in event["data"].items()):
            found["out_of_range"] += 1
    return found


# the contract's nullable fields (a null may come out of a reader as an absent key)
NULLABLE = {
    "booking.created.v1": {"promo_code"},
    "return.completed.v1": {"bay_id"},
    "app.interaction.v1": {"latitude", "longitude"},
}


def _out_of_range(name: str, value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool) or name == "temperature_c":
        return False
    if "latitude" in name or "longitude" in name:
        return abs(value) > (90 if "latitude" in name else 180)
    return value < 0 or (name == "battery_level" and value > 100)


def test_defects_come_in_the_shares_asked_for(tmp_path: Path) -> None:
    shares = DefectShares(
        duplicate=0.05, late=0.06, malformed=0.03, out_of_range=0.03, unknown_type=0.02, missing_field=0.03
    )
    summary = run(tmp_path, hours=3, vehicles=30, defects=shares)
    lines = landed(tmp_path)
    before_last = sum(1 for line in lines if line.event_hour and line.event_hour < START + timedelta(hours=2))
    jsonl = sum(1 for line in lines if line.raw is not None)
    expected = {
        "duplicate": summary.events * shares.duplicate,
        "late": before_last * shares.late,
        "malformed": jsonl * shares.malformed,
        "out_of_range": summary.events * shares.out_of_range,
        "unknown_type": summary.events * shares.unknown_type,
        "missing_field": summary.events * shares.missing_field,
    }
    assert summary.events > 4000
    for kind, mean in expected.items():
        assert abs(summary.defects[kind] - mean) < 4 * math.sqrt(mean) + 0.1 * mean, (
            kind,
            summary.defects,
            mean,
        )
    observed = observed_defects(lines)  # a broken line hides the defect it carried, so a little fewer
    for kind in ("out_of_range", "unknown_type", "missing_field"):
        assert 0.85 * summary.defects[kind] <= observed[kind] <= summary.defects[kind], (
            kind,
            observed,
            summary,
        )


def test_late_events_sit_in_a_later_folder(default: Landing) -> None:
    summary, lines = default.summary, default.lines
    first_folder: dict[tuple[str, str], datetime] = {}
    for line in lines:
        if line.identity and line.event_hour:
            first_folder[line.identity] = min(first_folder.get(line.identity, line.hour), line.hour)
    event_hour = {line.identity: line.event_hour for line in lines if line.identity and line.event_hour}
    late = [key for key, folder in first_folder.items() if folder > event_hour[key]]
    assert (
        summary.defects["late"] > 0
        and abs(len(late) - summary.defects["late"]) <= summary.defects["late"] * 0.05 + 5
    )
    assert all(first_folder[key] > event_hour[key] for key in late)
    assert not any(folder < event_hour[key] for key, folder in first_folder.items()), (
        "an event arrived before it happened"
    )
    assert {line.topic for line in lines if line.identity in set(late)} >= {
        "veh.events.raw",
        "customers.app_events",
    }


def test_duplicates_repeat_identity_and_payload_across_files_and_hours(default: Landing) -> None:
    summary, lines = default.summary, default.lines
    copies = defaultdict(list)
    for line in lines:
        if line.identity:
            copies[line.identity].append(line)
    repeated = {key: found for key, found in copies.items() if len(found) > 1}
    assert (
        abs(sum(len(f) - 1 for f in repeated.values()) - summary.defects["duplicate"])
        <= summary.defects["malformed"] + 2
    )
    for found in repeated.values():
        assert all(line.event == found[0].event for line in found), "a redelivery changed the event"
    assert any(
        len({line.file for line in found}) > 1 and len({line.hour for line in found}) == 1
        for found in repeated.values()
    )
    assert any(len({line.hour for line in found}) > 1 for found in repeated.values())
    assert {found[0].topic for found in repeated.values()} >= {"veh.events.raw", "customers.app_events"}


def test_every_topic_and_format_lands_and_telemetry_parquet_has_a_struct_payload(default: Landing) -> None:
    lines = default.lines
    assert {line.topic for line in lines} == {topic.name for topic in TOPICS}
    suffixes = {
        (line.topic, next(s for s in ("jsonl", "jsonl.gz", "parquet") if line.file.endswith("." + s)))
        for line in lines
    }
    assert {s for _, s in suffixes} == {"jsonl", "jsonl.gz", "parquet"}
    assert ("veh.events.raw", "parquet") in suffixes and ("veh.events.raw", "jsonl.gz") in suffixes
    root = default.root
    telemetry = next(root.rglob("veh.events.raw-*.parquet"))
    schema = pl.read_parquet_schema(telemetry)
    assert (
        schema["data"] == pl.Struct(TELEMETRY) and schema["id"] == pl.String and schema["time"] == pl.String
    )
    other = next(p for p in root.rglob("*.parquet") if not p.name.startswith("veh.events.raw"))
    assert pl.read_parquet_schema(other)["data"] == pl.String


AVRO_TOPICS = ("veh.events.raw", "domain.events")


def test_format_avro_writes_a_topics_events_as_avro_containers_of_every_codec(tmp_path, default, monkeypatch):
    """The same files, events and bytes on every run, in Avro; only JSON lines can carry malformed lines."""
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path))
    argv = ["simulate", "--start", f"{START:%Y-%m-%dT%H:%M}", "--hours", "5", "--vehicles", "60"]
    assert main([*argv, *(f"--format={topic}=avro" for topic in AVRO_TOPICS)]) == 0
    lines = landed(tmp_path)
    for topic in AVRO_TOPICS:
        avro = [line for line in lines if line.topic == topic]
        plain = [line for line in default.lines if line.topic == topic]
        assert {line.file for line in avro} == {
            re.sub(r"\.(jsonl|jsonl\.gz|parquet)$", ".avro", line.file) for line in plain
        }
        assert len(avro) == len(plain) and all(line.file.endswith(".avro") for line in avro)
        events = Counter(json.dumps(line.event, sort_keys=True) for line in avro)
        readable = Counter(json.dumps(line.event, sort_keys=True) for line in plain if line.event is not None)
        assert readable <= events  # every event a JSON line kept readable, and the broken ones whole
    others = [line for line in lines if line.topic not in AVRO_TOPICS]
    assert others == [line for line in default.lines if line.topic not in AVRO_TOPICS]
    codecs = set()
    for path in tmp_path.rglob("*.avro"):
        with path.open("rb") as file:
            codecs.add(fastavro.reader(file).codec)
    assert codecs == {"null", "deflate", "snappy", "zstandard"}
    first = tree(tmp_path / "landing")
    shutil.rmtree(tmp_path / "landing")
    assert main([*argv, *(f"--format={topic}=avro" for topic in AVRO_TOPICS)]) == 0
    assert tree(tmp_path / "landing") == first


def test_reference_data_covers_every_simulated_city(clean: Landing) -> None:
    events = [line.event for line in clean.lines]
    features = json.loads((REFERENCE / "zones.geojson").read_text(encoding="utf-8"))["features"]
    assert len({f["properties"]["zone_id"] for f in features}) == len(features)
    zones_per_city = Counter(f["properties"]["city"] for f in features)
    cities = {e["data"]["city"] for e in events if "city" in e["data"]}
    assert len(cities) >= 5 and all(6 <= zones_per_city[city] <= 10 for city in cities)
    currencies = {
        (e["data"]["city"], e["data"]["currency"])
        for e in events
        if "currency" in e["data"] and "city" in e["data"]
    }
    assert len(currencies) == len(dict(currencies)), "one currency per city"
    assert len({c for _, c in currencies} - {"EUR"}) >= 3
    with open(REFERENCE / "fx_rates.csv", newline="") as handle:
        rates = list(csv.DictReader(handle))
    days = Counter(row["currency"] for row in rates)
    assert {c for _, c in currencies} | {"EUR"} <= set(days)
    assert set(days.values()) == {(date(2027, 12, 31) - date(2025, 1, 1)).days + 1}, "a rate every day"
    assert all(float(row["eur_rate"]) == 1.0 for row in rates if row["currency"] == "EUR")
    rings = [(f["properties"]["city"], f["geometry"]["coordinates"][0]) for f in features]
    positions = [(e["data"]["city"], e["data"]["longitude"], e["data"]["latitude"])
                 for e in events if e["type"].endswith("vehicle.telemetry.v1")][::7]  # fmt: skip
    inside = sum(any(city == c and _contains(ring, x, y) for c, ring in rings) for city, x, y in positions)
    assert 0.9 < inside / len(positions) < 1.0, "vehicles are mostly, not all, inside zones"


def test_reference_files_are_what_the_city_table_generates() -> None:
    """data/reference is generated (python -m mobility_lake.simulate.reference): no hand edits drift from it."""
    assert (REFERENCE / "zones.geojson").read_text(encoding="utf-8") == zones_geojson()
    assert (REFERENCE / "fx_rates.csv").read_text(encoding="utf-8") == fx_rates_csv()


def test_a_start_that_is_not_a_whole_hour_is_refused(tmp_path: Path) -> None:
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    with pytest.raises(ValueError, match="whole UTC hour"):
        simulate(lake, START.replace(minute=30), 1)
    assert not (tmp_path / "landing").exists()


def _contains(ring: list[list[float]], x: float, y: float) -> bool:
    """Ray casting point-in-polygon."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside
