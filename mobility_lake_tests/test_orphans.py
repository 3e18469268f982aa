"""Nothing left behind (issue 12, finding 5): data files that no commit refers to are removed by the next run,
once older than an hour; tombstones that time travel reads, and files a writer may still commit, stay."""

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mobility_lake import data_files
from mobility_lake.cli import _materialize
from mobility_lake.definitions import build_definitions
from mobility_lake.orphans import remove_unreferenced, unreferenced_files
from mobility_lake.settings import load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import in_process_runs

H = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROWS = pl.DataFrame({"n": [1, 2], "day": ["2026-03-10"] * 2})


def age(path: Path, hours: float) -> None:
    then = time.time() - hours * 3600
    os.utime(path, (then, then))


def test_only_unreferenced_files_older_than_an_hour_are_removed(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    for n in (1, 2):  # the second write leaves the first file as a tombstone, which time travel reads
        lake.replace_where("gold", "t", ROWS.with_columns(pl.col("n") * n), "day = '2026-03-10'", ["day"])
    partition = tmp_path / "gold" / "t" / "day=2026-03-10"
    for name in (
        "part-left-by-a-crash.parquet",
        "part-x.parquet.tmp-writing",
        "part-being-committed.parquet",
    ):
        (partition / name).write_bytes(b"PAR1")
    for path in partition.iterdir():
        if path.name != "part-being-committed.parquet":
            age(path, 2)

    assert unreferenced_files(lake, "gold", "t") == [
        "day=2026-03-10/part-left-by-a-crash.parquet",
        "day=2026-03-10/part-x.parquet.tmp-writing",
    ]
    assert remove_unreferenced(lake, "gold", "t") == 2
    assert (partition / "part-being-committed.parquet").exists()
    table = lake.delta_table("gold", "t")
    assert pl.read_delta(table.table_uri, version=1)["n"].to_list() == [1, 2]
    assert lake.read("gold", "t")["n"].to_list() == [2, 4]
    assert unreferenced_files(lake, "gold", "t", min_age=timedelta(0)) == [
        "day=2026-03-10/part-being-committed.parquet"
    ]


def test_unreferenced_objects_are_removed_on_s3(s3_env):
    lake = Lake(load_settings(s3_env))
    lake.replace_where("gold", "t", ROWS, "day = '2026-03-10'", ["day"])
    lake.replace_where("gold", "t", ROWS, "day = '2026-03-10'", ["day"])
    lake.write_bytes("gold/t/day=2026-03-10/part-left-by-a-crash.parquet", b"PAR1")

    assert unreferenced_files(lake, "gold", "t") == []  # just written: a writer may still commit it
    assert remove_unreferenced(lake, "gold", "t", min_age=timedelta(0)) == 1
    assert unreferenced_files(lake, "gold", "t", min_age=timedelta(0)) == []
    assert lake.read("gold", "t").height == 2


def test_files_a_killed_run_wrote_are_removed_by_a_later_run(tmp_path, monkeypatch):
    """A run that dies between writing silver's files and committing them (as under kill -9, which runs no
    clean-up) leaves them behind; the next run of the hour, an hour or more later, removes them."""
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path), "MOBILITY_LAKE_START": "2026-03-01-00:00"})
    lake = Lake(settings)
    simulate(lake, H, 1, vehicles=40, seed=3, defects=DefectShares.none())
    silver = tmp_path / "silver" / "booking_events"

    with dg.instance_for_test() as instance:
        defs = build_definitions(settings)

        def materialize() -> None:
            _materialize(settings, H, H + HOUR, instance, runs=lambda: in_process_runs(defs, instance))

        materialize()
        rows = lake.read("silver", "booking_events").sort("event_source", "event_id")

        def die(*_: object, **__: object) -> None:
            raise SystemExit("killed")

        with monkeypatch.context() as killed:
            killed.setattr(data_files, "commit_window", die)
            killed.setattr(Lake, "_remove_files", lambda *_: None)
            with pytest.raises(SystemExit):
                lake.replace_window_streaming(
                    "silver", "booking_events", rows.schema, lambda: [rows], "event_time", H, H + HOUR, "date"
                )
        left = unreferenced_files(lake, "silver", "booking_events", min_age=timedelta(0))
        assert left, "the interrupted write left no file: the test does not reproduce a crash"
        for path in silver.rglob("*.parquet"):
            age(path, 2)

        materialize()
        assert unreferenced_files(lake, "silver", "booking_events", min_age=timedelta(0)) == []
        assert not any((silver / path).exists() for path in left)
        assert lake.read("silver", "booking_events").sort("event_source", "event_id").equals(rows)
