"""A materialize killed with SIGKILL in bronze, silver or gold leaves every table readable at a committed
version, and a re-run of the same hours then leaves the lake exactly as a run without the kill does
(CONTRACT §5), with no file that no commit refers to.

Most kills aim at a random moment of a stage: the trial waits for the stage to begin, then for a random
part of the time the stage took in the reference run. The others land before a random one of the stage's
commits of files polars wrote (bronze and silver; gold's writes are delta-rs's own, files and commit in
one call). Where each kill landed is read back from what the process had said, and reported per stage.
Between the kill and the re-run every file is made two hours older: the time that passes before someone
re-runs, after which files that no commit refers to are no longer a live writer's.
"""

import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import dagster as dg

from mobility_lake_tests.faults import (
    END,
    MARK,
    STAGES,
    START,
    Materialize,
    Reference,
    fault_trials,
    trial_rng,
)
from mobility_lake_tests.faults.lake_state import (
    age_files,
    committed_state_violations,
    tables,
    unreferenced_files,
    violations,
)

LIGHT_TRIALS = 6  # each stage at a random moment, then bronze and silver before a commit; ~16 s each
IDLE = timedelta(hours=2)


@dataclass(frozen=True)
class Trial:
    seed: int
    stage: str  # aimed at
    delay: float = 0.0  # seconds into the stage, or into a step of it (CLI)
    commit: int | None = None  # or: before the stage's nth commit of files polars wrote

    def __str__(self) -> str:
        where = f"before commit {self.commit}" if self.commit else f"{self.delay:.2f} s in"
        return f"seed {self.seed}, {self.stage} {where}"


Kill = Callable[[Materialize], str]  # kills the run; where the kill landed


def crash_and_rerun(
    reference: Reference, root: Path, home: Path, trial: Trial, kill: Kill, cli: bool = False
) -> tuple[str, list[str], int]:
    """Start a materialize, `kill` it, re-run it: (where the kill landed, broken invariants, files the kill
    left unreferenced)."""
    commit = f"{trial.stage}:{trial.commit}" if trial.commit else None
    run = Materialize.start(root, home, START, END, cli=cli, kill_at_commit=commit)
    try:
        hit = kill(run)
    except AssertionError as exc:
        raise AssertionError(f"{trial}: {exc}") from exc
    finally:
        run.stop()
    context = f"{trial}, landed in {hit}"
    problems = [f"{context}: survived the kill: {p}" for p in run.survivors]
    problems += [f"{context}, after the kill: {p}" for p in committed_state_violations(root)]
    left = sum(len(files) for files in unreferenced_files(root).values())
    age_files(root, IDLE)
    rerun = Materialize.start(root, home, START, END, cli=cli, name="rerun")
    try:
        status = rerun.finish()
    finally:
        rerun.stop()
    if status != 0:
        tail = rerun.log.read_text()[-2000:]
        return hit, [*problems, f"{context}: the re-run failed: {rerun.lines[-3:]}\n{tail}"], left
    problems += [f"{context}, after the re-run: {p}" for p in violations(root, reference.root)]
    return hit, problems, left


def kill_in_stage(trial: Trial) -> Kill:
    """Kill the light materialize `trial.delay` seconds after its stage began."""

    def kill(run: Materialize) -> str:
        assert run.read_until(f"{MARK} start {trial.stage}"), f"the run ended before it: {run.lines[-3:]}"
        time.sleep(trial.delay)
        run.kill()
        return run.stage_hit()

    return kill


def kill_before_commit(run: Materialize) -> str:
    """The light materialize kills its own process group before the commit; wait for that."""
    status = run.finish()
    run.kill()
    assert status == -signal.SIGKILL, f"the run ended with {status} before that commit: {run.lines[-3:]}"
    return run.stage_hit()


