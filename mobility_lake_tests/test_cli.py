import subprocess
import sys

import pytest

from mobility_lake.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "--start", "yesterday", "--hours", "2"], "expected e.g. 2026-03-10T08:00"),
        (["simulate", "--start", "2026-03-10T08:30", "--hours", "2"], "not a UTC whole hour"),
        (["simulate", "--start", "2026-03-10T08:00", "--hours", "0"], "positive whole number"),
        (["simulate", "--start", "2026-03-10T08:00", "--hours", "2", "--seed", "-3"], "whole number >= 0"),
        (["simulate", "--hours", "2"], "--start"),
        (["materialize", "--start", "2026-03-10T08:00", "--end", "2026-03-10T08:00"], "--end must be after"),
        (
            ["materialize", "--start", "2024-03-10T08:00", "--end", "2024-03-10T09:00"],
            "before MOBILITY_LAKE_START",
        ),
        (["teleport"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, expected, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1


def test_a_bad_setting_exits_2_naming_the_variable(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mobility_lake.cli",
            "simulate",
            "--start",
            "2026-03-10T08:00",
            "--hours",
            "1",
        ],
        env={"MOBILITY_LAKE_LATENESS_HOURS": "lots", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: MOBILITY_LAKE_LATENESS_HOURS is 'lots'")
    assert completed.stderr.count("\n") == 1
