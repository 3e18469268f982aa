"""A month of history hour by hour, with and without maintenance: does the cost of an hour stay flat?

A small fleet's month is simulated, then worked through one arrival hour at a time as the sensors do it:
bronze ingests the hour's files, silver re-runs every hour the new rows touch (late events included), gold
rebuilds the demand hours and, at each day's end, the day's utilization. With maintenance on, a pass runs
once a simulated day (`maintenance.maintain` as of that hour). Printed per variant, for day 1 and the last
day: the median seconds an hour's work took, silver telemetry's data files and log entries, and the time
to load its Delta snapshot; then, on the month as it stands, a one-vehicle query before and after a
maintenance pass (seconds, and the files whose statistics admit the vehicle: data skipping).

Day 1 is the lake's first day with a full lateness window behind it: every silver hour looks for copies of
its rows in the hours of that window (72 by default), so an hour costs more each day until the window is
full whatever maintenance does. The window's days are worked first (`--warmup-days`, reported apart), so
that day 1 against day 30 shows what history alone adds.

    .venv/bin/python benchmarks/month.py [--days 30] [--vehicles 20] [--late 0.03] [--variant both]

An hour's cost is mostly the silver hours its late events touch, each rebuilt whole: with the simulator's
default 3% late events an arrival hour re-runs several silver hours per topic (9 to 14 s an hour on 2 days
here), so a 30-day run takes hours; `--late` sets the share.

Vacuum and log cleanup measure age by the wall clock (delta-rs): a month simulated in minutes has nothing
old enough for them, so they remove nothing here; the checkpoints are what bound the log's replay.
"""

import argparse
import json
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from deltalake import DeltaTable

from mobility_lake.bronze.ingest import ingest_by_hour
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.marts import MARTS
from mobility_lake.maintenance import maintain
from mobility_lake.settings import load_settings
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_BY_BRONZE
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake

START = datetime(2026, 3, 1, tzinfo=UTC)
FIRST = START - timedelta(days=1)
HOUR = timedelta(hours=1)
MAINTENANCE_HOUR = 4  # the daily pass, as the schedule runs it at 04:30
DEMAND = next(m for m in MARTS if m.name == "demand_by_zone_hour")
UTILIZATION = next(m for m in MARTS if m.name == "vehicle_utilization_daily")


def work_hour(lake: Lake, hour: datetime) -> None:
    """One arrival hour through bronze, the silver hours its rows touch, and gold above them."""
    touched: set[datetime] = set()
    for topic in TOPICS:
        report = ingest_by_hour(lake, topic.bronze_table, [hour])[hour]
        silver = SILVER_BY_BRONZE[topic.bronze_table]
        hours = {e for (_, e), _ in report.event_hours.items() if e is not None and FIRST <= e <= hour}
        for event_hour in sorted(hours):
            materialize_hour(lake, silver, event_hour, FIRST, reference_data())
        touched |= hours
    for event_hour in sorted(touched):
        rows = DEMAND.build(lake, event_hour, event_hour + HOUR)
        lake.replace_where("gold", DEMAND.name, rows, DEMAND.rows_of(event_hour), list(DEMAND.partition_by))
    if hour.hour == 23:
        day = hour.replace(hour=0)
        rows = UTILIZATION.build(lake, day, day + timedelta(days=1))
        lake.replace_where(
            "gold", UTILIZATION.name, rows, UTILIZATION.rows_of(day), list(UTILIZATION.partition_by)
        )


def table_state(lake: Lake) -> dict[str, float]:
    uri = lake.table_uri("silver", "vehicle_telemetry")
    loads = []
    for _ in range(3):
        began = time.perf_counter()
        table = DeltaTable(uri)
        loads.append(time.perf_counter() - began)
    log = Path(uri) / "_delta_log"
    return {
        "files": len(table.file_uris()),
        "log_entries": len(list(log.glob("*.json"))),
        "version": table.version(),
        "snapshot_load_s": statistics.median(loads),
    }


