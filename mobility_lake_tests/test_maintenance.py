"""Maintenance passes: data unchanged, fewer files, time travel kept within its window, runs never lose rows."""

import os
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from mobility_lake.cli import main
from mobility_lake.gold.marts import MARTS
from mobility_lake.lake_lock import acquire, release
from mobility_lake.maintenance import ZORDERED_THROUGH, maintain, maintain_table, targets
from mobility_lake.orchestration.maintenance_run import KEY, maintenance_schedule
from mobility_lake.settings import load_settings
from mobility_lake.silver import pipeline
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

START = datetime(2026, 3, 10, 22, tzinfo=UTC)  # three hours over two days
HOURS = [START + timedelta(hours=n) for n in range(3)]
FIRST = START - timedelta(days=1)
CLOSED = START + timedelta(days=6)  # both days past the 72 h lateness window
TELEMETRY = SILVER_BY_NAME["vehicle_telemetry"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("maintenance") / "lake"
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))
    simulate(lake, START, len(HOURS), vehicles=12, seed=5)
    bronze_and_silver(lake, HOURS, FIRST)
    for mart in (m for m in MARTS if m.cadence == "hourly"):  # demand, and the status Z-ordered by vehicle
        for hour in HOURS:
            rows = mart.build(lake, hour, hour + mart.step)
            lake.replace_where("gold", mart.name, rows, mart.rows_of(hour), ["date"])
    return root


@pytest.fixture
def lake(built, tmp_path, monkeypatch) -> Lake:
    root = tmp_path / "lake"
    shutil.copytree(built, root)
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return Lake(load_settings())


def fingerprints(lake: Lake) -> dict[str, tuple[int, list[int]]]:
    """Rows and a checksum (the sorted row hashes) of every table that exists."""
    found = {}
    for target in targets():
        table = lake.delta_table(target.layer, target.table)
        if table is not None:
            frame = pl.DataFrame(table.to_pyarrow_table())
            found[target.name] = (frame.height, sorted(frame.hash_rows(seed=1).to_list()))
    return found


def versions(lake: Lake) -> dict[str, int]:
    return {
        t.name: lake.delta_table(t.layer, t.table).version()
        for t in targets()
        if lake.delta_table(t.layer, t.table)
    }


def files(lake: Lake, name: str) -> int:
    return len(lake.delta_table(*name.split(".")).file_uris())


def test_a_pass_merges_closed_days_into_fewer_files_and_leaves_every_row_as_it_was(lake):
    before = fingerprints(lake)
    files_before = {name: files(lake, name) for name in before}

    outcomes = {o.table: o for o in maintain(lake, CLOSED, say=lambda _: None)}

    assert fingerprints(lake) == before
    assert set(outcomes) == set(before)
    for name, outcome in outcomes.items():
        assert (outcome.files_before, outcome.files_after) == (files_before[name], files(lake, name))
        assert outcome.files_after <= outcome.files_before
    assert outcomes["silver.vehicle_telemetry"].files_after == 2 < files_before["silver.vehicle_telemetry"]
    assert outcomes["silver.vehicle_telemetry"].zordered_days == ["2026-03-10", "2026-03-11"]
    telemetry = lake.delta_table("silver", "vehicle_telemetry")
    assert telemetry.metadata().configuration[ZORDERED_THROUGH] == "2026-03-11"
    status = outcomes["gold.vehicle_status_hourly"]
    assert (
        status.zordered_days == ["2026-03-10", "2026-03-11"] and status.files_after == 2 < status.files_before
    )
    # A second pass has nothing to do: no commit anywhere.
    settled = versions(lake)
    maintain(lake, CLOSED, say=lambda _: None)
    assert versions(lake) == settled


def test_open_days_and_the_hours_a_run_covers_are_left_alone(lake):
    day_two = HOURS[-1].date()
    before = files_per_day(lake, "silver.vehicle_telemetry")
    bronze = files(lake, "bronze.vehicle_telemetry")

    # 72 h after the first day ended, it is closed; the second is still within the lateness window.
    first_closes = datetime.combine(START.date() + timedelta(days=1), datetime.min.time(), UTC) + timedelta(
        hours=72
    )
    maintain(lake, first_closes, only="silver.vehicle_telemetry", say=lambda _: None)
    after = files_per_day(lake, "silver.vehicle_telemetry")
    assert (after[START.date()], after[day_two]) == (1, before[day_two])
    assert before[START.date()] > 1

    # A run in progress from the first hour on holds every partition.
    maintain(lake, CLOSED, busy_from=START, only="bronze.vehicle_telemetry", say=lambda _: None)
    assert files(lake, "bronze.vehicle_telemetry") == bronze > 1


