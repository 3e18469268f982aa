"""One simulated hour through the pipeline's core on a local lake: events/s and peak RSS per stage.

    .venv/bin/python benchmarks/pipeline_hour.py --vehicles 5000 --interval 1 --root /tmp/bench-lake

Each stage (simulate, bronze, silver) runs in its own process, so each peak RSS is that stage's alone.
`--stages bronze,silver` re-runs stages on the output of an earlier run under the same --root.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)


def stage(name: str, args: argparse.Namespace) -> dict:
    from mobility_lake.settings import load_settings
    from mobility_lake.storage import Lake

    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": args.root}))
    began = time.perf_counter()
    if name == "simulate":
        summary = simulate_hour(lake, args)
        rows = summary.lines
    elif name == "bronze":
        from mobility_lake.bronze.ingest import ingest_hours
        from mobility_lake.events.catalogue import TOPICS

        rows = sum(ingest_hours(lake, t.bronze_table, [HOUR]).rows_added for t in TOPICS)
    else:
        from mobility_lake.silver.pipeline import materialize_hour, reference_data
        from mobility_lake.silver.tables import SILVER_TABLES

        reference = reference_data()
        rows = 0
        for table in SILVER_TABLES:
            figures = materialize_hour(lake, table, HOUR, HOUR - timedelta(days=30), reference)
            rows += figures.bronze_rows
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    return {
        "stage": name,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "peak_rss_gib": round(peak, 2),
    }


def simulate_hour(lake, args):
    from mobility_lake.simulate import simulate

    return simulate(lake, HOUR, 1, vehicles=args.vehicles, seed=7, telemetry_interval_s=args.interval)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vehicles", type=int, default=500)
    parser.add_argument("--interval", type=int, default=1, help="telemetry interval in seconds")
    parser.add_argument("--root", default="/tmp/mobility-lake-bench")
    parser.add_argument("--stages", default="simulate,bronze,silver")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage(args.stage, args)))
        return
    results = []
    for name in args.stages.split(","):
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--stage",
                name,
                "--vehicles",
                str(args.vehicles),
                "--interval",
                str(args.interval),
                "--root",
                args.root,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(
            f"{name:<9} {results[-1]['rows']:>12,} rows {results[-1]['seconds']:>8.1f} s "
            f"{results[-1]['rows_per_s']:>10,} rows/s  peak {results[-1]['peak_rss_gib']:.2f} GiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
