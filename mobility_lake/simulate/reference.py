"""Builds the reference data of CONTRACT §3 from the city table: zones.geojson and fx_rates.csv.

The committed files under data/reference are this module's output (`python -m
mobility_lake.simulate.reference` rewrites them), so zones and rates can never drift from the cities the
simulator drives. Zones are a grid of districts per city whose inner corners are nudged, so the polygons
look less like a spreadsheet yet still tile the city's rectangle without overlapping.
"""

import json
import math
import sys
from datetime import date, timedelta
from pathlib import Path

from mobility_lake.settings import PROJECT_ROOT
from mobility_lake.simulate.cities import CITIES, FX_ANCHOR, FX_DRIFT, City
from mobility_lake.simulate.rng import generator

REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
FX_FIRST_DAY = date(2025, 1, 1)
FX_LAST_DAY = date(2027, 12, 31)


def _corners(city: City) -> list[list[tuple[float, float]]]:
    """(lon, lat) of the grid corners, row 0 at the north; inner corners moved by up to 20% of a cell."""
    rows, cols = city.grid
    _, west, north, _ = city.bbox
    rng = generator(0, "zones", city.code)
    corners = []
    for r in range(rows + 1):
        line = []
        for c in range(cols + 1):
            lat = north - r * city.cell[0]
            lon = west + c * city.cell[1]
            if 0 < r < rows:
                lat += rng.uniform(-0.2, 0.2) * city.cell[0]
            if 0 < c < cols:
                lon += rng.uniform(-0.2, 0.2) * city.cell[1]
            line.append((round(lon, 6), round(lat, 6)))
        corners.append(line)
    return corners


def zone_features(city: City) -> list[dict]:
    """One GeoJSON Polygon feature per district; rings counter-clockwise (RFC 7946)."""
    rows, cols = city.grid
    corners = _corners(city)
    features = []
    for r in range(rows):
        for c in range(cols):
            index = r * cols + c
            ring = [
                corners[r + 1][c],
                corners[r + 1][c + 1],
                corners[r][c + 1],
                corners[r][c],
                corners[r + 1][c],
            ]
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "zone_id": city.zone_id(index),
                        "zone_name": city.districts[index],
                        "city": city.name,
                    },
                    "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
                }
            )
    return features


def zones_geojson() -> str:
    """The FeatureCollection, one feature per line so a diff shows which zone changed."""
    features = [json.dumps(f, ensure_ascii=False) for city in CITIES for f in zone_features(city)]
    return '{"type": "FeatureCollection", "features": [\n' + ",\n".join(features) + "\n]}\n"


def fx_rates_csv() -> str:
    """Daily rates for every city currency: a slow mean-reverting walk plus a yearly swing around the anchor."""
    currencies = sorted({city.currency for city in CITIES} | {"EUR"})
    walks = {cur: 0.0 for cur in currencies}
    rngs = {cur: generator(0, "fx", cur) for cur in currencies}
    lines = ["date,currency,eur_rate"]
    day = FX_FIRST_DAY
    while day <= FX_LAST_DAY:
        for cur in currencies:
            drift = FX_DRIFT[cur]
            walks[cur] = 0.985 * walks[cur] + rngs[cur].gauss(0.0, 0.12)
            season = math.sin(2 * math.pi * (day - FX_FIRST_DAY).days / 365.25 + len(cur))
            rate = FX_ANCHOR[cur] * (1 + drift * (0.6 * season + 0.4 * math.tanh(walks[cur])))
            lines.append(
                f"{day.isoformat()},{cur},{rate:.6g}" if cur != "EUR" else f"{day.isoformat()},EUR,1.0"
            )
        day += timedelta(days=1)
    return "\n".join(lines) + "\n"


def write_reference(directory: Path = REFERENCE_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "zones.geojson").write_text(zones_geojson(), encoding="utf-8")
    (directory / "fx_rates.csv").write_text(fx_rates_csv(), encoding="utf-8")


if __name__ == "__main__":
    write_reference(Path(sys.argv[1]) if len(sys.argv) > 1 else REFERENCE_DIR)