def one_vehicle(lake: Lake, vehicle: str) -> dict[str, float]:
    """A month of one vehicle's readings: seconds, and how many files its statistics let a reader skip."""
    table = lake.delta_table("silver", "vehicle_telemetry")
    files = pl.DataFrame(table.get_add_actions(flatten=True))
    admitting = files.filter(
        (pl.col("min.vehicle_id") <= vehicle) & (pl.col("max.vehicle_id") >= vehicle)
    ).height
    began = time.perf_counter()
    rows = (
        lake.scan("silver", "vehicle_telemetry")
        .filter(pl.col("vehicle_id") == vehicle)
        .select(pl.len())
        .collect()
    )
    return {
        "seconds": time.perf_counter() - began,
        "rows": rows.item(),
        "files": files.height,
        "files_admitting_vehicle": admitting,
    }


def run(root: Path, days: int, warmup: int, vehicles: int, late: float, maintained: bool) -> dict:
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(
        load_settings({"MOBILITY_LAKE_ROOT": str(root), "MOBILITY_LAKE_START": f"{FIRST:%Y-%m-%d-%H:%M}"})
    )
    hours = (warmup + days) * 24
    simulate(lake, START, hours, vehicles=vehicles, seed=3, defects=DefectShares(late=late))
    per_day: dict[int, list[float]] = {}
    states = {}
    variant = "on " if maintained else "off"
    for n in range(hours):
        hour = START + n * HOUR
        began = time.perf_counter()
        work_hour(lake, hour)
        if maintained and hour.hour == MAINTENANCE_HOUR:
            maintain(lake, hour + HOUR, say=lambda _: None)
        per_day.setdefault(n // 24, []).append(time.perf_counter() - began)
        if n % 24 == 23:
            day = n // 24 + 1 - warmup
            states[day] = {"median_hour_s": statistics.median(per_day[n // 24]), **table_state(lake)}
            label = f"day {day:2d}" if day > 0 else f"warm-up {n // 24 + 1}"
            print(f"  {variant} {label}: {json.dumps(states[day])}", flush=True)
    vehicle = lake.scan("silver", "vehicle_telemetry").select(pl.col("vehicle_id").min()).collect().item()
    query = {"before": one_vehicle(lake, vehicle)}
    maintain(lake, START + hours * HOUR + timedelta(days=4), say=lambda _: None)  # every day closed
    query["after"] = one_vehicle(lake, vehicle)
    return {"first_day": states[1], "last_day": states[days], "days": states, "query": query}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--vehicles", type=int, default=20)
    parser.add_argument(
        "--late", type=float, default=0.03, help="share of events arriving late (each touches a silver hour)"
    )
    parser.add_argument(
        "--warmup-days", type=int, default=3, help="days worked before day 1 (the lateness window's)"
    )
    parser.add_argument(
        "--variant", choices=("both", "off", "on"), default="both", help="without/with maintenance"
    )
    parser.add_argument("--root", type=Path, default=Path("/tmp/month-bench"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    found = {}
    for maintained in {"both": (False, True), "off": (False,), "on": (True,)}[args.variant]:
        name = "maintenance" if maintained else "no_maintenance"
        found[name] = run(args.root / name, args.days, args.warmup_days, args.vehicles, args.late, maintained)
    print(f"\n{'variant':16} {'day':>4} {'hour s':>7} {'files':>6} {'log':>5} {'load s':>7}")
    for name, result in found.items():
        for label in ("first_day", "last_day"):
            s = result[label]
            day = 1 if label == "first_day" else args.days
            print(
                f"{name:16} {day:>4} {s['median_hour_s']:7.2f} {s['files']:6d} {s['log_entries']:5d} "
                f"{s['snapshot_load_s']:7.3f}"
            )
        q = result["query"]
        print(
            f"{name:16} one vehicle, month: {q['before']['seconds']:.3f} s over {q['before']['files']} files "
            f"({q['before']['files_admitting_vehicle']} admit it) -> {q['after']['seconds']:.3f} s over "
            f"{q['after']['files']} ({q['after']['files_admitting_vehicle']}) after a pass"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.variant == "both" else f"_{args.variant}"
    path = args.out / f"month_{args.days}d_{args.vehicles}v{suffix}.json"
    settings = {"days": args.days, "warmup_days": args.warmup_days, "vehicles": args.vehicles}
    path.write_text(json.dumps({**settings, "late": args.late, **found}, indent=2))
    print(f"figures: {path}")


if __name__ == "__main__":
    main()
