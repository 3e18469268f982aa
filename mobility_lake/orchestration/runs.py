"""Materialize hour ranges as ordinary runs of the code location's jobs, as the UI launches them.

Each run is launched with `dagster job launch` (Dagster's public CLI) against a code server of the code
location that workspace.yaml names (`mobility_lake`), so it records its job's origin there: the
UI lists it under its job and on the timeline, and can re-execute it. One code server serves all the runs
of a call, so the definitions load once, not once per launch. Each run goes through the instance's run
coordinator: into the daemon's queue when a daemon runs, at once otherwise (`coordinator.py`). This module
then waits for each run and reads what it recorded.

Bronze runs over the arrival hours asked for; silver then over the same hours plus every earlier hour that
late rows among the new ones touch (within the lateness window), as the sensors would; then each gold job
over the partitions of its cadence that those hours touch. Each stretch runs in runs of at most a day of
hours (a week of days, four weeks of weeks): bounded memory, and progress as each ends.
"""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg

from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, decode_new_rows
from mobility_lake.orchestration.coordinator import daemon_running
from mobility_lake.orchestration.jobs import ALL_JOBS, ATTRIBUTE, LOCATION, MODULE, job_partitions
from mobility_lake.partitions import RANGE_END_TAG, RANGE_START_TAG, consecutive_ranges, hour_key, hours_in
from mobility_lake.placement import DueHours, due_hours
from mobility_lake.settings import PROJECT_ROOT, Settings, dagster_home

CHUNKS = {timedelta(hours=1): timedelta(hours=24), timedelta(days=1): timedelta(days=7)}  # else 4 weeks
INSTANCE_CONFIG = PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml"
DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
POLL_SECONDS = 0.25
SERVER_START_SECONDS = 180
QUEUED_NOTICE_SECONDS = 30


class RunFailed(RuntimeError):
    """A run failed (a step raised, or a blocking check failed); the message names the run to open in the UI."""


@dataclass(frozen=True)
class ChunkResult:
    job: str
    run_id: str
    start: datetime
    end: datetime
    seconds: float
    metadata: dict[str, dict[str, dict[str, object]]]  # asset -> partition -> its figures
    failed_checks: tuple[str, ...]  # "asset/check partition" of every check that did not pass


