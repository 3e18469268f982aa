"""Column lineage: the committed `columns.json` is what the code does, it says what the contract implies,
Dagster gets it for every asset, and `mobility-lake lineage` prints it down to the landing topics."""

import json

import dagster as dg
import pytest

from mobility_lake.cli import main
from mobility_lake.definitions import build_definitions
from mobility_lake.lineage import column_lineage
from mobility_lake.lineage.model import LINEAGE_FILE
from mobility_lake.lineage.probe import probed_lineage
from mobility_lake.settings import load_settings

REGENERATE = "python -m mobility_lake.lineage"


@pytest.fixture(scope="module")
def probed() -> dict:
    return probed_lineage()


def test_the_committed_lineage_is_what_the_code_does(probed):
    committed = json.loads(LINEAGE_FILE.read_text())
    drift = sorted(
        f"{asset}.{column}"
        for asset in probed.keys() | committed.keys()
        for column in probed.get(asset, {}).keys() | committed.get(asset, {}).keys()
        if probed.get(asset, {}).get(column) != committed.get(asset, {}).get(column)
    )
    assert not drift, f"columns.json is out of date for {drift}: regenerate it with `{REGENERATE}`"


def upstream(asset: str, column: str) -> set[tuple[str, str]]:
    lineage = column_lineage(dg.AssetKey.from_user_string(asset))
    assert lineage is not None
    return {(d.asset_key.to_user_string(), d.column_name) for d in lineage.deps_by_column.get(column, [])}


@pytest.mark.parametrize(
    ("asset", "column", "expected"),
    [
        (
            "gold/demand_by_zone_hour",
            "booking_count",
            {("silver/booking_events", c) for c in ("event_type", "zone_id", "vehicle_type")},
        ),
        ("gold/demand_by_zone_hour", "avg_battery_level", {("silver/vehicle_telemetry", "battery_level")}),
        ("gold/demand_by_zone_hour", "zone_id", {("silver/booking_events", "zone_id")}),
        ("silver/vehicle_telemetry", "zone_id", {("bronze/vehicle_telemetry", "data_struct")}),
        ("silver/vehicle_telemetry", "event_type", {("bronze/vehicle_telemetry", "type")}),
        ("silver/payment_events", "amount_eur", {("bronze/payment_events", "data")}),
        ("silver/booking_events", "event_time", {("bronze/domain_events", "event_time")}),
        ("bronze/domain_events", "event_time", {("landing/domain_events", "time")}),
        ("bronze/domain_events", "event_hour", {("landing/domain_events", "time")}),
        ("bronze/vehicle_telemetry", "data_struct", {("landing/vehicle_telemetry", "data")}),
    ],
)
def test_lineage_holds_what_the_contract_implies(asset, column, expected):
    assert expected <= upstream(asset, column)


@pytest.mark.parametrize(
    ("asset", "column", "unexpected"),
    [
        ("gold/demand_by_zone_hour", "avg_battery_level", ("silver/booking_events", "zone_id")),
        ("gold/demand_by_zone_hour", "booking_count", ("silver/vehicle_telemetry", "zone_id")),
        ("silver/payment_events", "amount_eur", ("bronze/payment_events", "specversion")),
        ("silver/booking_events", "zone_id", ("bronze/domain_events", "error")),
    ],
)
def test_lineage_leaves_out_what_does_not_feed_a_column(asset, column, unexpected):
    assert unexpected not in upstream(asset, column)


def test_file_metadata_comes_from_no_landing_column():
    lineage = column_lineage(dg.AssetKey(["bronze", "domain_events"]))
    assert lineage is not None
    assert {"landing_file", "record_number", "ingested_at", "arrival_hour", "error"}.isdisjoint(
        lineage.deps_by_column
    )


def test_every_asset_carries_its_schema_and_lineage_to_columns_of_its_parents():
    defs = build_definitions(load_settings({}))
    graph = defs.resolve_asset_graph()
    tables = (
        spec for spec in defs.resolve_all_asset_specs() if spec.key.path[0] != "maintenance"
    )  # no columns
    specs = {spec.key: spec for spec in tables}
    schemas = {
        key: {c.name for c in spec.metadata["dagster/column_schema"].columns} for key, spec in specs.items()
    }
    for key, spec in specs.items():
        if key.path[0] in ("landing", "audit"):  # sources: nothing upstream in the graph
            continue
        lineage = spec.metadata["dagster/column_lineage"]
        assert set(lineage.deps_by_column) <= schemas[key], key
        for column, deps in lineage.deps_by_column.items():
            for dep in deps:
                assert dep.asset_key in graph.get(key).parent_keys, (key, column, dep)
                assert dep.column_name in schemas[dep.asset_key], (key, column, dep)


def test_cli_prints_a_gold_table_down_to_the_landing_topics(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    assert main(["lineage", "gold.demand_by_zone_hour"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("gold.demand_by_zone_hour\n")
    for expected in ("  booking_count\n", "silver.booking_events.zone_id", "bronze.domain_events.data"):
        assert expected in out
    assert "landing domain.events: data" in out and "landing veh.events.raw: data" in out


def test_cli_prints_one_column(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    assert main(["lineage", "gold.demand_by_zone_hour", "--column", "avg_battery_level"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "gold.demand_by_zone_hour",
        "  avg_battery_level",
        "    silver.vehicle_telemetry.battery_level",
    ]
    assert "      bronze.vehicle_telemetry.data_struct" in lines
    assert "        landing veh.events.raw: data" in lines
    assert not any("booking_count" in line for line in lines)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["lineage", "gold.nope"], "unknown table 'gold.nope': expected one of bronze.vehicle_telemetry"),
        (["lineage", "demand_by_zone_hour"], "gold.demand_by_zone_hour"),
        (
            ["lineage", "gold.demand_by_zone_hour", "--column", "nope"],
            "expected one of zone_id, vehicle_type",
        ),
    ],
)
def test_cli_rejects_a_bad_name_with_one_line_of_valid_names(argv, expected, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1
