"""End to end through Dagster on simulated data with every defect type, on a local root and on S3.

The same scenario runs on both roots: simulate, materialize every layer through a persistent Dagster
instance, re-run, land one more file, materialize again. The runs are made in the test process, by the same
plan `mobility-lake materialize` follows (test_runs.py and test_daemon.py launch them as the CLI does).
"""

import gzip
import io
from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest

from mobility_lake.definitions import build_definitions
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.landing import landing_key
from mobility_lake.orchestration import runs
from mobility_lake.orchestration.jobs import BRONZE_JOB, SILVER_JOB
from mobility_lake.orchestration.runs import RunFailed, persistent_instance
from mobility_lake.settings import load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import in_process_runs

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
HOURS = 3
END = START + timedelta(hours=HOURS)
DEFECTS = DefectShares(
    duplicate=0.03, late=0.05, malformed=0.01, out_of_range=0.01, unknown_type=0.01, missing_field=0.01
)


def landed_records(lake: Lake) -> int:
    """Lines (JSON) and rows (Parquet) of every landing file, counted independently of the ingest code."""
    total = 0
    for info in lake.list_files("landing"):
        payload = lake.read_bytes(info.key)
        if info.key.endswith(".parquet"):
            total += pq.read_metadata(io.BytesIO(payload)).num_rows
            continue
        text = gzip.decompress(payload) if info.key.endswith(".gz") else payload
        total += text.count(b"\n") + (0 if not text or text.endswith(b"\n") else 1)
    return total


def table_rows(lake: Lake, layer: str, names: list[str]) -> int:
    return sum(lake.read(layer, name).height for name in names)


