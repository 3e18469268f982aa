"""Points get the zone that contains them, exactly, in the real reference file and in awkward shapes."""

import itertools
import json
import math
import random
from pathlib import Path

import polars as pl
import pytest

from mobility_lake.silver import zones as zones_module
from mobility_lake.silver.zones import REFERENCE_ZONES, assign_zones, load_zones

REAL_FEATURES = json.loads(REFERENCE_ZONES.read_text())["features"]
SQUARE = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0], [0.0, 0.0]]
HOLE = [[4.0, 4.0], [4.0, 6.0], [6.0, 6.0], [6.0, 4.0], [4.0, 4.0]]
L_SHAPE = [[20.0, 0.0], [30.0, 0.0], [30.0, 4.0], [24.0, 4.0], [24.0, 10.0], [20.0, 10.0], [20.0, 0.0]]
ISLANDS = [[[[40.0, 0.0], [42.0, 0.0], [42.0, 2.0], [40.0, 2.0], [40.0, 0.0]]],
           [[[50.0, 0.0], [56.0, 0.0], [56.0, 6.0], [50.0, 6.0], [50.0, 0.0]],
            [[52.0, 2.0], [54.0, 2.0], [54.0, 4.0], [52.0, 4.0], [52.0, 2.0]]]]  # fmt: skip
OVERLAP_A = [[60.0, 0.0], [64.0, 0.0], [64.0, 4.0], [60.0, 4.0], [60.0, 0.0]]
OVERLAP_B = [[62.0, 2.0], [66.0, 2.0], [66.0, 6.0], [62.0, 6.0], [62.0, 2.0]]


def feature(zone_id: str, geometry_type: str, coordinates: list) -> dict:
    return {
        "type": "Feature",
        "properties": {"zone_id": zone_id, "zone_name": f"Zone {zone_id}", "city": "Testville"},
        "geometry": {"type": geometry_type, "coordinates": coordinates},
    }


HAND_MADE = [
    feature("HOLED", "Polygon", [SQUARE, HOLE]),
    feature("L", "Polygon", [L_SHAPE]),
    feature("ISLANDS", "MultiPolygon", ISLANDS),
    feature("FIRST", "Polygon", [OVERLAP_A]),
    feature("SECOND", "Polygon", [OVERLAP_B]),
]


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture
def hand_made(tmp_path: Path) -> zones_module.Zones:
    return load_zones(write_geojson(tmp_path / "zones.geojson", HAND_MADE))


def zone_ids(points: list[tuple[float | None, float | None]], zones: zones_module.Zones) -> list[str | None]:
    frame = pl.DataFrame(points, schema={"lon": pl.Float64, "lat": pl.Float64}, orient="row")
    return assign_zones(frame, "lat", "lon", zones)["zone_id"].to_list()


def rings_of(zone: dict) -> list[list[list[float]]]:
    geometry = zone["geometry"]
    polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


def reference_zone(lon: float, lat: float, features: list[dict]) -> str | None:
    """The slow textbook answer: PNPOLY over every ring of each feature in file order, first hit wins."""
    for candidate in features:
        inside = False
        for ring in rings_of(candidate):
            for (xi, yi), (xj, yj) in itertools.pairwise(ring):
                if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
                    inside = not inside
        if inside:
            return candidate["properties"]["zone_id"]
    return None


@pytest.mark.parametrize(
    "index", range(len(REAL_FEATURES)), ids=[f["properties"]["zone_id"] for f in REAL_FEATURES]
)
def test_centre_of_each_real_zone_gets_that_zone(index):
    ring = REAL_FEATURES[index]["geometry"]["coordinates"][0][:-1]
    turns = {
        (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]) > 0
        for a, b, c in zip(ring, ring[1:] + ring[:1], ring[2:] + ring[:2], strict=True)
    }
    assert len(turns) == 1, "the vertex mean is only sure to be inside a convex zone"
    lon = sum(p[0] for p in ring) / len(ring)
    lat = sum(p[1] for p in ring) / len(ring)
    frame = pl.DataFrame({"latitude": [lat], "longitude": [lon]})

    result = assign_zones(frame, "latitude", "longitude", load_zones())

    properties = REAL_FEATURES[index]["properties"]
    assert result.row(0, named=True) == {
        "latitude": lat,
        "longitude": lon,
        "zone_id": properties["zone_id"],
        "zone_name": properties["zone_name"],
    }


def test_far_away_missing_and_nan_points_get_no_zone_and_keep_their_rows():
    frame = pl.DataFrame(
        {
            "n": [1, 2, 3, 4, 5, 6],
            "lat": [40.4168, 0.0, None, 52.52, float("nan"), 52.52],
            "lon": [-3.7038, 0.0, 13.40, None, 13.40, 13.40],
        }
    )

    result = assign_zones(frame, "lat", "lon", load_zones(), prefix="end_")

    assert result.columns == ["n", "lat", "lon", "end_zone_id", "end_zone_name"]
    assert result.schema["end_zone_id"] == pl.String and result.schema["end_zone_name"] == pl.String
    assert result["n"].to_list() == [1, 2, 3, 4, 5, 6]
    assert result["end_zone_id"].to_list()[:5] == [None] * 5
    assert result["end_zone_name"].to_list()[:5] == [None] * 5
    assert result["end_zone_id"][5] is not None  # the control point, central Berlin, is in a zone


def test_an_empty_frame_gets_both_columns():
    frame = pl.DataFrame(schema={"lat": pl.Float64, "lon": pl.Float64})
    result = assign_zones(frame, "lat", "lon", load_zones())
    assert result.schema == pl.Schema(
        {"lat": pl.Float64, "lon": pl.Float64, "zone_id": pl.String, "zone_name": pl.String}
    )
    assert result.height == 0


