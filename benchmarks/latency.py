"""Query latency per storage tier, through `mobility-lake query`'s engine, against the decision record's
targets: hot (the last 7 days) under 1 s, warm (90 days) under 5 s, cold (the archive) under 30 s.

The operational queries of the decision record run one after another, `--repeat` times each, as the role
that would ask them; each time is the whole of `query.run_query`: parsing and the role's checks, loading
the tables' Delta snapshots, DuckDB, and the audit log's append. "Now" is the lake's latest telemetry hour;
the vehicle and the zone asked about are the ones last seen. The hot tier's vehicle questions read the
hourly status table (one row per vehicle and hour); they are asked of the telemetry too, to show what the
table saves. The cold tier is the archive, where retention
moves bronze's old arrival days: a month is younger than bronze's 90 days, so the lake's retention pass
first runs with bronze kept `--archive-after-days` (7), as an operator would set it; a lake without an
archive skips the cold query. Printed per query: p50 and p95 seconds and whether the target is met; the
figures go to JSON.

    .venv/bin/python benchmarks/latency.py --lake DIR [--repeat 20] [--name month]
    .venv/bin/python benchmarks/latency.py --lake SEED_HOUR_LAKE --status-days 7 --name seed_hour

A lake of one seed-scale hour (`seed_hour.py --engines project --work W`, lake in W/lake) has one hour of
status rows; `--status-days 7` repeats that hour over the 7 days before it and runs the maintenance pass
(`fill_status_days`), so the status table holds a hot tier at the fleet's size, laid out as production
leaves it, while the telemetry holds its one real hour.

The lake is changed (the archive pass, the audit log's appends): point it at a copy.
"""

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from mobility_lake.gold.marts import MARTS_BY_NAME, SKIP_ROW_GROUP
from mobility_lake.governance.retention import apply_retention
from mobility_lake.maintenance import maintain
from mobility_lake.query import run_query
from mobility_lake.settings import PROJECT_ROOT, load_settings
from mobility_lake.storage import Lake

STATUS = MARTS_BY_NAME["vehicle_status_hourly"]


@dataclass(frozen=True)
class Query:
    tier: str
    what: str
    role: str
    target_s: float
    sql: str


QUERIES = (
    Query("hot", "a vehicle's latest status", "operations", 1.0,
          "SELECT vehicle_id, last_seen, status, battery_level, zone_id FROM gold.vehicle_status_hourly "
          "WHERE date >= DATE '{hot_from}' AND vehicle_id = '{vehicle}' ORDER BY last_seen DESC LIMIT 1"),
    Query("hot", "available vehicles per zone now", "operations", 1.0,
          "SELECT zone_id, count(*) AS available FROM gold.vehicle_status_hourly WHERE date = DATE '{today}' "
          "AND hour = {hour} AND status = 'available' GROUP BY zone_id ORDER BY zone_id"),
    Query("hot", "demand for a zone over 7 days", "analyst", 1.0,
          "SELECT date, hour, sum(booking_count) AS bookings FROM gold.demand_by_zone_hour "
          "WHERE zone_id = '{zone}' AND date >= DATE '{hot_from}' GROUP BY date, hour ORDER BY date, hour"),
    Query("warm", "90-day demand patterns", "analyst", 5.0,
          "SELECT zone_id, dayofweek(date) AS weekday, hour, avg(booking_count) AS bookings, "
          "avg(utilization_rate) AS utilization FROM gold.demand_by_zone_hour WHERE date >= DATE '{warm_from}' "
          "GROUP BY zone_id, weekday, hour ORDER BY zone_id, weekday, hour"),
    Query("cold", "a day of the telemetry archive", "admin", 30.0,
          "SELECT type, count(*) AS events, min(event_time) AS first, max(event_time) AS last "
          "FROM archive.vehicle_telemetry WHERE arrival_date = DATE '{cold_day}' GROUP BY type"),
    # The two hot questions asked of the telemetry itself, as before the status table: what it saves.
    Query("hot", "a vehicle's latest status, from silver telemetry", "operations", 1.0,
          "SELECT vehicle_id, event_time, status, battery_level, zone_id FROM silver.vehicle_telemetry "
          "WHERE date >= DATE '{hot_from}' AND vehicle_id = '{vehicle}' ORDER BY event_time DESC LIMIT 1"),
    Query("hot", "available vehicles per zone now, from silver telemetry", "operations", 1.0,
          "SELECT zone_id, count(*) AS available FROM (SELECT vehicle_id, arg_max(status, event_time) AS status, "
          "arg_max(zone_id, event_time) AS zone_id FROM silver.vehicle_telemetry WHERE date = DATE '{today}' "
          "AND event_time >= TIMESTAMPTZ '{now}' GROUP BY vehicle_id) AS latest "
          "WHERE status = 'available' GROUP BY zone_id ORDER BY zone_id"),
)  # fmt: skip


