"""Silver hours through real Delta tables: chunking changes nothing, and re-runs are idempotent."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from deltalake import write_deltalake

from mobility_lake import parts
from mobility_lake.bronze import ingest
from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.settings import load_settings
from mobility_lake.silver.hour_rows import census
from mobility_lake.silver.identity import identity_hash
from mobility_lake.silver.pipeline import _read_back_silver, materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
DEFECTS = DefectShares(
    duplicate=0.05, late=0.05, malformed=0.01, out_of_range=0.01, unknown_type=0.01, missing_field=0.01
)


def silver_lake(root, chunk_rows: int, monkeypatch, file_per_landing_file: bool = False) -> tuple[Lake, list]:
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))
    simulate(lake, START, 2, vehicles=8, seed=21, defects=DEFECTS)
    hours = [START, START + timedelta(hours=1)]
    with monkeypatch.context() as patched:
        if file_per_landing_file:  # a bronze data file per landing file: parts of several files
            patched.setattr(ingest, "BATCH_BYTES", 1)
        for topic in TOPICS:
            ingest_hours(lake, topic.bronze_table, hours)
    monkeypatch.setattr(parts, "PART_ROWS", chunk_rows)
    figures = [
        materialize_hour(lake, SILVER_BY_NAME["vehicle_telemetry"], h, FIRST, reference_data()) for h in hours
    ]
    return lake, figures


def content(lake: Lake, layer: str) -> pl.DataFrame:
    frame = lake.read(layer, "vehicle_telemetry").drop("ingested_at")
    return frame.sort(frame.columns, nulls_last=True)


@pytest.mark.parametrize(
    ("chunk_rows", "split_by_source"),
    [(150, False), (20, True)],
    ids=["parts of bronze files, repeated identities together", "repeats past a part: split by source"],
)
def test_chunked_hours_give_the_same_tables_and_figures_as_whole_hours(
    tmp_path, monkeypatch, chunk_rows, split_by_source
):
    whole, whole_figures = silver_lake(tmp_path / "whole", 10_000_000, monkeypatch)
    chunked, chunked_figures = silver_lake(tmp_path / "chunked", chunk_rows, monkeypatch, True)
    plan, _ = census(chunked, SILVER_BY_NAME["vehicle_telemetry"], START, FIRST)
    assert plan.repeated.len() > 0 and plan.rows > 2 * chunk_rows
    if split_by_source:
        assert plan.file_parts == []
    else:  # several parts, and the repeated identities' copies lie in different files
        assert len(plan.file_parts) >= 3
        copies = plan.scan.filter(identity_hash().is_in(plan.repeated.implode())).collect()
        assert copies.group_by("source", "id").agg(pl.col("landing_file").n_unique() > 1).to_series(2).any()
    assert content(chunked, "silver").equals(content(whole, "silver"))
    assert content(chunked, "quarantine").equals(content(whole, "quarantine"))
    for a, b in zip(whole_figures, chunked_figures, strict=True):
        assert (a.bronze_rows, a.silver_rows, a.quarantine_rows, a.duplicates) == (
            b.bronze_rows, b.silver_rows, b.quarantine_rows, b.duplicates,
        )  # fmt: skip
        assert b.conserved and b.duplicates > 0 and b.repeated_identities == 0


def test_rerunning_an_hour_changes_nothing(tmp_path, monkeypatch):
    lake, _ = silver_lake(tmp_path, 300, monkeypatch)
    before = content(lake, "silver"), content(lake, "quarantine")
    again = materialize_hour(lake, SILVER_BY_NAME["vehicle_telemetry"], START, FIRST, reference_data())
    assert again.conserved
    assert content(lake, "silver").equals(before[0]) and content(lake, "quarantine").equals(before[1])


@pytest.mark.parametrize("table", ["weather", "payment_events"])
def test_an_hour_with_no_bronze_table_yet_writes_empty_windows(tmp_path, table):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    figures = materialize_hour(lake, SILVER_BY_NAME[table], START, FIRST, reference_data())
    assert (figures.bronze_rows, figures.silver_rows, figures.quarantine_rows) == (0, 0, 0)
    assert lake.read("silver", table).height == 0


def test_an_hour_after_every_bronze_file_writes_empty_windows(tmp_path, monkeypatch):
    lake, _ = silver_lake(tmp_path, 10_000_000, monkeypatch)
    later = START + timedelta(days=3)  # bronze holds files, none of this arrival date or later
    figures = materialize_hour(lake, SILVER_BY_NAME["vehicle_telemetry"], later, FIRST, reference_data())
    assert (figures.bronze_rows, figures.silver_rows, figures.quarantine_rows) == (0, 0, 0)
    assert figures.conserved


def test_an_identity_written_twice_is_counted_from_the_table(tmp_path, monkeypatch):
    lake, figures = silver_lake(tmp_path, 10_000_000, monkeypatch)
    uri = lake.table_uri("silver", "vehicle_telemetry")
    written = lake.read("silver", "vehicle_telemetry").filter(
        pl.col("event_time") < START + timedelta(hours=1)
    )
    write_deltalake(uri, written.head(3).to_arrow(), mode="append", partition_by=["date"])
    rows, repeated = _read_back_silver(lake, SILVER_BY_NAME["vehicle_telemetry"], START)
    assert (rows, repeated) == (figures[0].silver_rows + 3, 6)  # three identities, each on two rows