def persistent_instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME (default data/dagster_home, whose dagster.yaml is the project's); another
    DAGSTER_HOME without a dagster.yaml gets a copy of it.

    Opening a new home creates its SQLite schema, and two processes doing that at once make one fail
    (`alembic_version` stamped twice, a table created twice): the first opening is serialised by a lock file."""
    home = dagster_home()
    with open(home / ".instance.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        config = home / "dagster.yaml"
        if not config.exists():
            shutil.copyfile(INSTANCE_CONFIG, config)
        return dg.DagsterInstance.from_config(str(home))


def range_tags(
    partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime, end: datetime
) -> dict[str, str]:
    last = end - timedelta(microseconds=1)
    return {
        RANGE_START_TAG: partitions_def.get_partition_key_for_timestamp(start.timestamp()),
        RANGE_END_TAG: partitions_def.get_partition_key_for_timestamp(last.timestamp()),
    }


def complete_windows(
    partitions_def: dg.TimeWindowPartitionsDefinition, ranges: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The existing (complete) partitions of a coarser cadence that the hour ranges touch, as windows."""
    keys: set[str] = set()
    for start, end in ranges:
        for hour in hours_in(start, end):
            key = partitions_def.get_partition_key_for_timestamp(hour.timestamp())
            if partitions_def.has_partition_key(key):
                keys.add(key)
    windows = sorted(partitions_def.time_window_for_partition_key(k) for k in keys)
    merged: list[tuple[datetime, datetime]] = []
    for window in windows:
        if merged and merged[-1][1] == window.start:
            merged[-1] = (merged[-1][0], window.end)
        else:
            merged.append((window.start, window.end))
    return merged


def chunks(
    partitions_def: dg.TimeWindowPartitionsDefinition, ranges: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The ranges cut into runs of at most a day of hours, a week of days or four weeks of weeks."""
    if not ranges:  # e.g. hours before the first week: no partition, and no first key to size chunks by
        return []
    first = partitions_def.time_window_for_partition_key(partitions_def.get_first_partition_key())
    size = CHUNKS.get(first.end - first.start, timedelta(weeks=4))
    cut = []
    for start, end in ranges:
        while start < end:
            cut.append((start, min(start + size, end)))
            start = cut[-1][1]
    return cut


def run_config(settings: Settings) -> dict:
    """The settings the run works with, as resource config: a run the daemon starts uses the caller's lake."""
    return {
        "resources": {
            "lake": {"config": {"root": settings.root, "lateness_hours": settings.lateness_hours}},
            "quality_policy": {
                "config": {
                    "max_quarantine_share": settings.max_quarantine_share,
                    "quarantine_min_rows": settings.quarantine_min_rows,
                }
            },
        }
    }


@contextmanager
def code_server() -> Iterator[Path]:
    """A code server of the lake's code location for the duration of a call; yields a workspace file that
    points at it."""
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home())}
    with tempfile.TemporaryDirectory(prefix="mobility-lake-") as scratch:
        socket = Path(scratch) / "code.sock"
        log = (Path(scratch) / "code-server.log").open("w+")
        server = subprocess.Popen(
            [_dagster(), "api", "grpc", "-m", MODULE, "-a", ATTRIBUTE, "--location-name", LOCATION,
             "--socket", str(socket), "--log-level", "warning"],
            cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not socket.exists():
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    last = [line for line in log.read().splitlines() if line.strip()][-1:] or ["no output"]
                    raise RunFailed(f"the code server of {LOCATION} did not start: {last[0]}")
                time.sleep(0.2)
            workspace = Path(scratch) / "workspace.yaml"
            workspace.write_text(
                json.dumps(
                    {
                        "load_from": [
                            {
                                "grpc_server": {
                                    "socket": str(socket),
                                    "host": "localhost",
                                    "location_name": LOCATION,
                                }
                            }
                        ]
                    }
                )
            )
            yield workspace
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


def _dagster() -> str:
    return str(Path(sys.executable).parent / "dagster")


def launch(workspace: Path, job: str, tags: dict[str, str], config: dict) -> str:
    """Launch a run of `job` in the code location `workspace` points at; returns its run id."""
    run_id = str(uuid.uuid4())
    command = [
        _dagster(), "job", "launch", "-w", str(workspace), "-j", job, "--tags", json.dumps(tags),
        "--config-json", json.dumps(config), "--run-id", run_id,
    ]  # fmt: skip
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home())}
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        last = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
        raise RunFailed(f"could not launch a run of {job}: {last[0]}")
    return run_id


def wait(instance: dg.DagsterInstance, run_id: str, say: Callable[[str], None]) -> dg.DagsterRun:
    """Wait for a run to end, saying once when it waits in the daemon's queue."""
    began = time.monotonic()
    told = False
    while True:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in DONE:
            return run
        if not told and run is not None and run.status == dg.DagsterRunStatus.QUEUED:
            if time.monotonic() - began > QUEUED_NOTICE_SECONDS:
                state = "running" if daemon_running(instance) else "not running: start `dagster dev`"
                say(f"  run {run_id} waits in the run queue (daemon {state})")
                told = True
        time.sleep(POLL_SECONDS)


def recorded(instance: dg.DagsterInstance, run_id: str) -> tuple[dict, tuple[str, ...]]:
    """A finished run's figures per asset and partition, and the checks that did not pass."""
    metadata: dict[str, dict[str, dict[str, object]]] = {}
    failed = []
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    for entry in instance.all_logs(run_id, of_type=kinds):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.event_specific_data.materialization
            figures = {k: v.value for k, v in materialization.metadata.items()}
            metadata.setdefault(materialization.asset_key.to_user_string(), {})[materialization.partition] = (
                figures
            )
        else:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                failed.append(
                    f"{evaluation.asset_key.to_user_string()}/{evaluation.check_name} {evaluation.partition}"
                )
    return metadata, tuple(failed)


