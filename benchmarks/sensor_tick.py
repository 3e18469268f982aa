"""How long one tick of `landing_sensor` takes on a young lake and on an old one.

Two local lakes hold the same traffic per hour (one small file per topic and hour, all of it in bronze): one
has an hour of landing folders, the other 30 days. Each is ticked as the daemon does, first with no cursor
(a first start: it looks back over MOBILITY_LAKE_LATENESS_HOURS), then every "30 s" with a new file landing in
the current hour. The steady tick must not grow with the age of the lake. Last, a few ticks each after a
bronze run wrote a table: those read its ledger, a Delta snapshot whose load grows with the table's file
count until maintenance compacts it.

    .venv/bin/python benchmarks/sensor_tick.py [--days 30] [--ticks 20] [--root /tmp/sensor-bench]
"""

import argparse
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.landing import landing_key
from mobility_lake.orchestration.landing_sensor import landing_sensor
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import hour_key, hourly_partitions, hours_in
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

NOW = datetime(2026, 3, 31, 12, 10, tzinfo=UTC)
EVENT = b'{"specversion":"1.0","id":"%d","source":"//bench","type":"com.mobilitycorp.x","time":"2026-03-01T00:00:00Z","data":{}}\n'


def build(root: Path, hours: int) -> Lake:
    """A lake with `hours` arrival hours up to NOW, every file in bronze."""
    shutil.rmtree(root, ignore_errors=True)
    start = NOW.replace(minute=0) - timedelta(hours=hours - 1)
    settings = load_settings(
        {"MOBILITY_LAKE_ROOT": str(root), "MOBILITY_LAKE_START": start.strftime("%Y-%m-%d-00:00")}
    )
    lake = Lake(settings)
    every = hours_in(start, NOW.replace(minute=0) + timedelta(hours=1))
    for n, hour in enumerate(every):
        for topic in TOPICS:
            lake.write_bytes(landing_key(topic.name, hour, f"part-{n}.jsonl"), EVENT % n)
    for topic in TOPICS:
        ingest_hours(lake, topic.bronze_table, every)
    return lake


def tick_seconds(
    lake: Lake, instance: dg.DagsterInstance, ticks: int, writes: int
) -> tuple[float, list[float], list[float]]:
    """The first tick's seconds, each later tick's with a new file landing before it, and each tick's that
    follows a bronze run."""
    keys = {"bronze_hourly": [bronze_key(t) for t in TOPICS]}
    resources = {"lake": LakeResource.from_settings(lake.settings)}
    weather = next(t for t in TOPICS if t.bronze_table == "weather")
    cursor, seconds = None, []
    for n in range(ticks + writes + 1):
        now = NOW + timedelta(seconds=30 * n)
        if n:
            lake.write_bytes(
                landing_key("external.weather", now.replace(minute=0), f"new-{n}.jsonl"), EVENT % n
            )
        if n > ticks:  # a bronze run ingests the hour and records its materialization
            ingest_hours(lake, "weather", [now.replace(minute=0)])
            partition = hour_key(now.replace(minute=0))
            instance.report_runless_asset_event(
                dg.AssetMaterialization(bronze_key(weather), partition=partition)
            )
        sensor = landing_sensor(hourly_partitions(lake.settings), 72, keys, lambda now=now: now)
        began = time.perf_counter()
        result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))
        seconds.append(time.perf_counter() - began)
        cursor = result.cursor
    return seconds[0], seconds[1 : ticks + 1], seconds[ticks + 1 :]


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--writes", type=int, default=5)
    parser.add_argument("--root", type=Path, default=Path("/tmp/sensor-bench"))
    args = parser.parse_args(argv)
    results = []
    for name, hours in (("1 hour", 1), (f"{args.days} days", 24 * args.days)):
        began = time.perf_counter()
        lake = build(args.root / name.replace(" ", "-"), hours)
        built = time.perf_counter() - began
        with dg.DagsterInstance.ephemeral() as instance:
            first, steady, after_write = tick_seconds(lake, instance, args.ticks, args.writes)
        folders = hours * len(TOPICS)
        results.append(
            {
                "lake": name,
                "folders": folders,
                "first": first,
                "median": statistics.median(steady),
                "max": max(steady),
                "after_write": statistics.median(after_write),
            }
        )
        print(f"{name:>8}: {folders:>5} landing folders (built in {built:.0f} s); first tick {first:.2f} s; "
              f"steady tick median {statistics.median(steady):.3f} s, max {max(steady):.3f} s over {len(steady)} ticks; "
              f"after a bronze write {statistics.median(after_write):.3f} s", flush=True)  # fmt: skip
    ratio = results[1]["median"] / results[0]["median"]
    written = results[1]["after_write"] / results[0]["after_write"]
    print(f"steady tick, old lake / young lake: {ratio:.2f}x; after a bronze write: {written:.2f}x")
    return results


if __name__ == "__main__":
    main()
