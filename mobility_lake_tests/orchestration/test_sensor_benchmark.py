"""The sensor-tick benchmark at smoke scale, so the command does not rot between full runs."""

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import sensor_tick  # noqa: E402


def test_the_benchmark_ticks_a_young_and_an_older_lake_and_prints_the_ratio(tmp_path, capsys) -> None:
    results = sensor_tick.main(["--days", "1", "--ticks", "3", "--writes", "2", "--root", str(tmp_path)])
    assert [r["lake"] for r in results] == ["1 hour", "1 days"]
    assert [r["folders"] for r in results] == [5, 120]
    assert all(r["first"] > 0 and r["median"] > 0 and r["after_write"] > 0 for r in results)
    printed = capsys.readouterr().out
    assert "steady tick, old lake / young lake" in printed and "after a bronze write" in printed
