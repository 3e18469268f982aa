"""`materialize` (the CLI's runs) on a lake that started an hour before the last: ordinary runs of the code
location's jobs, each hour with its own figures and check results; cadences with no complete partition yet
are skipped."""

import multiprocessing
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from mobility_lake.orchestration.jobs import ALL_JOBS, LOCATION
from mobility_lake.orchestration.runs import materialize, persistent_instance
from mobility_lake.partitions import hour_key
from mobility_lake.settings import load_settings
from mobility_lake.silver.quality import CHECK_QUARANTINE_SHARE
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake


def test_cli_runs_are_ordinary_runs_and_each_hour_shows_its_own_figures(tmp_path, monkeypatch):
    # Daily and weekly partitions only exist once complete: a lake started two hours ago has none (bar Monday
    # just after midnight), and the hourly work must still run.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    env = {"MOBILITY_LAKE_ROOT": str(tmp_path / "lake"), "MOBILITY_LAKE_START": hour_key(start)}
    for name, value in {**env, "DAGSTER_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    lake = Lake(settings)
    simulate(lake, start, 2, vehicles=6, seed=5, defects=DefectShares(malformed=0.02))
    with persistent_instance() as instance:
        results = materialize(settings, start, start + timedelta(hours=2), instance, say=lambda _: None)
        runs = [instance.get_run_by_id(r.run_id) for r in results]
        evaluations = [
            e.dagster_event.event_specific_data
            for r in results
            for e in instance.all_logs(r.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        ]
    assert {r.job for r in results} >= {"bronze_hourly", "silver_hourly", "gold_hourly"}
    for run in runs:  # launched in the code location: the UI lists it under its job and can re-execute it
        assert run.job_name in ALL_JOBS and run.is_success
        assert run.remote_job_origin.repository_origin.code_location_origin.location_name == LOCATION

    hours = [start, start + timedelta(hours=1)]
    telemetry = lake.read("silver", "vehicle_telemetry")
    bronze = lake.read("bronze", "vehicle_telemetry")
    (silver_run,) = [r for r in results if r.job == "silver_hourly"]
    (bronze_run,) = [r for r in results if r.job == "bronze_hourly"]
    for hour in hours:
        key = hour_key(hour)
        figures = silver_run.metadata["silver/vehicle_telemetry"][key]
        in_hour = telemetry.filter(pl.col("event_time").dt.truncate("1h") == hour)
        assert figures["silver_rows"] == in_hour.height > 0
        landed = bronze_run.metadata["bronze/vehicle_telemetry"][key]
        assert landed["rows_added"] == bronze.filter(pl.col("arrival_hour") == hour).height
    share = {
        e.partition
        for e in evaluations
        if e.check_name == CHECK_QUARANTINE_SHARE and e.asset_key.path[-1] == "weather"
    }
    assert share == {hour_key(h) for h in hours}  # one verdict per hour, none for the range
    assert lake.read("gold", "demand_by_zone_hour").height > 0


def _open_instance(home: str, barrier) -> None:
    os.environ["DAGSTER_HOME"] = home
    barrier.wait()
    persistent_instance().dispose()


def test_processes_opening_a_new_home_at_once_all_succeed(tmp_path):
    """Two first `materialize`s at once: without the lock, one of two processes creating the SQLite schema
    died with a traceback in 16 of 20 trials."""
    context = multiprocessing.get_context("spawn")
    for trial in range(3):
        home = tmp_path / f"home-{trial}"
        home.mkdir()
        barrier = context.Barrier(3)
        workers = [context.Process(target=_open_instance, args=(str(home), barrier)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert [w.exitcode for w in workers] == [0, 0, 0], f"trial {trial}"
