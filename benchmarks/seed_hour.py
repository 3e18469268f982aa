"""One hour of fleet telemetry through the project and its peers, side by side, on the same input.

    .venv/bin/python benchmarks/seed_hour.py                      # CI smoke scale: 200k rows
    .venv/bin/python benchmarks/seed_hour.py --rows 180000000     # the seed hour: 50,000 vehicles at 1 s
    .venv/bin/python benchmarks/seed_hour.py --engines project --landing avro   # bronze's cost on Avro

The input is generated column-wise (`seed_input.py`) as Parquet landing files (or Avro, project only). Then, each in its own
process so that its peak memory is its own:
- floor: read the landing files and write them back unchanged (polars), the least any engine can do;
- project: `mobility-lake materialize` for the hour, as a user runs it: bronze, silver and gold through
  Dagster, on a local lake with a fresh SQLite instance;
- duckdb, spark (local[2]), pandas: the same work on plain Parquet (`peers.py`); pandas only up to
  --pandas-max-rows, beyond which it does not fit in memory.
Peak memory is the whole process tree's resident memory, sampled every 0.1 s. Every engine must write the
same numbers of silver and quarantine rows, or the run fails: a faster wrong answer is no comparison.
The figures are printed as a table and written as JSON and a PNG chart under --out.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

BENCHMARKS = Path(__file__).resolve().parent
PROJECT = BENCHMARKS.parent
HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)
ENGINES = ("floor", "project", "duckdb", "spark", "pandas")
SAMPLE_SECONDS = 0.1
STAGE_LINE = re.compile(r"^  (\w+) \S+ \.\. \S+: .* in ([\d.]+) s \(run \S+\)$")


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str, list[float]]:
    """Run a command; its wall seconds, the peak resident GiB of its process tree, its stdout, and for each
    stdout line the peak GiB since the line before it (which stage held the memory)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True)
    lines: list[str] = []
    line_peaks: list[float] = []
    since_line = [0]

    def read_lines() -> None:
        for line in process.stdout or ():
            lines.append(line)
            line_peaks.append(since_line[0] / 2**30)
            since_line[0] = 0

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    root = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree if p.is_running())
            peak, since_line[0] = max(peak, rss), max(since_line[0], rss)
        except psutil.NoSuchProcess:
            pass
        time.sleep(SAMPLE_SECONDS)
    reader.join()
    seconds = time.perf_counter() - began
    if process.returncode:
        raise RuntimeError(f"{' '.join(command[:3])} exited with {process.returncode}")
    return seconds, peak / 2**30, "".join(lines), line_peaks


def project_counts(lake_root: Path) -> dict[str, int]:
    """Silver and quarantine rows of the hour, read back from the project's Delta tables."""
    import polars as pl

    counts = {}
    for layer, column in (("silver", "event_time"), ("quarantine", "partition_hour")):
        scan = pl.scan_delta(str(lake_root / layer / "vehicle_telemetry"))
        in_hour = (pl.col(column) >= HOUR) & (pl.col(column) < HOUR + timedelta(hours=1))
        counts[f"{layer}_rows"] = scan.filter(in_hour).select(pl.len()).collect().item()
    return counts