def parameters(lake: Lake) -> dict[str, str]:
    """Now (the latest telemetry hour), and the vehicle and zone last seen."""
    telemetry = lake.scan("silver", "vehicle_telemetry")
    assert telemetry is not None, "the lake has no silver telemetry"
    columns = telemetry.select("vehicle_id", "zone_id", "event_time")
    last = columns.top_k(1, by="event_time").collect(engine="streaming").row(0, named=True)
    now = last["event_time"].replace(minute=0, second=0, microsecond=0)
    oldest = columns.select(pl.col("event_time").min()).collect(engine="streaming").item()
    return {
        "now": now.isoformat(),
        "today": now.date().isoformat(),
        "hour": str(now.hour),
        "hot_from": (now - timedelta(days=7)).date().isoformat(),
        "warm_from": (now - timedelta(days=90)).date().isoformat(),
        "cold_day": oldest.date().isoformat(),
        "vehicle": last["vehicle_id"],
        "zone": last["zone_id"],
    }


def fill_status_days(lake: Lake, now: datetime, days: int) -> None:
    """Give the status table a hot tier's worth of hours at the fleet's size: the hour `now` repeated for
    each hour of the `days` days before it (a fleet standing still), a commit per hour as the hourly runs
    make them, then the daily maintenance pass as of `now` (closed days compacted and Z-ordered by vehicle).
    Only the status table is filled; its rows' size and count per hour are the real ones of the lake's fleet."""
    status = lake.scan("gold", STATUS.name)
    assert status is not None, "the lake has no status table"
    hour = status.filter((pl.col("date") == now.date()) & (pl.col("hour") == now.hour)).collect()
    for back in range(days * 24, 0, -1):
        start = now - timedelta(hours=back)
        rows = hour.with_columns(
            date=pl.lit(start.date()),
            hour=pl.lit(start.hour, dtype=pl.Int8()),
            last_seen=pl.col("last_seen") - timedelta(hours=back),
        )
        lake.replace_where(
            "gold", STATUS.name, rows, STATUS.rows_of(start), ["date"], row_group_rows=SKIP_ROW_GROUP
        )
    for outcome in maintain(lake, now, only=f"gold.{STATUS.name}", say=lambda _: None):
        print(outcome.line(), flush=True)


def table_rows(lake: Lake, name: str) -> int | None:
    scan = lake.scan(*name.split("/"))
    return None if scan is None else scan.select(pl.len()).collect().item()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", type=Path, required=True, help="the lake's root directory")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--name", default="month", help="the results file: latency_NAME.json")
    parser.add_argument("--archive-after-days", type=int, default=7, help="bronze's retention for the pass")
    parser.add_argument(
        "--status-days", type=int, default=0, help="fill the status table's N days before now (seed lake)"
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(args.lake)}))
    values = parameters(lake)
    days = {**lake.settings.retention, "bronze": args.archive_after_days}
    apply_retention(
        lake, datetime.fromisoformat(values["now"]), days, None, dry_run=False, say=lambda _: None
    )
    if args.status_days:
        fill_status_days(lake, datetime.fromisoformat(values["now"]), args.status_days)
    tables = ("silver/vehicle_telemetry", "gold/vehicle_status_hourly", "gold/demand_by_zone_hour")
    sizes = {name: table_rows(lake, name) for name in (*tables, "archive/vehicle_telemetry")}
    print(json.dumps({"parameters": values, "rows": sizes}), flush=True)
    results = []
    for query in QUERIES:
        sql = query.sql.format(**values)
        if "archive." in sql and sizes["archive/vehicle_telemetry"] is None:
            print(f"skipped {query.what}: the lake has no archive yet", flush=True)
            continue
        seconds, rows = [], 0
        for _ in range(args.repeat):
            began = time.perf_counter()
            rows = run_query(lake, sql, query.role, "latency-benchmark").height
            seconds.append(time.perf_counter() - began)
        p50, p95 = statistics.median(seconds), percentile(seconds, 0.95)
        result = {"tier": query.tier, "query": query.what, "rows": rows, "p50_s": round(p50, 3),
                  "p95_s": round(p95, 3), "target_s": query.target_s, "met": p95 < query.target_s}  # fmt: skip
        print(json.dumps(result), flush=True)
        results.append(result)
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"latency_{args.name}.json"
    out.write_text(json.dumps({"parameters": values, "rows": sizes, "results": results}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
