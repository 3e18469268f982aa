"""Replay: archived events written back in the landing layout rebuild the same silver in an empty lake."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest

from mobility_lake.cli import main
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gdpr.keys import all_keys
from mobility_lake.governance.retention import apply_retention
from mobility_lake.replay import replay
from mobility_lake.settings import load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

START = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOURS = [START, START + timedelta(hours=1)]
FIRST = START - timedelta(days=1)
WHERE_LANDED = ["landing_file", "ingested_at"]  # where and when a copy landed: a replay's differ


def lake_at(root: Path) -> Lake:
    return Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Lake:
    lake = lake_at(tmp_path_factory.mktemp("replay") / "lake")
    defects = DefectShares(duplicate=0.05, malformed=0.03, out_of_range=0.03)
    simulate(lake, START, len(HOURS), vehicles=10, seed=4, defects=defects)
    bronze_and_silver(lake, HOURS, FIRST)
    return lake


def silver_rows(lake: Lake, layer: str, table: str) -> pl.DataFrame:
    frame = lake.read(layer, table).drop(WHERE_LANDED, strict=False)
    return frame.sort(frame.columns, nulls_last=True)


def test_a_replay_rebuilds_the_same_silver_in_an_empty_lake(original, tmp_path):
    rebuilt = lake_at(tmp_path / "rebuilt")
    for topic in TOPICS:
        replay(
            original, topic.name, START, START + timedelta(hours=2), tmp_path / "rebuilt" / "landing", print
        )
    # The same subject keys, as a lake restored from its backup has: masks and sealing match.
    shutil.copytree(Path(original.root) / "keys", tmp_path / "rebuilt" / "keys")

    bronze_and_silver(rebuilt, HOURS, FIRST)

    for table in SILVER_TABLES:
        for layer in ("silver", "quarantine"):
            mine, theirs = silver_rows(rebuilt, layer, table.name), silver_rows(original, layer, table.name)
            assert mine.height == theirs.height > 0 or layer == "quarantine"
            assert mine.equals(theirs), f"{layer}.{table.name}"


def test_each_file_keeps_its_lines_in_order_and_unparsed_lines_as_they_landed(original, tmp_path):
    topic = TOPICS[0]  # veh.events.raw: the most lines, some of them malformed
    done = replay(original, topic.name, START, START + timedelta(hours=2), tmp_path, lambda _: None)

    bronze = original.read("bronze", topic.bronze_table).filter(pl.col("arrival_hour").is_in(HOURS))
    assert done.files == bronze["landing_file"].n_unique()
    assert done.events + done.unparsed_lines == bronze["record_number"].count()
    assert done.unparsed_lines == bronze.filter(pl.col("raw").is_not_null()).height > 0
    for (landing_file,), rows in bronze.partition_by("landing_file", as_dict=True).items():
        name = landing_file.removeprefix("landing/")
        lines = (tmp_path / (name if name.endswith(".jsonl") else f"{name}.jsonl")).read_bytes().splitlines()
        rows = rows.sort("record_number")
        assert len(lines) == rows.height == rows["record_number"].max()
        for line, (event_id, raw) in zip(lines, rows.select("id", "raw").iter_rows(), strict=True):
            assert line.decode() == raw if raw is not None else orjson.loads(line)["id"] == event_id


def test_an_erased_subjects_personal_values_stay_unreadable(original, tmp_path):
    lake = lake_at(tmp_path / "lake")
    shutil.copytree(original.root, lake.root)
    keys = all_keys(lake)
    user = keys["user_id"][0]
    lake.delete_where("keys", "subject_keys", f"user_id = '{user}'")  # what erasure does to bronze

    topic = next(t for t in TOPICS if t.bronze_table == "app_events")
    replay(lake, topic.name, START, START + timedelta(hours=2), tmp_path / "out", lambda _: None)
    written = b"".join(p.read_bytes() for p in (tmp_path / "out").rglob("*.jsonl"))

    assert user.encode() not in written
    assert keys["user_id"][1].encode() in written  # another subject's values are opened


def test_archived_hours_are_replayed_like_bronze_ones(original, tmp_path):
    lake = lake_at(tmp_path / "lake")
    shutil.copytree(original.root, lake.root)
    before = replay(
        lake, "external.weather", START, START + timedelta(hours=2), tmp_path / "a", lambda _: None
    )
    apply_retention(lake, START + timedelta(days=200), lake.settings.retention, None, False, lambda _: None)
    assert lake.read("bronze", "weather").is_empty()

    after = replay(
        lake, "external.weather", START, START + timedelta(hours=2), tmp_path / "b", lambda _: None
    )

    assert (after.files, after.events) == (before.files, before.events) and after.events > 0
    for path in (tmp_path / "a").rglob("*.jsonl"):
        assert (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes() == path.read_bytes()


def test_the_command_refuses_an_unknown_topic_and_a_backwards_range(original, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", original.root)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    hours = ["--start", "2026-03-10T08:00", "--end", "2026-03-10T10:00", "--out", str(tmp_path / "out")]
    assert main(["replay", "--topic", "kafka.nothing", *hours]) == 2
    assert "no topic 'kafka.nothing': expected one of veh.events.raw" in capsys.readouterr().err
    assert (
        main(["replay", "--topic", "external.weather", *hours[:2], "--end", "2026-03-10T07:00", *hours[4:]])
        == 2
    )
    assert "--end must be after --start" in capsys.readouterr().err
    assert main(["replay", "--topic", "external.weather", *hours]) == 0
    assert "replayed external.weather 2026-03-10T08:00 .. 2026-03-10T10:00" in capsys.readouterr().out
    (entry,) = original.read("audit", "query_log").filter(pl.col("action") == "replay").iter_rows(named=True)
    assert (entry["tables"], entry["outcome"], entry["rows"] > 0) == (["bronze.weather"], "ok", True)
