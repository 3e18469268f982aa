"""An erasure under faults: killed in the middle it leaves every table readable and a second run completes
it; it never runs while a writer is active, and writers wait for it (issue 13)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from mobility_lake.cli import main
from mobility_lake.lake_lock import LakeLocked, acquire, holder, release, wait_while_locked
from mobility_lake.orchestration.runs import persistent_instance
from mobility_lake.storage import LAYERS
from mobility_lake_tests.test_gdpr import EMAIL, PHONE, build_lake, places_holding

# progress lines of `gdpr erase` after which the process is killed: before any change is made, between
# two tables' rewrites, and after the keys are gone but before the verification
KILL_AFTER = ("finding the subject", "silver/booking_events", "keys/subject_keys")


def lake_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    root = str(tmp_path / "lake")
    return {
        "MOBILITY_LAKE_ROOT": root,
        "DAGSTER_HOME": str(home),
        "MOBILITY_LAKE_START": "2026-03-01-00:00",
    }, home


def killed_erasure(user: str, marker: str) -> bool:
    """Run `gdpr erase` in its own process group and SIGKILL it right after it prints `marker`; whether
    it was killed before it ended on its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mobility_lake.cli", "gdpr", "erase", "--user-id", user],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    for line in process.stderr:
        if marker.encode() in line:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return True
    process.wait(timeout=30)
    return False


def unreadable_tables(root: Path) -> list[str]:
    failed = []
    for log in sorted(root.glob("*/*/_delta_log")):
        if log.parent.parent.name not in LAYERS:
            continue
        try:
            DeltaTable(str(log.parent)).to_pyarrow_table()
        except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
            failed.append(f"{log.parent}: {type(exc).__name__}")
    return failed


@pytest.mark.parametrize("marker", KILL_AFTER)
def test_a_killed_erasure_leaves_every_table_readable_and_running_it_again_completes_it(
    marker, tmp_path, monkeypatch, capsys
):
    env, home = lake_env(tmp_path)
    lake, user, _ = build_lake(env, monkeypatch)
    masks = set(lake.read("silver", "app_events").filter(lake.read("silver", "app_events")["user_id"] == user)
                .select("email", "phone").drop_nulls().rows()[0])  # fmt: skip
    assert killed_erasure(user, marker), f"the erasure ended before printing {marker!r}"
    assert holder(lake) is not None, "the killed erasure's lock stays"
    assert unreadable_tables(tmp_path / "lake") == []
    assert main(["gdpr", "erase", "--user-id", user]) == 0, capsys.readouterr().err
    assert holder(lake) is None
    assert places_holding(lake, home, {user, EMAIL, PHONE, *masks}) == []


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("gdpr-lock")
    env, home = lake_env(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        lake, user, _ = build_lake(env, patch)
        yield lake, user, patch


def test_an_erasure_refuses_while_a_run_is_in_progress(built, capsys):
    lake, user, _ = built
    instance = persistent_instance()

    @dg.op
    def writing() -> None: ...

    @dg.job
    def some_writer() -> None:
        writing()

    run = instance.create_run_for_job(some_writer, status=dg.DagsterRunStatus.STARTED)
    try:
        assert main(["gdpr", "erase", "--user-id", user]) == 1
        error = capsys.readouterr().err
        assert f"1 run(s) in progress (first {run.run_id})" in error and user not in error
        assert holder(lake) is None, "a refused erasure releases the lock"
        assert (
            lake.read("silver", "booking_events")
            .filter(lake.read("silver", "booking_events")["user_id"] == user)
            .height
        )
    finally:
        instance.report_run_canceled(run)


def test_an_erasure_refuses_while_another_holds_the_lake(built, capsys):
    lake, user, _ = built
    acquire(lake, "erasure-other")
    try:
        assert main(["gdpr", "erase", "--user-id", user]) == 1
        assert "erasure-other holds the lake" in capsys.readouterr().err
        assert holder(lake)["request_id"] == "erasure-other"
    finally:
        release(lake, "erasure-other")


def test_a_writer_waits_while_an_erasure_holds_the_lake(built):
    lake, _, _ = built
    said: list[str] = []
    acquire(lake, "erasure-waited-for")
    try:
        began = time.monotonic()
        with pytest.raises(LakeLocked, match="still holds the lake"):
            wait_while_locked(lake, said.append, max_wait=1)
        assert time.monotonic() - began >= 1
        assert said == ["waiting for erasure-waited-for to finish before writing"]
    finally:
        release(lake, "erasure-waited-for")
    wait_while_locked(lake, said.append, max_wait=0)
    assert len(said) == 1
