"""Schema evolution: a payload field declared later becomes a silver column without rewriting history, and a
field whose type changes is quarantined, with no failed run."""

import orjson
import polars as pl
import pytest

from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import PAYLOADS
from mobility_lake.landing import landing_key
from mobility_lake.settings import load_settings
from mobility_lake.silver import tables
from mobility_lake.storage import Lake
from mobility_lake_tests.silver.test_identity import H8, H9, land, materialize
from mobility_lake_tests.silver.test_transforms import event

TELEMETRY = "vehicle_telemetry"


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))


def at(hour, n: int, **changes) -> dict:
    return event(TELEMETRY, n=n, time=f"{hour:%Y-%m-%dT%H}:10:00.000Z", **changes)


def test_a_field_declared_later_is_a_new_column_null_in_older_rows_which_stay_as_written(lake, monkeypatch):
    land(lake, TELEMETRY, H8, "a.jsonl", [at(H8, 1), at(H8, 2)])
    materialize(lake, TELEMETRY, [H8])
    files_before = set(lake.delta_table("silver", TELEMETRY).file_uris())

    # The catalogue declares `firmware_version` (optional) for telemetry; events start to carry it.
    monkeypatch.setitem(
        PAYLOADS, "vehicle.telemetry.v1", {**PAYLOADS["vehicle.telemetry.v1"], "firmware_version": pl.String}
    )
    monkeypatch.setitem(tables.OPTIONAL_FIELDS, "vehicle.telemetry.v1", ("firmware_version",))
    land(lake, TELEMETRY, H9, "b.jsonl", [at(H9, 3, data={"firmware_version": "4.2.0"}), at(H9, 4)])
    (figures,) = materialize(lake, TELEMETRY, [H9]).values()

    assert (figures.silver_rows, figures.quarantine_rows, figures.schema_failures) == (2, 0, {})
    silver = lake.read("silver", TELEMETRY).sort("event_id")
    assert silver["firmware_version"].to_list() == [None, None, "4.2.0", None]
    assert files_before <= set(lake.delta_table("silver", TELEMETRY).file_uris())  # H8's files untouched
    assert materialize(lake, TELEMETRY, [H8])[H8].silver_rows == 2  # and an old hour re-runs


def test_a_field_whose_type_changes_goes_to_quarantine_as_invalid_type(lake):
    land(lake, TELEMETRY, H8, "a.jsonl", [at(H8, 1), at(H8, 2, data={"battery_level": "85%"})])

    (figures,) = materialize(lake, TELEMETRY, [H8]).values()

    assert (figures.silver_rows, figures.quarantine_rows) == (1, 1)
    (row,) = lake.read("quarantine", TELEMETRY).select("event_id", "reason").iter_rows()
    assert row == ("e-2", "invalid_type")


def test_a_field_not_declared_is_kept_in_bronze_counted_in_the_run_and_left_out_of_silver(lake):
    events = [
        at(H8, 1, data={"tyre_pressure_bar": 2.1}),
        at(H8, 2, data={"tyre_pressure_bar": 2.0}),
        at(H8, 3),
    ]
    lake.write_bytes(
        landing_key("veh.events.raw", H8, "a.jsonl"), b"\n".join(orjson.dumps(e) for e in events)
    )

    report = ingest_hours(lake, TELEMETRY, [H8])
    (figures,) = materialize(lake, TELEMETRY, [H8]).values()

    assert report.undeclared == {"tyre_pressure_bar (vehicle.telemetry.v1)": 2}
    assert figures.silver_rows == 3
    assert lake.read("bronze", TELEMETRY)["data"].str.contains("tyre_pressure_bar").sum() == 2
    assert "tyre_pressure_bar" not in lake.read("silver", TELEMETRY).columns
