"""Time `assign_zones` on random points around the zone cities and report throughput and peak memory.

Usage: `.venv/bin/python benchmarks/zones_bench.py [POINTS]` (default 18,000,000, about one busy telemetry
hour). Points are uniform over each city's zones' bounding box widened by a third on every side, so most
fall in a zone, many in none, and every zone's edges are exercised.
"""

import resource
import sys
import time

import numpy as np
import polars as pl

from mobility_lake.silver.zones import assign_zones, load_zones


def random_points(count: int, seed: int = 7) -> pl.DataFrame:
    """`count` points spread evenly over the cities, each uniform in its city's widened bounding box."""
    zones = load_zones()
    rng = np.random.default_rng(seed)
    cities = sorted(set(zones.cities))
    city_of_point = rng.integers(0, len(cities), count)
    lon, lat = np.empty(count), np.empty(count)
    for number, city in enumerate(cities):
        boxes = zones.boxes[[c == city for c in zones.cities]]
        min_lon, min_lat = boxes[:, :2].min(axis=0)
        max_lon, max_lat = boxes[:, 2:].max(axis=0)
        pad_lon, pad_lat = (max_lon - min_lon) / 3, (max_lat - min_lat) / 3
        chosen = city_of_point == number
        lon[chosen] = rng.uniform(min_lon - pad_lon, max_lon + pad_lon, chosen.sum())
        lat[chosen] = rng.uniform(min_lat - pad_lat, max_lat + pad_lat, chosen.sum())
    return pl.DataFrame({"latitude": lat, "longitude": lon})


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def current_rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def main(count: int) -> None:
    zones = load_zones()
    frame = random_points(count)
    before = current_rss_mib()
    started = time.perf_counter()
    result = assign_zones(frame, "latitude", "longitude", zones)
    seconds = time.perf_counter() - started
    in_zone = result.height - result["zone_id"].null_count()
    print(f"points            {count:,} ({in_zone / count:.1%} in a zone, {len(zones)} zones)")
    print(f"assign_zones      {seconds:.2f} s, {count / seconds:,.0f} points/s")
    print(f"RSS before call   {before:,.0f} MiB (the input frame and interpreter)")
    print(f"peak RSS          {peak_rss_mib():,.0f} MiB (process, input generation included)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 18_000_000)
