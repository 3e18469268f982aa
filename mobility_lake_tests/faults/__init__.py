"""The fault suite (issue 12): materializes killed with SIGKILL, raced against each other and re-run, each
followed by the lake's invariants (`lake_state.py`).

This module starts and kills the materializing processes. Most use a light materialize, `main` below: the
CLI's own `_materialize` with its runs made in the process, as the end-to-end tests make them, so a trial
costs one process start-up instead of a code server and a run worker per job. It prints a line as each
job starts and ends, which is how a trial aims a kill at a stage, and a line before each commit of data
files that polars wrote; asked to, it kills its own process group there, between writing files and
committing them, the one moment that leaves files no commit refers to and that a random moment rarely
hits. Some crash trials, one for every six light ones, go through the real `mobility-lake materialize`
(code server, `dagster job launch`, run workers).
"""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOURS = 3
END = START + timedelta(hours=HOURS)
VEHICLES = 20
SIMULATOR_SEED = 3
MARK = "@fault-suite"  # "@fault-suite start|end <job> <time>"
COMMIT_MARK = "@fault-suite-commit"  # "@fault-suite-commit <stage> <n>"
MARKED = re.compile(rf"{MARK} (start|end) (\w+) ([\d.]+)")
COMMIT_MARKED = re.compile(rf"{COMMIT_MARK} (\w+) (\d+)")
KILL_AT_COMMIT = "MOBILITY_LAKE_FAULT_KILL_AT_COMMIT"  # "<stage>:<n>": kill before the stage's nth commit
STAGES = ("bronze", "silver", "gold")
EXIT_SECONDS = 10  # how long a killed process tree may take to disappear


@dataclass(frozen=True)
class Reference:
    """The suite's landing files materialized once without faults, what every trial is compared with."""

    root: Path
    stage_spans: dict[str, tuple[float, float]]  # stage -> (start, end), seconds since the process started
    commits: Counter  # stage -> commits of files polars wrote

    def landed_copy(self, root: Path) -> Path:
        """A new lake root holding a copy of the reference's landing files and its subjects' keys (so that
        sealed bronze values compare equal), and nothing else."""
        shutil.copytree(self.root / "landing", root / "landing")
        shutil.copytree(self.root / "keys", root / "keys")
        return root


def fault_seed() -> int:
    """The seed of every random choice of the suite; set MOBILITY_LAKE_FAULT_SEED to replay a failure."""
    return int(os.environ.get("MOBILITY_LAKE_FAULT_SEED", "12"))


def fault_trials(default: int) -> int:
    """How many trials to run: `default` fits CI; MOBILITY_LAKE_FAULT_TRIALS raises it for a long run."""
    return max(int(os.environ.get("MOBILITY_LAKE_FAULT_TRIALS", default)), 1)


def trial_rng(test: str, trial: int) -> tuple[int, random.Random]:
    """The seed of one trial and its generator: the seed in an assertion message replays that trial."""
    seed = fault_seed() * 1000 + trial
    return seed, random.Random(f"{test}:{seed}")


def stage_of(job: str) -> str:
    """bronze_hourly -> bronze, gold_daily -> gold."""
    return job.split("_")[0]


def hour_arg(hour: datetime) -> str:
    return f"{hour:%Y-%m-%dT%H:%M}"