RunOnce = Callable[
    [str, dg.TimeWindowPartitionsDefinition, datetime, datetime], tuple[str, dg.DagsterRunStatus]
]


@contextmanager
def launched_runs(
    settings: Settings, instance: dg.DagsterInstance, say: Callable[[str], None]
) -> Iterator[RunOnce]:
    """Runs launched in the code location, each waited for: the id and end status of each."""
    with code_server() as workspace:

        def run_once(
            job: str, partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime, end: datetime
        ) -> tuple[str, dg.DagsterRunStatus]:
            run_id = launch(workspace, job, range_tags(partitions_def, start, end), run_config(settings))
            return run_id, wait(instance, run_id, say).status

        yield run_once


def run_chunks(
    run_once: RunOnce,
    job: str,
    partitions_def: dg.TimeWindowPartitionsDefinition,
    windows: list[tuple[datetime, datetime]],
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None],
) -> list[ChunkResult]:
    """Run a job over each window, one run after another; raises on the first failed run, naming it."""
    results = []
    for start, end in chunks(partitions_def, windows):
        began = time.monotonic()
        run_id, status = run_once(job, partitions_def, start, end)
        metadata, failed = recorded(instance, run_id)
        result = ChunkResult(job, run_id, start, end, time.monotonic() - began, metadata, failed)
        on_chunk(result)
        if status != dg.DagsterRunStatus.SUCCESS:
            raise RunFailed(
                f"run {run_id} of {job} for {hour_key(start)}..{hour_key(end)} ended {status.value}; "
                "see it in the Dagster UI"
            )
        results.append(result)
    return results


def bronze_due(bronze_chunks: list[ChunkResult], settings: Settings) -> DueHours:
    """The silver hours the chunks' new bronze rows touch within the lateness window, and the rows (and
    their hours) later than that."""
    arrivals = [
        row
        for chunk in bronze_chunks
        for partitions in chunk.metadata.values()
        for figures in partitions.values()
        if NEW_ROWS_METADATA in figures
        for row in decode_new_rows(figures[NEW_ROWS_METADATA])
    ]
    return due_hours(arrivals, settings.start, timedelta(hours=settings.lateness_hours))


def silver_ranges(
    bronze_chunks: list[ChunkResult], start: datetime, end: datetime, settings: Settings
) -> list[tuple[datetime, datetime]]:
    """[start, end) plus the hours that the new bronze rows touch within the lateness window."""
    due = {hour: {"silver"} for hour in hours_in(start, end)}
    due.update({hour: {"silver"} for hour in bronze_due(bronze_chunks, settings).hours})
    return [(s, e) for s, e, _ in consecutive_ranges(due)]


def materialize(
    settings: Settings,
    start: datetime,
    end: datetime,
    instance: dg.DagsterInstance,
    on_chunk: Callable[[ChunkResult], None] = lambda _: None,
    say: Callable[[str], None] = print,
    runs: Callable[[], AbstractContextManager[RunOnce]] | None = None,
) -> list[ChunkResult]:
    """Bronze over [start, end); silver over those hours and the earlier ones late rows touch; then the gold
    jobs, side by side, each over the partitions of its cadence that those silver hours touch. `runs`
    makes the runs (launched in the code location, by default)."""
    bronze_job, silver_job, *gold_jobs = ALL_JOBS
    partitions_of = job_partitions(settings).__getitem__
    with (runs or (lambda: launched_runs(settings, instance, say)))() as run_once:

        def run(job: str, windows: list[tuple[datetime, datetime]]) -> list[ChunkResult]:
            return run_chunks(run_once, job, partitions_of(job), windows, instance, on_chunk)

        bronze = run(bronze_job, [(start, end)])
        hours = silver_ranges(bronze, start, end, settings)
        results = bronze + run(silver_job, hours)
        with ThreadPoolExecutor(len(gold_jobs) or 1) as pool:
            gold = list(
                pool.map(lambda job: run(job, complete_windows(partitions_of(job), hours)), gold_jobs)
            )
    for chunk in gold:
        results += chunk
    return results