def run_scenario(env: dict[str, str], tmp_path, monkeypatch, vehicles: int) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    # The defect shares are far above real life, so the quarantine threshold is raised to match.
    env = {**env, "MOBILITY_LAKE_MAX_QUARANTINE_SHARE": "0.25"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    lake = Lake(settings)
    summary = simulate(lake, START, HOURS, vehicles=vehicles, seed=11, defects=DEFECTS)
    assert all(
        summary.defects[kind] > 0
        for kind in ("duplicate", "late", "malformed", "out_of_range", "unknown_type", "missing_field")
    )
    with persistent_instance() as instance:
        check_scenario(lake, settings, instance, summary)


def materialize(settings, start, end, instance):
    defs = build_definitions(settings)
    return runs.materialize(settings, start, end, instance, runs=lambda: in_process_runs(defs, instance))


def check_scenario(lake, settings, instance, summary) -> None:
    chunks = materialize(settings, START, END, instance)
    assert all(not c.failed_checks for c in chunks)
    assert {c.job for c in chunks} == {BRONZE_JOB, SILVER_JOB, "gold_hourly", "gold_daily", "gold_weekly"}

    bronze_names = [t.bronze_table for t in TOPICS]
    silver_names = [t.name for t in SILVER_TABLES]
    bronze_rows = table_rows(lake, "bronze", bronze_names)
    assert bronze_rows == landed_records(lake) == summary.lines

    # Conservation over the whole run: bronze = silver + quarantine + duplicates (redelivered copies).
    silver_rows = table_rows(lake, "silver", silver_names)
    quarantined = table_rows(lake, "quarantine", silver_names)
    duplicates = 0
    for name in bronze_names:
        identified = lake.read("bronze", name).drop_nulls(["id", "source"])
        duplicates += identified.height - identified.select("source", "id").n_unique()
    assert bronze_rows == silver_rows + quarantined + duplicates
    assert quarantined > 0 and duplicates > 0

    # No identity twice, and late events sit in their own event hour.
    late_in_silver = 0
    for table in SILVER_TABLES:
        silver = lake.read("silver", table.name)
        assert silver.select("event_source", "event_id").is_duplicated().sum() == 0
        assert silver.select((pl.col("date") == pl.col("event_time").dt.date()).all()).item()
        arrivals = lake.read("bronze", table.bronze_table).select("source", "id", "arrival_hour")
        joined = silver.join(arrivals, left_on=["event_source", "event_id"], right_on=["source", "id"])
        late_in_silver += joined.filter(
            pl.col("arrival_hour") > pl.col("event_time").dt.truncate("1h")
        ).height
    assert late_in_silver > 0

    # No plaintext email or phone anywhere in silver.
    profiles = lake.read("bronze", "app_events").filter(pl.col("type").str.ends_with("profile_updated.v1"))
    secrets = set()
    for data in profiles["data"].drop_nulls():
        payload = orjson.loads(data)
        secrets |= {payload.get("email"), payload.get("phone")} - {None}
    assert secrets
    for table in SILVER_TABLES:
        frame = lake.read("silver", table.name)
        text = str(frame.select(pl.col(pl.String)).rows())
        assert not any(secret in text for secret in secrets)

    # Gold agrees with silver.
    bookings = lake.read("silver", "booking_events")
    created = bookings.filter(
        pl.col("event_type").str.ends_with("booking.created.v1") & pl.col("zone_id").is_not_null()
    )
    assert lake.read("gold", "demand_by_zone_hour")["booking_count"].sum() == created.height > 0
    completed = bookings.filter(pl.col("event_type").str.ends_with("booking.completed.v1"))
    gross = lake.read("gold", "revenue_by_vehicle_type_daily")["gross_revenue_eur"].sum()
    assert gross == pytest.approx(completed["fare_amount_eur"].sum())
    vehicles = lake.read("silver", "vehicle_telemetry")["vehicle_id"].n_unique()
    assert lake.read("gold", "vehicle_utilization_daily").height >= vehicles
    assert lake.read("gold", "battery_health_metrics_weekly")["vehicle_id"].n_unique() == vehicles
    assert lake.read("gold", "customer_journey_events").height > 0

    # A re-run adds nothing and changes nothing, in any layer.
    def snapshot() -> dict[str, pl.DataFrame]:
        frames = {f"silver.{t.name}": lake.read("silver", t.name).drop("ingested_at") for t in SILVER_TABLES}
        frames |= {f"gold.{m.name}": lake.read("gold", m.name) for m in MARTS}
        return {name: frame.sort(frame.columns, nulls_last=True) for name, frame in frames.items()}

    before = snapshot()
    materialize(settings, START, END, instance)
    assert table_rows(lake, "bronze", bronze_names) == bronze_rows
    after = snapshot()
    for name, frame in before.items():
        assert after[name].equals(frame), name

    # A new file in an already processed hour adds exactly its lines.
    hour = START + timedelta(hours=1)
    lines = [
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"extra-{i}",
                "source": "//weather-service",
                "type": "com.mobilitycorp.weather.observation.v1",
                "time": f"{hour:%Y-%m-%dT%H}:0{i}:00Z",
                "data": {
                    "city": "Berlin",
                    "temperature_c": 3.0,
                    "precipitation_mm": 0.0,
                    "wind_speed_kmh": 5.0,
                    "condition": "clear",
                },
            }
        )
        for i in range(4)
    ]
    lake.write_bytes(landing_key("external.weather", hour, "extra.jsonl"), b"\n".join(lines) + b"\n")
    materialize(settings, hour, hour + timedelta(hours=1), instance)
    assert table_rows(lake, "bronze", bronze_names) == bronze_rows + 4
    weather = lake.read("silver", "weather")
    assert weather.filter(pl.col("event_id").str.starts_with("extra-")).height == 4

    # Every run is recorded in the persistent instance, visible to `dagster dev`.
    assert len(instance.get_run_records()) >= 5


def test_end_to_end_on_a_local_root(tmp_path, monkeypatch):
    run_scenario({"MOBILITY_LAKE_ROOT": str(tmp_path / "lake")}, tmp_path, monkeypatch, vehicles=60)


@pytest.mark.s3
def test_end_to_end_on_s3(s3_env, tmp_path, monkeypatch):
    run_scenario(s3_env, tmp_path, monkeypatch, vehicles=30)


def test_a_failing_blocking_check_fails_the_run_and_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    env = {"MOBILITY_LAKE_ROOT": str(tmp_path / "lake"), "MOBILITY_LAKE_MAX_QUARANTINE_SHARE": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    simulate(Lake(settings), START, 1, vehicles=10, seed=5, defects=DEFECTS)
    with persistent_instance() as instance:
        with pytest.raises(RunFailed, match="silver_hourly"):
            materialize(settings, START, START + timedelta(hours=1), instance)
        failed = [r for r in instance.get_run_records() if r.dagster_run.job_name == SILVER_JOB]
        assert failed and failed[0].dagster_run.is_failure