def test_materializes_killed_in_each_stage_are_repaired_by_a_rerun(
    reference: Reference, fresh_lake, tmp_path
):
    trials = fault_trials(LIGHT_TRIALS)
    landed, left_unreferenced, problems = Counter(), 0, []
    began = time.monotonic()
    for number in range(trials):
        seed, rng = trial_rng("crash", number)
        stage = STAGES[number % len(STAGES)]
        first, last = reference.stage_spans[stage]
        if (number // len(STAGES)) % 2 and reference.commits[stage]:
            trial, kill = (
                Trial(seed, stage, commit=rng.randint(1, reference.commits[stage])),
                kill_before_commit,
            )
        else:
            trial = Trial(seed, stage, delay=rng.uniform(0, last - first))
            kill = kill_in_stage(trial)
        hit, found, left = crash_and_rerun(
            reference, fresh_lake(f"lake-{number}"), tmp_path / f"home-{number}", trial, kill
        )
        landed[f"{hit}{' (before a commit)' if trial.commit else ''}"] += 1
        left_unreferenced += left > 0
        problems += found
    print(
        f"\ncrash, light materialize: {trials} trials in {time.monotonic() - began:.0f} s; kills landed "
        f"{dict(landed)}; {left_unreferenced} left files that no commit refers to"
    )
    assert problems == [], "\n".join(problems)


def test_a_killed_cli_materialize_leaves_no_process_and_a_cli_rerun_repairs_the_lake(
    reference: Reference, fresh_lake, tmp_path
):
    """The real path: code server, `dagster job launch`, run workers; one trial for every six light ones.
    The kill lands a random moment after a random step of the aimed stage started, and the re-run,
    through the CLI too, finds the runs it cut short left STARTED in the instance."""
    trials = max(fault_trials(LIGHT_TRIALS) // LIGHT_TRIALS, 1)
    problems, began = [], time.monotonic()
    for number in range(trials):
        seed, rng = trial_rng("cli-crash", number)
        stage = rng.choice(STAGES)
        steps = [name.replace("/", "__") for name in tables(reference.root) if name.startswith(stage)]
        step = rng.choice(steps)
        first, last = reference.stage_spans[stage]
        trial = Trial(seed, stage, delay=rng.uniform(0, (last - first) / len(steps)))  # about a step
        home = tmp_path / f"home-{number}"
        hit, found, left = crash_and_rerun(
            reference, fresh_lake(f"lake-{number}"), home, trial, kill_in_step(home, step, trial), cli=True
        )
        print(
            f"\ncrash, CLI: {trial} after {step} started, landed: {hit}; {left} file(s) no commit refers to"
        )
        problems += found
    print(f"\ncrash, CLI: {trials} trial(s) in {time.monotonic() - began:.0f} s")
    assert problems == [], "\n".join(problems)


def kill_in_step(home: Path, step: str, trial: Trial) -> Kill:
    """Kill the CLI `trial.delay` seconds after a run started `step`."""

    def kill(run: Materialize) -> str:
        assert run.read_until("materializing"), f"the CLI ended before materializing: {run.lines[-3:]}"
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert _step_started(instance, step), f"{step} did not start"
            time.sleep(trial.delay)
            run.kill()
            return _where(instance)

    return kill


def _step_started(instance: dg.DagsterInstance, step: str, timeout: float = 240) -> bool:
    """Wait until a run, running or ended, started the step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs():
            if any(
                e.step_key == step
                for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
            ):
                return True
        time.sleep(0.05)
    return False


def _where(instance: dg.DagsterInstance) -> str:
    """The steps that runs left STARTED had begun and not ended, or the last run that ended."""
    steps = []
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        events = instance.all_logs(run.run_id)
        began = [e.step_key for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START]
        ended = {e.step_key for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS}
        steps += [f"{run.job_name} run (left STARTED) in {s}" for s in began if s not in ended]
    if steps:
        return ", ".join(steps)
    last = instance.get_runs(limit=1)
    return f"after {last[0].job_name}" if last else "before any run"
