"""A backfill of a day of simulated hours with the run queue allowing 1, 2 and 4 runs at once: wall time, peak
memory, how many runs did overlap, and that every run count builds the same lake.

For each run count, `dagster dev` starts on an empty lake with the project's instance config at that limit
(the backfill's and silver's tag limits raised to match), its sensors are stopped, the same landing files
are copied in, and two job backfills go through the daemon's queue as from the UI's Launch backfill:
`bronze_hourly` over the hours, then `silver_hourly`. Wall time runs from the first launch to the last
run's end. Peak memory is the resident set of dagster dev's whole process tree (webserver, daemon, code
servers and the runs) sampled every 0.2 s, printed beside its idle figure before the backfill. Last, every
table's checksum must equal the one-run lake's (`mobility_lake_tests/faults/lake_state.py`, leaving out the
columns that say when a row was ingested and which copy of a redelivered event was kept: hours ingested in
another order keep another copy). Every lake gets the first one's subject keys, as a restored lake would.

    .venv/bin/python benchmarks/concurrency.py [--hours 24] [--vehicles 100] [--runs 1,2,4]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import yaml

from mobility_lake.orchestration.jobs import BRONZE_JOB, LOCATION, SILVER_JOB, WORK_TAG
from mobility_lake.orchestration.runs import INSTANCE_CONFIG
from mobility_lake.partitions import hour_key
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.faults.lake_state import checksums

START = datetime(2026, 3, 10, tzinfo=UTC)
REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class Dev:
    """`dagster dev` on a lake, and the GraphQL API its UI reads."""

    def __init__(self, env: dict[str, str], log: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster"), "dev", "-w", "workspace.yaml",
             "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT_ROOT, env={**os.environ, **env}, stdout=log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.wait(lambda: self.query("{ version }")["version"], "the webserver", log)

    def query(self, text: str, **variables) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": text, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.loads(response.read())
        if "errors" in body:
            raise RuntimeError(body["errors"])
        return body["data"]

    @staticmethod
    def wait(condition, what: str, log: Path, timeout: float = 3600) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except OSError:
                pass  # the webserver is still starting
            time.sleep(1)
        raise RuntimeError(f"{what} did not happen within {timeout} s; see {log}")

    def stop_sensors(self) -> None:
        found = self.query(
            """query ($repo: RepositorySelector!) { sensorsOrError(repositorySelector: $repo) {
                 ... on Sensors { results { name sensorState { id status } } } } }""",
            repo=REPOSITORY,
        )["sensorsOrError"]["results"]
        for sensor in found:
            if sensor["sensorState"]["status"] == "RUNNING":
                self.query(
                    "mutation ($id: String!) { stopSensor(id: $id) { __typename } }",
                    id=sensor["sensorState"]["id"],
                )

    def backfill(self, job: str, partitions: list[str]) -> str:
        result = self.query(
            """mutation ($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            params={
                "selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": REPOSITORY},
                "partitionNames": partitions,
            },
        )["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(result)
        return result["backfillId"]

    def backfill_runs(self, backfill_id: str) -> list[dict]:
        return self.query(
            """query ($tag: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $tag}]}) {
                 ... on Runs { results { status startTime endTime tags { key value } } } } }""",
            tag=backfill_id,
        )["runsOrError"]["results"]

    def finished(self, backfill_id: str) -> bool:
        """Every run of the backfill submitted and ended."""
        status = self.query(
            """query ($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }""",
            id=backfill_id,
        )["partitionBackfillOrError"]["status"]
        return status not in ("REQUESTED", "CANCELING") and all(
            run["status"] in TERMINAL for run in self.backfill_runs(backfill_id)
        )

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


class PeakMemory:
    """The largest resident set of a process tree, sampled in a thread."""

    def __init__(self, pid: int):
        self.root, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def now(self) -> int:
        total = 0
        for process in [self.root, *self.root.children(recursive=True)]:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass  # ended between the listing and the reading
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            time.sleep(0.2)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()


def most_at_once(runs: list[dict]) -> int:
    """The largest number of runs that were running at one moment."""
    edges = sorted([(r["startTime"], 1) for r in runs] + [(r["endTime"], -1) for r in runs])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def instance_config(runs: int) -> dict:
    config = yaml.safe_load(INSTANCE_CONFIG.read_text())
    queue = config["run_coordinator"]["config"]
    queue["max_concurrent_runs"] = runs
    for limit in queue["tag_concurrency_limits"]:
        if limit["key"] == "dagster/backfill" or limit.get("value") == "silver":
            limit["limit"] = runs
    return config


def backfill_day(root: Path, landing: Path, keys: Path | None, runs: int, hours: list[str]) -> dict:
    """One lake built by backfills at `runs` runs at once, with the subject keys of `keys` when given (each
    lake would seal personal values under keys of its own); its figures."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(runs)))
    env = {"DAGSTER_HOME": str(home), "MOBILITY_LAKE_ROOT": str(root / "lake"),
           "MOBILITY_LAKE_START": hour_key(START)}  # fmt: skip
    dev = Dev(env, root / "dagster_dev.log")
    try:
        dev.stop_sensors()
        shutil.copytree(landing, root / "lake" / "landing")
        if keys is not None:
            shutil.copytree(keys, root / "lake" / "keys")
        time.sleep(10)  # let the process tree settle before reading its idle memory
        figures: dict = {"runs_allowed": runs}
        with PeakMemory(dev.process.pid) as memory:
            figures["idle_gib"] = round(memory.now() / 2**30, 2)
            began = time.time()
            for job in (BRONZE_JOB, SILVER_JOB):
                backfill = dev.backfill(job, hours)
                Dev.wait(lambda b=backfill: dev.finished(b), f"the {job} backfill", root / "dagster_dev.log")
                ran = dev.backfill_runs(backfill)
                failed = [r for r in ran if r["status"] != "SUCCESS"]
                if failed:
                    raise RuntimeError(
                        f"{len(failed)} {job} run(s) did not succeed; see {root}/dagster_dev.log"
                    )
                work = {t["value"] for r in ran for t in r["tags"] if t["key"] == WORK_TAG}
                figures[job] = {"runs": len(ran), "most_at_once": most_at_once(ran), "work_tags": sorted(work),
                                "seconds": round(max(r["endTime"] for r in ran) - min(r["startTime"] for r in ran), 1)}  # fmt: skip
            figures["wall_s"] = round(time.time() - began, 1)
        figures["peak_gib"] = round(memory.peak / 2**30, 2)
    finally:
        dev.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--vehicles", type=int, default=100)
    parser.add_argument("--runs", default="1,2,4", help="run counts allowed at once, comma-separated")
    parser.add_argument("--root", type=Path, default=Path("/tmp/concurrency-bench"))
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    source = args.root / "source"
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(source), "MOBILITY_LAKE_START": hour_key(START)}))
    simulate(lake, START, args.hours, vehicles=args.vehicles, seed=7, defects=DefectShares())
    hours = [hour_key(START + timedelta(hours=n)) for n in range(args.hours)]
    results, reference = [], None
    for runs in [int(n) for n in args.runs.split(",")]:
        root = args.root / f"runs_{runs}"
        keys = (
            None if reference is None else args.root / f"runs_{results[0]['runs_allowed']}" / "lake" / "keys"
        )
        figures = backfill_day(root, source / "landing", keys, runs, hours)
        sums = checksums(root / "lake", same_ingestion_order=False)
        reference = reference or sums
        figures["tables"] = len(sums)
        figures["identical_to_first"] = sums == reference
        print(json.dumps(figures), flush=True)
        results.append(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"concurrency_{args.hours}h_{args.vehicles}v.json"
    out.write_text(json.dumps({"hours": args.hours, "vehicles": args.vehicles, "results": results}, indent=1))
    print(f"wrote {out}")
    if not all(r["identical_to_first"] for r in results):
        sys.exit("the lakes differ between run counts")


if __name__ == "__main__":
    main()
