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

import pytest

from mobility_lake.runs import INSTANCE_CONFIG
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
HOURS = 2
TIMEOUT = 300
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


def test_landing_files_flow_to_bronze_silver_and_gold_with_no_manual_step(dagster_dev):
    port, env, log = dagster_dev
    lake = Lake(load_settings(env))
    simulate(lake, START, HOURS, vehicles=15, seed=3, defects=DefectShares.none())
    hours = {(START + timedelta(hours=h)).strftime("%Y-%m-%d-%H:%M") for h in range(HOURS)}

    wait_for(
        lambda: hours <= materialized_partitions(port, ["bronze", "weather"]), "bronze for both hours", log
    )
    wait_for(
        lambda: hours <= materialized_partitions(port, ["silver", "weather"]), "silver for both hours", log
    )
    assert lake.read("silver", "weather").height == lake.read("bronze", "weather").height
    text = log.read_text()
    assert "Traceback" not in text
    assert "mobility_lake" not in "".join(line for line in text.splitlines() if "Warning" in line)