def files_per_day(lake: Lake, name: str) -> dict:
    frame = pl.DataFrame(lake.delta_table(*name.split(".")).get_add_actions(flatten=True))
    return dict(frame.group_by("partition.date").len().iter_rows())


def test_a_dry_run_reports_the_merge_and_changes_nothing(lake):
    before = versions(lake)
    (outcome,) = maintain(lake, CLOSED, only="silver.weather", dry_run=True, say=lambda _: None)
    assert outcome.files_merged == sum(n for n in files_per_day(lake, "silver.weather").values() if n > 1) > 1
    assert versions(lake) == before


def test_vacuum_keeps_time_travel_within_its_window_and_nothing_older(lake):
    uri = lake.table_uri("silver", "weather")
    first = pl.DataFrame(DeltaTable(uri, version=1).to_pyarrow_table())
    current = fingerprints(lake)["silver.weather"]

    maintain(lake, datetime.now(UTC), only="silver.weather", say=lambda _: None)  # within 30 days: kept
    assert pl.DataFrame(DeltaTable(uri, version=1).to_pyarrow_table()).equals(first)

    (outcome,) = maintain(
        lake, datetime.now(UTC) + timedelta(days=31), only="silver.weather", say=lambda _: None
    )
    assert outcome.files_vacuumed > 0
    with pytest.raises(Exception, match="(?i)not found|no such file"):
        DeltaTable(uri, version=1).to_pyarrow_table()
    assert fingerprints(lake)["silver.weather"] == current


def test_log_entries_past_the_window_are_removed_and_versions_within_it_still_load(lake):
    """Entries go only once a checkpoint lets every version within the window load without them."""
    log = Path(lake.table_uri("silver", "weather")) / "_delta_log"
    (first,) = maintain(lake, datetime.now(UTC), only="silver.weather", say=lambda _: None)
    assert first.log_entries_after >= first.log_entries_before  # nothing is old enough yet
    month_ago = datetime.now(UTC).timestamp() - 40 * 86400
    for entry in log.iterdir():
        os.utime(entry, (month_ago, month_ago))
    materialize_hour(lake, SILVER_BY_NAME["weather"], HOURS[0], FIRST, reference_data())  # a new version
    rows, fresh = lake.read("silver", "weather").height, lake.delta_table("silver", "weather").version()

    (second,) = maintain(lake, datetime.now(UTC), only="silver.weather", say=lambda _: None)

    assert second.log_entries_after < second.log_entries_before
    assert second.log_entries_after == len(list(log.glob("*.json")))
    assert lake.read("silver", "weather").height == rows
    assert DeltaTable(str(log.parent), version=fresh).version() == fresh  # within the window: loads
    with pytest.raises(TableNotFoundError):
        DeltaTable(str(log.parent), version=fresh - 1)


def test_a_pass_committing_while_a_silver_run_writes_loses_no_row(lake, monkeypatch):
    """The pass rewrites the day between the run's look at its hour's files and its commit: the run finds
    its files gone and rewrites the day's straddling files instead."""
    before = fingerprints(lake)["silver.vehicle_telemetry"]
    build = pipeline.build_silver
    passes = []

    def build_then_maintain(*args, **kwargs):
        if not passes:
            passes.append(maintain(lake, CLOSED, only="silver.vehicle_telemetry", say=lambda _: None))
        return build(*args, **kwargs)

    monkeypatch.setattr(pipeline, "build_silver", build_then_maintain)
    materialize_hour(lake, TELEMETRY, HOURS[0], FIRST, reference_data())

    assert passes and passes[0][0].files_merged > 0
    assert fingerprints(lake)["silver.vehicle_telemetry"] == before


