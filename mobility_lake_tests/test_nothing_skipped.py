"""Nothing is skipped silently (issue 12, finding 7): files in an hour folder that are not landing files,
and events later than MOBILITY_LAKE_LATENESS_HOURS, are counted in the bronze run's metadata and printed by
`materialize`, which names the command that places the late events; that command places them."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from mobility_lake.cli import _materialize
from mobility_lake.definitions import build_definitions
from mobility_lake.landing import landing_key
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import in_process_runs

H = datetime(2026, 3, 10, 8, tzinfo=UTC)
LATE = H - timedelta(hours=100)  # beyond the default 72 h


def test_skipped_files_and_too_late_events_are_counted_printed_and_placeable(tmp_path, capsys):
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path), "MOBILITY_LAKE_START": "2026-03-01-00:00"})
    lake = Lake(settings)
    simulate(lake, H, 1, vehicles=60, seed=1, defects=DefectShares.none())
    booking = next(
        json.loads(line)
        for path in sorted((tmp_path / "landing" / "domain.events").rglob("*.jsonl"))
        for line in path.read_text().splitlines()
        if json.loads(line)["type"].startswith("com.mobilitycorp.booking.created")
    )
    late = {**booking, "id": "late-1", "time": f"{LATE:%Y-%m-%dT%H}:05:00Z"}
    lake.write_bytes(landing_key("domain.events", H, "late.jsonl"), json.dumps(late).encode() + b"\n")
    for name in ("notes.csv", "dump.json", "README"):
        lake.write_bytes(landing_key("domain.events", H, name), b"not events")

    with dg.instance_for_test() as instance:
        defs = build_definitions(settings)
        _materialize(
            settings, H, H + timedelta(hours=1), instance, runs=lambda: in_process_runs(defs, instance)
        )
        printed = capsys.readouterr().out
        assert "3 file(s) skipped (not .jsonl, .jsonl.gz, .parquet, .avro)" in printed
        command = f"mobility-lake materialize --start {LATE:%Y-%m-%dT%H:%M} --end {LATE + timedelta(hours=1):%Y-%m-%dT%H:%M}"
        assert (
            f"1 event(s) arrived more than 72 h after their hour and stay in bronze; place them with: {command}"
            in printed
        )
        (record,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(["bronze", "domain_events"])), limit=1
        ).records
        figures = {k: v.value for k, v in record.asset_materialization.metadata.items()}
        assert (figures["files_skipped"], figures["rows_too_late"]) == (3, 1)
        assert lake.read("silver", "booking_events").filter(pl.col("event_id") == "late-1").height == 0

        # the printed command places the late event
        _materialize(
            settings, LATE, LATE + timedelta(hours=1), instance, runs=lambda: in_process_runs(defs, instance)
        )
    assert lake.read("silver", "booking_events").filter(pl.col("event_id") == "late-1").height == 1