def stage_figures(stdout: str, line_peaks: list[float]) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds and peak resident GiB per job (bronze_hourly, silver_hourly, gold_*), from the lines
    `mobility-lake materialize` prints as each job ends."""
    seconds: dict[str, float] = {}
    peaks: dict[str, float] = {}
    for line, peak in zip(stdout.splitlines(keepends=True), line_peaks, strict=True):
        found = STAGE_LINE.match(line)
        if found:
            job = found[1]
            seconds[job] = round(seconds.get(job, 0.0) + float(found[2]), 1)
            peaks[job] = round(max(peaks.get(job, 0.0), peak), 2)
    return seconds, peaks


def run_engine(engine: str, workdir: Path, lake_root: Path, grid: Path) -> dict:
    python = sys.executable
    if engine == "project":
        env = {
            **os.environ,
            "MOBILITY_LAKE_ROOT": str(lake_root),
            "MOBILITY_LAKE_START": f"{HOUR - timedelta(days=1):%Y-%m-%d-%H:%M}",
            "DAGSTER_HOME": str(workdir / "dagster_home"),
        }
        (workdir / "dagster_home").mkdir(parents=True, exist_ok=True)
        cli = str(Path(python).parent / "mobility-lake")
        end = HOUR + timedelta(hours=1)
        command = [cli, "materialize", "--start", f"{HOUR:%Y-%m-%dT%H:%M}", "--end", f"{end:%Y-%m-%dT%H:%M}"]
        seconds, peak, stdout, line_peaks = measure(command, env)
        stages, stage_peaks = stage_figures(stdout, line_peaks)
        counts = {**project_counts(lake_root), "stages": stages, "stage_peak_gib": stage_peaks}
        for layer in (
            "bronze",
            "silver",
            "gold",
            "quarantine",
        ):  # as the peers' outputs go: disk for the next
            shutil.rmtree(lake_root / layer, ignore_errors=True)
    else:
        landing = lake_root / "landing"
        out = workdir / engine
        seconds, peak, stdout, _ = measure(
            [python, str(BENCHMARKS / "peers.py"), engine, str(landing), str(out), str(grid)]
        )
        counts = json.loads(stdout.strip().splitlines()[-1])
        shutil.rmtree(out, ignore_errors=True)
    return {"engine": engine, "seconds": round(seconds, 1), "peak_rss_gib": round(peak, 2), **counts}


def table(results: list[dict], rows: int) -> str:
    """The figures as a text table: rows, wall s, rows/s, peak RSS and the ratio to the floor and to us."""
    by_engine = {r["engine"]: r for r in results}
    floor = by_engine.get("floor", {}).get("seconds")
    ours = by_engine.get("project", {}).get("seconds")
    lines = [
        f"{'engine':<8} {'rows':>12} {'wall s':>8} {'rows/s':>11} {'peak GiB':>9} {'x floor':>8} "
        f"{'x project':>10}"
    ]
    for r in results:
        if "error" in r:
            lines.append(f"{r['engine']:<8} failed: {r['error']}")
            continue
        ratio_floor = f"{r['seconds'] / floor:.2f}" if floor else "-"
        ratio_ours = f"{r['seconds'] / ours:.2f}" if ours else "-"
        lines.append(
            f"{r['engine']:<8} {rows:>12,} {r['seconds']:>8.1f} {rows / r['seconds']:>11,.0f} "
            f"{r['peak_rss_gib']:>9.2f} {ratio_floor:>8} {ratio_ours:>10}"
        )
    return "\n".join(lines)


def chart(results: list[dict], rows: int, path: Path) -> None:
    """Wall seconds and peak memory per engine, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [r for r in results if "error" not in r]
    names = [r["engine"] for r in results]
    figure, (wall, memory) = plt.subplots(1, 2, figsize=(10, 4))
    wall.bar(names, [r["seconds"] for r in results], color="#4C72B0")
    wall.set_ylabel("wall seconds")
    memory.bar(names, [r["peak_rss_gib"] for r in results], color="#DD8452")
    memory.set_ylabel("peak RSS, GiB")
    figure.suptitle(f"one hour of telemetry, {rows:,} rows (bronze, silver, gold)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def check_agreement(results: list[dict]) -> None:
    """Every engine that wrote silver wrote the same numbers of silver and quarantine rows."""
    wrote = [r for r in results if "silver_rows" in r]
    if len({(r["silver_rows"], r["quarantine_rows"]) for r in wrote}) > 1:
        detail = ", ".join(f"{r['engine']} {r['silver_rows']}/{r['quarantine_rows']}" for r in wrote)
        raise RuntimeError(f"engines disagree on silver/quarantine rows: {detail}")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="telemetry events in the hour")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="comma-separated subset of " + ",".join(ENGINES)
    )
    parser.add_argument("--pandas-max-rows", type=int, default=20_000_000, help="skip pandas above this")
    parser.add_argument(
        "--landing", choices=("parquet", "avro"), default="parquet", help="the landing files' format"
    )
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one, removed)")
    parser.add_argument("--out", type=Path, default=BENCHMARKS / "results", help="where JSON and PNG go")
    args = parser.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}: expected some of {', '.join(ENGINES)}")
    if args.landing == "avro" and set(engines) - {"project"}:
        parser.error("--landing avro runs the project only: the peers read Parquet landing files")
    if args.rows > args.pandas_max_rows and "pandas" in engines:
        print(f"pandas skipped: {args.rows:,} rows is above --pandas-max-rows {args.pandas_max_rows:,}")
        engines.remove("pandas")

    work = args.work or Path(tempfile.mkdtemp(prefix="seed-hour-"))
    try:
        return _run(args, engines, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, engines: list[str], work: Path) -> list[dict]:
    sys.path.insert(0, str(BENCHMARKS))
    from peers import zone_grid
    from seed_input import land_seed_hour

    from mobility_lake.settings import load_settings
    from mobility_lake.storage import Lake

    lake_root = work / "lake"
    began = time.perf_counter()
    landed = land_seed_hour(
        Lake(load_settings({"MOBILITY_LAKE_ROOT": str(lake_root)})), HOUR, args.rows, form=args.landing
    )
    generated = time.perf_counter() - began
    print(
        f"input: {landed.rows:,} rows in {landed.files} {args.landing} files, {landed.bytes / 2**20:,.0f} MiB, "
        f"generated in {generated:.1f} s",
        flush=True,
    )
    grid = work / "zone_grid.parquet"
    zone_grid(str(grid))
    results = []
    for engine in engines:
        try:
            result = run_engine(engine, work, lake_root, grid)
        except RuntimeError as failure:  # e.g. a peer out of disk at 180M: the others' figures still count
            print(f"  {engine}: failed: {failure}", flush=True)
            results.append({"engine": engine, "error": str(failure)})
            continue
        peaks = result.get("stage_peak_gib", {})
        stages = "".join(f", {job} {s} s ({peaks[job]} GiB)" for job, s in result.get("stages", {}).items())
        print(f"  {engine}: {result['seconds']} s, {result['peak_rss_gib']} GiB{stages}", flush=True)
        results.append(result)
    check_agreement(results)
    print(table(results, landed.rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"seed_hour_{landed.rows}{'_avro' if args.landing == 'avro' else ''}"
    report = {
        "rows": landed.rows,
        "files": landed.files,
        "landing": args.landing,
        "landing_bytes": landed.bytes,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "results": results,
    }
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    chart(results, landed.rows, stem.with_suffix(".png"))
    print(f"figures: {stem}.json, {stem}.png")
    return results


if __name__ == "__main__":
    main()