def test_point_in_a_hole_has_no_zone_and_point_in_the_ring_has_the_zone(hand_made):
    assert zone_ids([(5.0, 5.0), (2.0, 2.0), (5.0, 8.0), (11.0, 5.0)], hand_made) == [
        None,
        "HOLED",
        "HOLED",
        None,
    ]


def test_every_part_of_a_multipolygon_counts_but_not_the_gap_or_its_hole(hand_made):
    points = [(41.0, 1.0), (51.0, 1.0), (55.0, 5.0), (46.0, 1.0), (53.0, 3.0)]
    assert zone_ids(points, hand_made) == ["ISLANDS", "ISLANDS", "ISLANDS", None, None]


def test_inside_the_bounding_box_of_a_concave_zone_is_not_enough(hand_made):
    points = [(29.0, 9.0), (27.0, 7.0), (30.0, 10.0), (24.5, 4.5), (22.0, 8.0), (28.0, 2.0)]
    assert zone_ids(points, hand_made) == [None, None, None, None, "L", "L"]


def test_where_zones_overlap_the_first_in_file_order_wins(hand_made):
    assert zone_ids([(63.0, 3.0), (61.0, 1.0), (65.0, 5.0)], hand_made) == ["FIRST", "FIRST", "SECOND"]


@pytest.mark.parametrize("source", ["real", "hand_made"])
def test_agrees_with_textbook_ray_casting_on_random_points(source, tmp_path, monkeypatch):
    monkeypatch.setattr(zones_module, "_CHUNK_POINTS", 97)  # many chunks, so the threaded path runs too
    features = REAL_FEATURES if source == "real" else HAND_MADE
    path = REFERENCE_ZONES if source == "real" else write_geojson(tmp_path / "zones.geojson", HAND_MADE)
    rings = [ring for zone in features for ring in rings_of(zone)]
    rng = random.Random(20260310)
    points = []
    for _ in range(2_000):  # uniform around a random ring (outer or hole), half its size again on each side
        ring = rng.choice(rings)
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        pad_lon, pad_lat = (max(lons) - min(lons)) / 2, (max(lats) - min(lats)) / 2
        lon = rng.uniform(min(lons) - pad_lon, max(lons) + pad_lon)
        points.append((lon, rng.uniform(min(lats) - pad_lat, max(lats) + pad_lat)))

    expected = [reference_zone(lon, lat, features) for lon, lat in points]

    assert zone_ids(points, load_zones(path)) == expected
    assert sum(e is None for e in expected) > 100 and sum(e is not None for e in expected) > 100


def test_loaded_zones_keep_file_order_and_are_cached():
    zones = load_zones()
    assert zones.ids == tuple(f["properties"]["zone_id"] for f in REAL_FEATURES)
    assert zones.names == tuple(f["properties"]["zone_name"] for f in REAL_FEATURES)
    assert zones.cities == tuple(f["properties"]["city"] for f in REAL_FEATURES)
    assert load_zones() is zones
    assert all(math.isfinite(v) for v in zones.boxes.ravel())


def without(properties: dict, name: str) -> dict:
    return {key: value for key, value in properties.items() if key != name}


BROKEN = {
    "missing property": (
        {**HAND_MADE[1], "properties": without(HAND_MADE[1]["properties"], "zone_name")},
        "feature 1: property 'zone_name' is missing",
    ),
    "point geometry": (
        {**HAND_MADE[1], "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}},
        "feature 1: geometry type 'Point' is not one of Polygon, MultiPolygon",
    ),
    "short ring": (
        feature("TRI", "Polygon", [[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]),
        "feature 1: polygon 0, ring 0: a ring needs at least 4 positions",
    ),
    "short hole in a multipolygon": (
        feature("MP", "MultiPolygon", [[SQUARE], [SQUARE, [[4.0, 4.0], [5.0, 4.0], [4.0, 4.0]]]]),
        "feature 1: polygon 1, ring 1: a ring needs at least 4 positions",
    ),
    "open ring": (
        feature("OPEN", "Polygon", [SQUARE[:-1] + [[0.0, 1.0]]]),
        "feature 1: .*ring is not closed",
    ),
    "text coordinate": (
        feature("TXT", "Polygon", [[["0", "0"], *SQUARE[1:]]]),
        "feature 1: .*not \\[longitude",
    ),
    "duplicate zone_id": (
        feature("HOLED", "Polygon", [SQUARE]),
        "feature 1: zone_id 'HOLED' repeats feature 0",
    ),
}


@pytest.mark.parametrize("broken, message", BROKEN.values(), ids=BROKEN.keys())
def test_malformed_feature_is_rejected_naming_file_feature_and_problem(broken, message, tmp_path):
    path = write_geojson(tmp_path / "broken.geojson", [HAND_MADE[0], broken])
    with pytest.raises(ValueError, match=message) as raised:
        load_zones(path)
    assert str(path) in str(raised.value)


def test_a_file_that_is_not_a_feature_collection_is_rejected(tmp_path):
    not_json = tmp_path / "truncated.geojson"
    not_json.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(ValueError, match="truncated.geojson: not valid JSON"):
        load_zones(not_json)
    geometry_only = tmp_path / "geometry.geojson"
    geometry_only.write_text(json.dumps(HAND_MADE[0]["geometry"]))
    with pytest.raises(
        ValueError, match="geometry.geojson: expected a GeoJSON object with type 'FeatureCollection'"
    ):
        load_zones(geometry_only)
    no_zones = write_geojson(tmp_path / "empty.geojson", [])
    with pytest.raises(ValueError, match="empty.geojson: 'features' must be a non-empty list"):
        load_zones(no_zones)
