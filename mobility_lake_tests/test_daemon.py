"""The UI tells the truth and history catches up by itself: `dagster dev` (webserver and daemon) on 127.0.0.1,
checked through the GraphQL API the UI reads.

One lake, as a user meets it: the CLI builds three hours, then `dagster dev` starts on it. The UI shows each
hour's own figures and verdicts and lists the CLI's runs under their jobs; the sensors request nothing for
work already done; a backfill of hours older than a week leaves no gold partition unsynced; a run failing
on a broken table is requested again and succeeds once the fault is gone, and silver follows it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mobility_lake.landing import landing_key
from mobility_lake.orchestration.jobs import LOCATION, WORK_TAG
from mobility_lake.orchestration.requests import ATTEMPT_TAG
from mobility_lake.orchestration.runs import INSTANCE_CONFIG, materialize, persistent_instance
from mobility_lake.partitions import hour_key
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
RECENT = NOW - timedelta(hours=3)  # the demo's hours: the last three complete ones
OLD = NOW - timedelta(days=9)  # older than a week, and than the lateness window
HOUR = timedelta(hours=1)
TIMEOUT = 600  # per wait: a busy 2-core CI machine starts each run process slowly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UI:
    """The GraphQL API of a running `dagster dev`."""

    def __init__(self, port: int, log: Path):
        self.port, self.log = port, log

    def query(self, text: str, **variables) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": text, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except OSError:
                pass  # the webserver is still starting
            time.sleep(3)
        raise AssertionError(
            f"{what} did not happen within {TIMEOUT} s; dagster dev log ends:\n{self.log.read_text()[-3000:]}"
        )

    def runs(self) -> list[dict]:
        found = self.query(
            """{ runsOrError(limit: 500) { ... on Runs { results {
                 runId status jobName tags { key value } assetSelection { path }
                 repositoryOrigin { repositoryLocationName } } } } }"""
        )
        return found["runsOrError"]["results"]

    def materializations(self, path: list[str], partitions: list[str]) -> dict[str, dict[str, object]]:
        """The latest materialization's metadata of each partition."""
        found = self.query(
            """query ($path: [String!]!, $partitions: [String!]) { assetOrError(assetKey: {path: $path}) {
                 ... on Asset { assetMaterializations(partitions: $partitions) { partition metadataEntries {
                   label ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text } } } } } }""",
            path=path,
            partitions=partitions,
        )["assetOrError"]
        latest: dict[str, dict[str, object]] = {}
        for event in found.get("assetMaterializations", []):  # newest first
            values = {e["label"]: e.get("intValue", e.get("text")) for e in event["metadataEntries"]}
            latest.setdefault(event["partition"], values)
        return latest

    def check_statuses(self, path: list[str], check: str) -> dict[str, str]:
        """The latest execution status of a check, per partition."""
        found = self.query(
            """query ($path: [String!]!, $check: String!) {
                 assetCheckExecutions(assetKey: {path: $path}, checkName: $check, limit: 200) { partition status } }""",
            path=path,
            check=check,
        )
        latest: dict[str, str] = {}
        for execution in found["assetCheckExecutions"]:
            latest.setdefault(execution["partition"], execution["status"])
        return latest

    def unsynced(self, path: list[str], partitions: list[str]) -> list[str]:
        found = self.query(
            """query ($path: [String!]!, $partitions: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
                 ... on AssetNode { staleStatusByPartition(partitions: $partitions) } } }""",
            path=path,
            partitions=partitions,
        )["assetNodeOrError"]["staleStatusByPartition"]
        return [p for p, status in zip(partitions, found, strict=True) if status != "FRESH"]

    def job_runs(self, job: str) -> list[str]:
        found = self.query(
            """query ($selector: PipelineSelector!) { pipelineOrError(params: $selector) {
                 ... on Pipeline { runs(limit: 100) { runId } } } }""",
            selector={
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "pipelineName": job,
            },
        )
        return [r["runId"] for r in found["pipelineOrError"]["runs"]]

    def ticks(self, sensor: str) -> list[dict]:
        found = self.query(
            """query ($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
                 ... on Sensor { sensorState { ticks(limit: 20) { status runIds timestamp } } } } }""",
            selector={
                "repositoryLocationName": LOCATION,
                "repositoryName": "__repository__",
                "sensorName": sensor,
            },
        )
        return found["sensorOrError"]["sensorState"]["ticks"]

    def backfill(self, paths: list[list[str]], first: str, last: str) -> str:
        result = self.query(
            """mutation ($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            params={
                "partitionsByAssets": [
                    {"assetKey": {"path": p}, "partitions": {"range": {"start": first, "end": last}}}
                    for p in paths
                ]
            },
        )["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def backfill_status(self, backfill_id: str) -> str:
        return self.query(
            """query ($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }""",
            id=backfill_id,
        )["partitionBackfillOrError"]["status"]


@pytest.fixture(params=["sqlite", "postgres"])
def lake_env(tmp_path: Path, monkeypatch, request: pytest.FixtureRequest) -> dict[str, str]:
    """The embedded instance (SQLite in DAGSTER_HOME), or deploy/postgres's on a real PostgreSQL server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        "DAGSTER_HOME": str(home),
        "MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
        "MOBILITY_LAKE_START": hour_key(NOW - timedelta(days=12)),
    }
    if request.param == "postgres":
        shutil.copyfile(PROJECT_ROOT / "deploy" / "postgres" / "dagster.yaml", home / "dagster.yaml")
        env.update(request.getfixturevalue("postgres_env"))
    else:
        shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def dagster_dev(lake_env, tmp_path: Path) -> Iterator[Callable[[], UI]]:
    processes = []

    def start() -> UI:
        port = free_port()
        log = tmp_path / "dagster_dev.log"
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster"),
                "dev",
                "-w",
                "workspace.yaml",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, **lake_env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        processes.append(process)
        ui = UI(port, log)
        ui.wait_for(lambda: ui.query("{ version }")["version"] is not None, "the webserver")
        return ui

    yield start
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_ui_tells_the_truth_and_history_catches_up(lake_env, dagster_dev):
    settings = load_settings(lake_env)
    lake = Lake(settings)
    recent = [hour_key(RECENT + n * HOUR) for n in range(3)]

    # The CLI builds the demo's hours before the UI starts.
    simulate(lake, RECENT, 3, vehicles=20, seed=3, defects=DefectShares(malformed=0.01, late=0.02))
    with persistent_instance() as instance:
        cli = materialize(settings, RECENT, NOW, instance, say=lambda _: None)
    cli_runs = {r.run_id for r in cli}
    ui = dagster_dev()

    # Each hour of the three-hour run shows its own figures and its own check results.
    silver = lake.read("silver", "vehicle_telemetry")
    shown = ui.materializations(["silver", "vehicle_telemetry"], recent)
    for n, key in enumerate(recent):
        rows = silver.filter(pl.col("event_time").dt.truncate("1h") == RECENT + n * HOUR).height
        assert shown[key]["silver_rows"] == rows > 0
    in_range = silver.filter(
        pl.col("event_time").dt.truncate("1h").is_in([RECENT + n * HOUR for n in range(3)])
    )
    assert all(shown[k]["silver_rows"] < in_range.height for k in recent)  # not the range total on every hour
    for check in ("silver_schema", "unique_identity", "conservation", "quarantine_share"):
        assert ui.check_statuses(["silver", "vehicle_telemetry"], check) == dict.fromkeys(recent, "SUCCEEDED")

    # The CLI's runs are listed under their jobs, in the code location.
    listed = {r["runId"]: r for r in ui.runs()}
    for run_id in cli_runs:
        assert listed[run_id]["repositoryOrigin"]["repositoryLocationName"] == LOCATION
    assert {listed[r]["jobName"] for r in cli_runs} >= {"bronze_hourly", "silver_hourly", "gold_hourly"}
    for job in ("bronze_hourly", "silver_hourly", "gold_hourly"):  # the job's page lists it
        assert {r for r in cli_runs if listed[r]["jobName"] == job} <= set(ui.job_runs(job)), job

    # The sensors see the lake the CLI built and request nothing.
    for sensor in ("landing_sensor", "silver_sensor", "demand_sensor"):
        ui.wait_for(lambda s=sensor: len(ui.ticks(s)) >= 2, f"two ticks of {sensor}")
        assert all(not tick["runIds"] for tick in ui.ticks(sensor)), sensor
    assert {r["runId"] for r in ui.runs()} == cli_runs

    # A backfill of two hours nine days old, bronze and silver, as a user launches it in the UI: automation
    # builds the gold above them, and no gold partition is left unsynced.
    old = [hour_key(OLD), hour_key(OLD + HOUR)]
    simulate(lake, OLD, 2, vehicles=20, seed=4, defects=DefectShares.none())
    hourly = [
        ["bronze", t]
        for t in ("vehicle_telemetry", "domain_events", "payment_events", "app_events", "weather")
    ]
    hourly += [
        ["silver", t]
        for t in ("vehicle_telemetry", "booking_events", "payment_events", "app_events", "weather")
    ]
    backfill = ui.backfill(hourly, old[0], old[-1])
    ui.wait_for(
        lambda: (
            ui.backfill_status(backfill) in {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
        ),
        "the backfill",
    )
    assert ui.backfill_status(backfill) == "COMPLETED_SUCCESS"
    day, week = OLD.strftime("%Y-%m-%d"), (OLD - timedelta(days=OLD.weekday())).strftime("%Y-%m-%d")
    gold = {
        "demand_by_zone_hour": old,
        "vehicle_status_hourly": old,
        "vehicle_utilization_daily": [day],
        "revenue_by_vehicle_type_daily": [day],
        "customer_journey_events": [day],
        "battery_health_metrics_weekly": [week],
    }
    for name, partitions in gold.items():
        ui.wait_for(
            lambda n=name, p=partitions: set(p) <= set(ui.materializations(["gold", n], p)), f"gold {name}"
        )
    for name, partitions in gold.items():
        assert ui.unsynced(["gold", name], partitions) == [], name
    partial = ui.materializations(["gold", "vehicle_utilization_daily"], [day])[day]
    assert (partial["silver_hours_present"], partial["silver_hours_expected"]) == (2, 24)
    # The asset backfill's and automation's runs (Dagster's asset job, which no job tags) carry the kind of
    # work of their assets, as every run does: the run queue limits runs by it.
    works = {r["runId"]: {t["value"] for t in r["tags"] if t["key"] == WORK_TAG} for r in ui.runs()}
    assert all(len(work) == 1 for work in works.values()), works
    backfilled = [r for r in ui.runs() if {"key": "dagster/backfill", "value": backfill} in r["tags"]]
    assert backfilled
    for run in backfilled:  # bronze, or silver when the run builds a silver table too
        layers = {key["path"][0] for key in run["assetSelection"]}
        assert works[run["runId"]] == ({"silver"} if "silver" in layers else {"bronze"}), run
    assert partial["completeness"].startswith("partial")

    # A new file lands while its bronze table is broken: the run fails; once the fault is gone, the
    # landing sensor requests the hour again and the run succeeds.
    table = Path(lake_env["MOBILITY_LAKE_ROOT"]) / "bronze" / "weather"
    table.rename(table.with_name("weather.aside"))
    table.write_text("not a Delta table")
    event = {"specversion": "1.0", "id": "fault-1", "source": "//weather-service",
             "type": "com.mobilitycorp.weather.observation.v1", "time": f"{NOW:%Y-%m-%dT%H}:00:00Z",
             "data": {"city": "Berlin", "temperature_c": 3.0, "precipitation_mm": 0.0, "wind_speed_kmh": 5.0,
                      "condition": "clear"}}  # fmt: skip
    lake.write_bytes(
        landing_key("external.weather", NOW, "after-fault.jsonl"), json.dumps(event).encode() + b"\n"
    )

    def bronze_runs(status: str) -> list[dict]:
        return [
            r for r in ui.runs()
            if r["status"] == status and any(t["key"] == ATTEMPT_TAG for t in r["tags"]) and r["runId"] not in cli_runs
            and any(t["key"] == "dagster/partition" and t["value"] == hour_key(NOW) for t in r["tags"])
        ]  # fmt: skip

    ui.wait_for(lambda: bronze_runs("FAILURE"), "the failed bronze run")
    table.unlink()
    table.with_name("weather.aside").rename(table)
    ui.wait_for(lambda: bronze_runs("SUCCESS"), "the bronze run requested again")
    (success,) = bronze_runs("SUCCESS")[:1]
    assert int(next(t["value"] for t in success["tags"] if t["key"] == ATTEMPT_TAG)) >= 2
    assert lake.read("bronze", "weather").filter(pl.col("id") == "fault-1").height == 1
    assert success["jobName"] == "bronze_hourly"  # a sensor's run is a run of its job, listed under it

    # silver_sensor follows the new bronze rows: a run of silver_hourly builds the hour.
    ui.wait_for(
        lambda: hour_key(NOW) in ui.materializations(["silver", "weather"], [hour_key(NOW)]), "silver weather"
    )
    assert lake.read("silver", "weather").filter(pl.col("event_id") == "fault-1").height == 1
    followed = [r for r in ui.runs() if any(t["value"] == "silver_sensor" for t in r["tags"])]
    assert followed and {r["jobName"] for r in followed} == {"silver_hourly"}

    # With the daemon running, the CLI's runs go through its run queue.
    with persistent_instance() as instance:
        again = materialize(settings, RECENT, RECENT + HOUR, instance, say=lambda _: None)
        for result in again:
            events = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)
            assert len(events) == 1, result.job
    if "DAGSTER_PG_DB" in lake_env:  # runs, event log and schedules in PostgreSQL, none in local files
        assert not list(Path(lake_env["DAGSTER_HOME"]).rglob("*.db"))