def lake_env(root: Path, home: Path) -> dict[str, str]:
    """The caller's environment with only this lake's settings: no MOBILITY_LAKE_*, AWS_* or DAGSTER_*
    leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOBILITY_LAKE_", "AWS_", "DAGSTER_"))}
    home.mkdir(parents=True, exist_ok=True)
    return env | {
        "MOBILITY_LAKE_ROOT": str(root),
        "MOBILITY_LAKE_START": "2026-03-01-00:00",
        "DAGSTER_HOME": str(home),
    }


@dataclass
class Materialize:
    """One materialize in its own session (process group), its output collected by a thread: a kill must
    not wait on a pipe that an escaped process still holds."""

    process: subprocess.Popen
    env: dict[str, str]
    log: Path  # its stderr
    began: float = field(default_factory=time.time)
    lines: list[str] = field(default_factory=list)
    ended: bool = False
    survivors: list[str] = field(default_factory=list)  # processes still alive after `kill`

    def __post_init__(self) -> None:
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    @classmethod
    def start(
        cls,
        root: Path,
        home: Path,
        start: datetime,
        end: datetime,
        cli: bool = False,
        name: str = "run",
        kill_at_commit: str | None = None,
    ) -> "Materialize":
        """Materialize [start, end) of the lake at `root` with DAGSTER_HOME `home`, its stderr in
        `home`/`name`.log; through the real CLI when `cli`, else the light materialize, which kills
        itself before a commit when `kill_at_commit` names one ("silver:3")."""
        args = ["--start", hour_arg(start), "--end", hour_arg(end)]
        command = (
            [str(Path(sys.executable).parent / "mobility-lake"), "materialize", *args]
            if cli
            else [sys.executable, "-c", "from mobility_lake_tests.faults import main; main()", *args]
        )
        env = lake_env(root, home) | ({KILL_AT_COMMIT: kill_at_commit} if kill_at_commit else {})
        with (home / f"{name}.log").open("a") as stderr:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        return cls(process, env, home / f"{name}.log")

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def read_until(self, wanted: str, timeout: float = 300) -> bool:
        """Wait for an output line containing `wanted`; False when the output ended first."""
        with self._changed:
            self._changed.wait_for(lambda: self.ended or any(wanted in line for line in self.lines), timeout)
            return any(wanted in line for line in self.lines)

    def finish(self, timeout: float = 300) -> int:
        """Wait for the end and its last output; the exit status."""
        status = self.process.wait(timeout)
        with self._changed:
            self._changed.wait_for(lambda: self.ended, EXIT_SECONDS)
        return status

    def _found(self, pattern: re.Pattern) -> list[tuple[str, ...]]:
        """Where the output matches: anywhere in a line, since a line the CLI code prints from another
        thread may share it."""
        with self._changed:
            return [match.groups() for line in self.lines for match in pattern.finditer(line)]

    def marks(self) -> list[tuple[str, str, float]]:
        """(start|end, job, seconds since the process started) of each job the light materialize began
        or ended so far."""
        return [(what, job, float(when) - self.began) for what, job, when in self._found(MARKED)]

    def commits(self) -> Counter:
        """Per stage, the commits of files polars wrote that the light materialize began."""
        return Counter(stage for stage, _ in self._found(COMMIT_MARKED))

    def stage_hit(self) -> str:
        """The stage whose job had started and not ended when the output stopped, else where it stopped
        ('before bronze', 'after silver')."""
        marks = self.marks()
        started = [job for what, job, _ in marks if what == "start"]
        ended = {job for what, job, _ in marks if what == "end"}
        if running := [job for job in started if job not in ended]:
            return stage_of(running[0])
        return f"after {stage_of(marks[-1][1])}" if marks else "before bronze"

    def stage_spans(self) -> dict[str, tuple[float, float]]:
        """Per stage, when its first job started and its last job ended, in seconds since the start."""
        spans: dict[str, tuple[float, float]] = {}
        for _, job, when in self.marks():
            first, last = spans.get(stage_of(job), (when, when))
            spans[stage_of(job)] = (min(first, when), max(last, when))
        return spans

    def kill(self) -> list[str]:
        """SIGKILL the whole process group (unless it is gone already, having killed itself); the
        processes of this materialize still alive afterwards, which are then killed one by one."""
        tree = self._tree()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.finish(timeout=EXIT_SECONDS)
        deadline = time.monotonic() + EXIT_SECONDS
        while (alive := [p for p in tree + self._tree() if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.survivors = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in alive]
        for process in alive:  # ours, and not to be left writing into later trials
            process.kill()
        return self.survivors

    def stop(self) -> None:
        """Kill it if it still runs: no trial leaves a process writing into the next."""
        if self.process.poll() is None:
            self.kill()

    def _tree(self) -> list[psutil.Process]:
        """This materialize's processes: its descendants, and any process whose environment names its lake,
        which finds a run worker that left the process group too."""
        tree = []
        try:
            tree = [psutil.Process(self.process.pid), *psutil.Process(self.process.pid).children(True)]
        except psutil.NoSuchProcess:
            pass
        root = self.env["MOBILITY_LAKE_ROOT"]
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.environ().get("MOBILITY_LAKE_ROOT") == root:
                    tree.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return tree


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def main() -> None:
    """The light materialize: `mobility-lake materialize --start T --end T`, runs made in this process."""
    from contextlib import contextmanager

    from deltalake import DeltaTable

    from mobility_lake.cli import _materialize, build_parser
    from mobility_lake.definitions import build_definitions
    from mobility_lake.orchestration.runs import persistent_instance
    from mobility_lake.settings import load_settings
    from mobility_lake_tests.in_process import in_process_runs

    args = build_parser().parse_args(["materialize", *sys.argv[1:]])
    settings = load_settings()
    instance = persistent_instance()
    defs = build_definitions(settings)
    stage, commits = [""], Counter()
    commit_files = DeltaTable.create_write_transaction  # how delta-rs commits the files polars wrote

    def counted_commit(table: DeltaTable, *args, **kwargs):
        commits[stage[0]] += 1
        print(f"{COMMIT_MARK} {stage[0]} {commits[stage[0]]}", flush=True)
        if os.environ.get(KILL_AT_COMMIT) == f"{stage[0]}:{commits[stage[0]]}":
            os.killpg(os.getpgrp(), signal.SIGKILL)
        return commit_files(table, *args, **kwargs)

    DeltaTable.create_write_transaction = counted_commit

    @contextmanager
    def marked_runs():
        with in_process_runs(defs, instance) as run_once:

            def marked(job, partitions_def, start, end):
                print(f"{MARK} start {job} {time.time():.3f}", flush=True)
                stage[0] = stage_of(job)
                done = run_once(job, partitions_def, start, end)
                print(f"{MARK} end {job} {time.time():.3f}", flush=True)
                return done

            yield marked

    _materialize(settings, args.start, args.end, instance, runs=marked_runs)
