"""The seed-hour benchmark at smoke scale: every engine runs, agrees on the result, and the figures are written.

The full hour (180M rows) runs on request; this keeps the command from rotting between those runs.
"""

import contextlib
import io
import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import seed_hour  # noqa: E402
from seed_input import DUPLICATE_SHARE, land_seed_hour  # noqa: E402

from mobility_lake.settings import load_settings  # noqa: E402
from mobility_lake.storage import Lake  # noqa: E402


def test_generated_hour_has_redeliveries_and_stays_in_its_hour(tmp_path: Path) -> None:
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    landed = land_seed_hour(lake, seed_hour.HOUR, 40_000)
    frame = pl.read_parquet(tmp_path / "landing/veh.events.raw/**/*.parquet")
    assert frame.height == landed.rows and landed.files >= 4
    copies = frame.select(pl.struct("source", "id").is_duplicated().sum()).item()
    assert 0 < copies <= 2 * landed.rows * DUPLICATE_SHARE
    # a redelivery repeats the whole event, not only its identity
    assert frame.filter(pl.struct("source", "id").is_duplicated()).unique().height == copies // 2
    times = frame["time"].str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_zone="UTC")
    assert times.min() >= seed_hour.HOUR and times.max() < seed_hour.HOUR + timedelta(hours=1)


@dataclass
class Run:
    results: list[dict]
    out: Path
    printed: str


@pytest.fixture(scope="module")
def every_engine(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The benchmark at 40k rows with every engine, as the CI runs it."""
    out, printed = tmp_path_factory.mktemp("seed"), io.StringIO()
    with contextlib.redirect_stdout(printed):
        results = seed_hour.main(["--rows", "40000", "--out", str(out)])
    return Run(results, out, printed.getvalue())


def test_every_engine_agrees_and_figures_are_written(every_engine: Run) -> None:
    results, tmp_path = every_engine.results, every_engine.out
    assert [r["engine"] for r in results] == list(seed_hour.ENGINES)
    silver = {(r["silver_rows"], r["quarantine_rows"]) for r in results if r["engine"] != "floor"}
    assert len(silver) == 1
    ((silver_rows, quarantine_rows),) = silver
    assert 0 < quarantine_rows < silver_rows
    report = json.loads(next(tmp_path.glob("seed_hour_*.json")).read_text())
    assert report["results"] == results and report["rows"] > silver_rows + quarantine_rows
    assert next(tmp_path.glob("seed_hour_*.png")).stat().st_size > 0
    (project,) = [r for r in results if r["engine"] == "project"]
    assert {"bronze_hourly", "silver_hourly", "gold_weekly"} <= set(project["stages"])
    # bronze, then silver, then the three gold jobs side by side: the stages fit inside the run's wall time
    stages = project["stages"]
    gold = max(seconds for job, seconds in stages.items() if job.startswith("gold_"))
    assert stages["bronze_hourly"] + stages["silver_hourly"] + gold < project["seconds"]
    # each job's peak memory is its own share of the run's, attributed by when the job ended
    assert project["stage_peak_gib"].keys() == project["stages"].keys()
    assert 0 < max(project["stage_peak_gib"].values()) <= project["peak_rss_gib"]
    printed = every_engine.printed
    assert all(engine in printed for engine in seed_hour.ENGINES) and "x floor" in printed


def test_the_seed_hour_landed_as_avro_gives_the_rows_parquet_gives(tmp_path: Path) -> None:
    parquet = seed_hour.main(["--rows", "40000", "--engines", "project", "--out", str(tmp_path / "p")])
    avro = seed_hour.main(
        ["--rows", "40000", "--engines", "project", "--landing", "avro", "--out", str(tmp_path)]
    )
    counts = ("silver_rows", "quarantine_rows")
    assert [r[c] for r in avro for c in counts] == [r[c] for r in parquet for c in counts]
    report = json.loads(
        (
            tmp_path
            / f"seed_hour_{json.loads(next((tmp_path / 'p').glob('*.json')).read_text())['rows']}_avro.json"
        ).read_text()
    )
    assert report["landing"] == "avro" and report["results"][0]["stages"]["bronze_hourly"] > 0
    with pytest.raises(SystemExit):
        seed_hour.main(["--rows", "40000", "--landing", "avro", "--out", str(tmp_path)])  # peers read Parquet


def test_disagreeing_engines_fail_the_run() -> None:
    results = [
        {"engine": "project", "silver_rows": 10, "quarantine_rows": 1},
        {"engine": "duckdb", "silver_rows": 11, "quarantine_rows": 1},
    ]
    with pytest.raises(RuntimeError, match="disagree"):
        seed_hour.check_agreement(results)


def test_a_failing_engine_is_reported_and_the_others_still_count(tmp_path, monkeypatch, capsys) -> None:
    run_engine = seed_hour.run_engine

    def out_of_disk(engine, *args):
        if engine == "duckdb":
            raise RuntimeError("peers.py duckdb exited with 1")
        return run_engine(engine, *args)

    monkeypatch.setattr(seed_hour, "run_engine", out_of_disk)
    results = seed_hour.main(["--rows", "20000", "--engines", "floor,duckdb", "--out", str(tmp_path)])
    assert [r["engine"] for r in results] == ["floor", "duckdb"]
    assert results[0]["seconds"] > 0 and results[1] == {
        "engine": "duckdb",
        "error": "peers.py duckdb exited with 1",
    }
    assert "duckdb   failed: peers.py duckdb exited with 1" in capsys.readouterr().out
    assert json.loads(next(tmp_path.glob("seed_hour_*.json")).read_text())["results"] == results
