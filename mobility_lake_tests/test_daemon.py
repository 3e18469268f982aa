"""The lake keeps itself up to date: `dagster dev` (webserver and daemon) on 127.0.0.1 with a temporary
DAGSTER_HOME; landing files are dropped; bronze, silver and gold materialize with no manual step, as the
GraphQL API reports them."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mobility_lake.definitions import build_definitions
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.orchestration.runs import INSTANCE_CONFIG, materialize
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

# The two last complete hours: gold's automation looks back over the lateness window from now.
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
HOURS = 2
TIMEOUT = 600  # per wait: a busy 2-core CI machine starts each run process slowly
QUERY = """
query ($path: [String!]!) {
  assetOrError(assetKey: {path: $path}) {
    __typename
    ... on Asset { assetMaterializations(limit: 200) { partition runId } }
  }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def materialized_partitions(port: int, path: list[str]) -> set[str]:
    found = graphql(port, QUERY, {"path": path})["assetOrError"]
    if found["__typename"] != "Asset":
        return set()
    return {m["partition"] for m in found["assetMaterializations"]}


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], Path]]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    port = free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
        "MOBILITY_LAKE_START": (START - timedelta(days=1)).strftime("%Y-%m-%d-00:00"),
    }
    log = (tmp_path / "dagster_dev.log").open("w")
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
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield port, env, tmp_path / "dagster_dev.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def wait_for(condition, what: str, log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # the webserver is still starting
        time.sleep(3)
    tail = log.read_text()[-3000:]
    raise AssertionError(f"{what} did not happen within {TIMEOUT} s; dagster dev log ends:\n{tail}")


HOURLY_ASSETS = [
    *(["bronze", t.bronze_table] for t in TOPICS),
    *(["silver", t.name] for t in SILVER_TABLES),
    ["gold", "demand_by_zone_hour"],
]
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
LAUNCH = """
mutation ($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
STATUS = """
query ($id: String!) {
  partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill { status } }
}"""


def launch_backfill(port: int, hours: list[str]) -> str:
    selection = [{"assetKey": {"path": path}, "partitions": {"range": {"start": hours[0], "end": hours[-1]}}}
                 for path in HOURLY_ASSETS]  # fmt: skip
    result = graphql(port, LAUNCH, {"params": {"partitionsByAssets": selection}})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def backfill_status(port: int, backfill_id: str) -> str:
    return graphql(port, STATUS, {"id": backfill_id})["partitionBackfillOrError"]["status"]


def tables(lake: Lake) -> dict[str, pl.DataFrame]:
    frames = {
        f"bronze.{t.bronze_table}": lake.read("bronze", t.bronze_table).drop("ingested_at") for t in TOPICS
    }
    frames |= {f"silver.{t.name}": lake.read("silver", t.name).drop("ingested_at") for t in SILVER_TABLES}
    frames |= {
        f"quarantine.{t.name}": lake.read("quarantine", t.name).drop("ingested_at") for t in SILVER_TABLES
    }
    frames["gold.demand_by_zone_hour"] = lake.read("gold", "demand_by_zone_hour")
    return {name: f.sort(f.columns, nulls_last=True) for name, f in frames.items()}


def assert_same(actual: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    for name, frame in expected.items():
        assert actual[name].equals(frame), name


def tmp_path_for_cli(env: dict[str, str]) -> Lake:
    """The same landing files in another root, materialized by `mobility-lake materialize`'s code path."""
    root = Path(env["MOBILITY_LAKE_ROOT"]).parent / "cli-lake"
    settings = load_settings({**env, "MOBILITY_LAKE_ROOT": str(root)})
    lake = Lake(settings)
    simulate(lake, START, HOURS, vehicles=15, seed=3, defects=DefectShares.none())
    with dg.DagsterInstance.ephemeral() as instance:
        materialize(build_definitions(settings), settings, START, START + timedelta(hours=HOURS), instance)
    return lake


def test_landing_files_flow_to_bronze_silver_and_gold_with_no_manual_step(dagster_dev):
    port, env, log = dagster_dev
    lake = Lake(load_settings(env))
    simulate(lake, START, HOURS, vehicles=15, seed=3, defects=DefectShares.none())
    hours = {(START + timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M") for h in range(HOURS)}

    def materialized(*path: str) -> bool:
        return hours <= materialized_partitions(port, list(path))

    wait_for(lambda: materialized("bronze", "weather"), "bronze for both hours (landing_sensor)", log)
    wait_for(lambda: materialized("silver", "weather"), "silver for both hours (silver_sensor)", log)
    assert lake.read("silver", "weather").height == lake.read("bronze", "weather").height
    wait_for(
        lambda: materialized("gold", "demand_by_zone_hour"), "gold demand for both hours (automation)", log
    )
    created = lake.read("silver", "booking_events").filter(
        pl.col("event_type").str.ends_with("booking.created.v1") & pl.col("zone_id").is_not_null()
    )
    assert lake.read("gold", "demand_by_zone_hour")["booking_count"].sum() == created.height

    # A backfill launched as the UI does (GraphQL launchPartitionBackfill) over the same hours changes nothing,
    # and the tables equal those `mobility-lake materialize` makes from the same landing files.
    before = tables(lake)
    backfill_id = launch_backfill(port, sorted(hours))
    wait_for(lambda: backfill_status(port, backfill_id) in DONE, "the backfill", log)
    assert backfill_status(port, backfill_id) == "COMPLETED_SUCCESS"
    assert_same(tables(lake), before)
    assert_same(tables(tmp_path_for_cli(env)), before)

    text = log.read_text()
    assert "Traceback" not in text
    assert "mobility_lake" not in "".join(line for line in text.splitlines() if "Warning" in line)