def test_a_silver_run_committing_during_a_pass_makes_the_pass_start_again(lake):
    """The pass works from the version it loaded; a run replaces an hour before the pass commits: delta-rs
    refuses the pass's commit and the pass starts again from the run's version."""
    before = fingerprints(lake)["silver.vehicle_telemetry"]
    (target,) = [t for t in targets(72) if t.name == "silver.vehicle_telemetry"]
    stale = lake.delta_table("silver", "vehicle_telemetry")
    materialize_hour(lake, TELEMETRY, HOURS[0], FIRST, reference_data())
    assert lake.delta_table("silver", "vehicle_telemetry").version() > stale.version()

    outcome = maintain_table(lake, target, stale, CLOSED)

    assert outcome.files_after == 2
    assert fingerprints(lake)["silver.vehicle_telemetry"] == before


def test_the_daily_schedule_runs_the_pass_and_the_ui_shows_its_figures(lake):
    from mobility_lake.definitions import build_definitions

    defs = build_definitions(lake.settings)
    context = dg.build_schedule_context(scheduled_execution_time=CLOSED)
    request = maintenance_schedule(context)
    result = defs.resolve_job_def("maintenance").execute_in_process(
        run_config=request.run_config, instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    (materialization,) = result.asset_materializations_for_node(KEY.to_python_identifier())
    table = materialization.metadata["per table"].value
    by_table = {record.data["table"]: record.data for record in table.records}
    assert by_table["silver.vehicle_telemetry"]["days Z-ordered"] == 2
    assert by_table["silver.vehicle_telemetry"]["files after"] == 2
    observed = [
        e.asset_observation_data.asset_observation
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    telemetry = [o for o in observed if o.asset_key == dg.AssetKey(["silver", "vehicle_telemetry"])]
    assert {k for o in telemetry for k in o.metadata} >= {
        "maintenance files after (silver.vehicle_telemetry)",
        "maintenance files after (quarantine.vehicle_telemetry)",
    }


def test_the_command_runs_a_pass_or_a_dry_run_and_refuses_an_unknown_table(lake, capsys):
    assert main(["maintain", "--table", "silver.nothing"]) == 2
    assert "is not a table: expected one of" in capsys.readouterr().err

    before, days = versions(lake), files_per_day(lake, "silver.weather")
    assert main(["maintain", "--dry-run", "--table", "silver.weather", "--now", "2026-03-20T00:00"]) == 0
    assert "silver.weather: files" in capsys.readouterr().out
    assert versions(lake) == before

    assert main(["maintain", "--table", "silver.weather", "--now", "2026-03-20T00:00"]) == 0
    out = capsys.readouterr().out
    assert f"silver.weather: files {sum(days.values())} -> {len(days)}" in out
    assert files(lake, "silver.weather") == len(days)


@pytest.mark.s3
def test_a_pass_history_and_replay_on_s3(s3_env, tmp_path, monkeypatch, capsys):
    """Compaction, the log listing and checkpoint, history's log reads and replay against a real S3 server."""
    for name, value in {**s3_env, "DAGSTER_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    lake = Lake(load_settings())
    simulate(lake, START, 2, vehicles=4, seed=5)
    bronze_and_silver(lake, HOURS[:2], FIRST)
    before = fingerprints(lake)

    (outcome,) = maintain(lake, CLOSED, only="silver.weather", say=lambda _: None)

    assert fingerprints(lake) == before
    assert (
        outcome.files_after < outcome.files_before and outcome.log_entries_after > outcome.log_entries_before
    )
    assert main(["history", "silver.weather", "--limit", "3"]) == 0
    assert "OPTIMIZE" in capsys.readouterr().out
    out = tmp_path / "replay"
    assert (
        main(
            [
                "replay",
                "--topic",
                "external.weather",
                "--start",
                "2026-03-10T22:00",
                "--end",
                "2026-03-11T00:00",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(list(out.rglob("*.jsonl"))) > 0


def test_a_pass_waits_while_an_erasure_holds_the_lake(lake):
    from mobility_lake.definitions import build_definitions

    job = build_definitions(lake.settings).resolve_job_def("maintenance")
    config = {
        "ops": {
            "maintenance__delta_tables": {"config": {"now": CLOSED.isoformat(), "table": "silver.weather"}}
        }
    }
    weather = files(lake, "silver.weather")
    acquire(lake, "erasure-held-by-test")
    done = []
    pass_ = threading.Thread(target=lambda: done.append(job.execute_in_process(run_config=config)))
    pass_.start()
    time.sleep(2)
    assert files(lake, "silver.weather") == weather and not done  # waiting, nothing rewritten
    release(lake, "erasure-held-by-test")
    pass_.join(timeout=60)

    assert done and done[0].success
    assert files(lake, "silver.weather") < weather
