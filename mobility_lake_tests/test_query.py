"""`mobility-lake query`: SQL over every table as layer.table, the same rows any Delta reader sees.

Run as `admin`, who reads every table; roles, masking and refusals are test_governance_query.py's."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mobility_lake.cli import main
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.query import run_query
from mobility_lake.settings import load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

START = datetime(2026, 3, 10, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("lake")
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))
    simulate(lake, START, 1, vehicles=10, seed=4, defects=DefectShares(malformed=0.05, out_of_range=0.02))
    bronze_and_silver(lake, [START], START - timedelta(days=1))
    return lake


def test_every_table_reads_the_same_rows_as_delta(lake):
    for layer, names in (
        ("bronze", [t.bronze_table for t in TOPICS]),
        ("silver", [t.name for t in SILVER_TABLES]),
    ):
        for name in names:
            counted = run_query(lake, f"select count(*) as n from {layer}.{name}", "admin", "tester")[
                "n"
            ].item()
            assert counted == lake.read(layer, name).height


def test_a_join_across_layers(lake):
    sql = """
        select q.reason, count(*) as rows, count(distinct b.landing_file) as files
        from quarantine.vehicle_telemetry q
        join bronze.vehicle_telemetry b on b.landing_file = q.landing_file and b.record_number = q.record_number
        group by q.reason order by q.reason
    """
    frame = run_query(lake, sql, "admin", "tester")
    expected = lake.read("quarantine", "vehicle_telemetry").group_by("reason").len().sort("reason")
    assert frame.select("reason", pl.col("rows").cast(pl.UInt32)).rows() == expected.rows()
    assert frame.height > 0


def test_cli_formats(lake, monkeypatch, capsys):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", lake.root)
    monkeypatch.setenv("MOBILITY_LAKE_ROLE", "admin")
    sql = "select city, count(*) as n from silver.weather group by city order by city"
    expected = lake.read("silver", "weather").group_by("city").len().sort("city").rows()
    assert main(["query", sql, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["city"], int(r["n"])) for r in rows] == expected
    assert main(["query", sql, "--format", "json"]) == 0
    assert [(r["city"], r["n"]) for r in json.loads(capsys.readouterr().out)] == expected
    assert main(["query", sql]) == 0
    assert f"({len(expected)} rows)" in capsys.readouterr().out


def test_cli_names_a_missing_table_and_lists_the_ones_there(lake, monkeypatch, capsys):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", lake.root)
    monkeypatch.setenv("MOBILITY_LAKE_ROLE", "admin")
    assert main(["query", "select * from gold.demand_by_zone_hour"]) == 2
    err = capsys.readouterr().err
    assert "no such table yet: gold.demand_by_zone_hour" in err and "silver.weather" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        ("select cast(data as int) from bronze.app_events", "data"),
        ("select data::struct(a int) from bronze.app_events", "data"),
        ("select cast(user_id as int) from silver.booking_events", "user_id"),
        ("select error(data) from bronze.app_events", None),
    ],
)
def test_an_error_raised_by_a_rows_value_shows_no_value(lake, monkeypatch, capsys, sql, column):
    """DuckDB quotes the value that failed (a payload with an e-mail and a phone); the message names the
    kind of error and the column only."""
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", lake.root)
    monkeypatch.setenv("MOBILITY_LAKE_ROLE", "admin")
    assert main(["query", sql]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "values are not shown" in err
    assert "@" not in err and "u-0" not in err and "{" not in err
    assert column is None or f"in column {column}" in err
