"""The operating zones of CONTRACT §3 and the point-in-zone lookup that enriches silver rows.

The lookup is exact: even-odd ray casting over every ring of a zone, so holes and MultiPolygons work. It is
vectorised with numpy and narrows the points through a hierarchy of bounding boxes (halves of the zones,
then each zone's own box) before any edge is tested, so tens of millions of telemetry points take seconds,
in chunks that bound memory and run on every core, with no Python object per point.

Where zones overlap, the first zone in file order wins: a point is never counted in two zones downstream.
"""

import functools
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from mobility_lake.settings import PROJECT_ROOT

REFERENCE_ZONES = PROJECT_ROOT / "data/reference/zones.geojson"
ZONE_PROPERTIES = ("zone_id", "zone_name", "city")
GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
_CHUNK_POINTS = 1 << 20  # points located together: bounds the temporaries, and the unit of parallel work
_LEAF_ZONES = 4  # below this many zones, test each zone's own box instead of splitting further


@dataclass(frozen=True, eq=False)
class Zones:
    """Zones in file order: their names, bounding boxes and the edges of all their rings.

    `boxes[k]` is (min_lon, min_lat, max_lon, max_lat) of zone k; its edges are the rows
    `edge_offsets[k]:edge_offsets[k + 1]` of `edges`, each (lon1, lat1, lon2, lat2). Horizontal edges are
    left out: a horizontal ray never crosses one. Compared by identity (`eq=False`), as numpy arrays have no
    single truth value; the arrays are read-only because `load_zones` shares one instance.
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    cities: tuple[str, ...]
    boxes: np.ndarray
    edges: np.ndarray
    edge_offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@functools.lru_cache(maxsize=8)
def load_zones(path: Path = REFERENCE_ZONES) -> Zones:
    """The zones of a GeoJSON FeatureCollection, each feature validated; cached per path.

    A malformed feature raises ValueError naming the file, the feature index and the problem, so a bad
    reference file stops the run instead of silently leaving points without a zone.
    """
    try:
        document = json.loads(Path(path).read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValueError(f"{path}: expected a GeoJSON object with type 'FeatureCollection'")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError(f"{path}: 'features' must be a non-empty list of Feature objects (no zones at all)")
    properties, rings = [], []
    for index, feature in enumerate(features):
        try:
            properties.append(_properties(feature))
            rings.append(_rings(feature))
        except ValueError as exc:
            raise ValueError(f"{path}: feature {index}: {exc}") from None
    first_index: dict[str, int] = {}
    for index, (zone_id, _, _) in enumerate(properties):
        if zone_id in first_index:
            raise ValueError(
                f"{path}: feature {index}: zone_id {zone_id!r} repeats feature {first_index[zone_id]}"
            )
        first_index[zone_id] = index
    return _zones(properties, rings)


def _properties(feature: object) -> tuple[str, str, str]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("expected a GeoJSON object with type 'Feature'")
    properties = feature.get("properties")
    values = tuple(properties.get(name) if isinstance(properties, dict) else None for name in ZONE_PROPERTIES)
    for name, value in zip(ZONE_PROPERTIES, values, strict=True):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"property {name!r} is missing or not a non-empty string (got {value!r})")
    return values


def _rings(feature: dict) -> list[np.ndarray]:
    """Every ring of the feature's polygons as an (n, 2) array of lon, lat; outer rings and holes alike."""
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind not in GEOMETRY_TYPES:
        raise ValueError(f"geometry type {kind!r} is not one of {', '.join(GEOMETRY_TYPES)}")
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        raise ValueError(f"{kind} has no coordinates")
    rings = []
    for number, polygon in enumerate(polygons):
        if not isinstance(polygon, list) or not polygon:
            raise ValueError(f"polygon {number} is not a non-empty list of rings")
        for ring_number, ring in enumerate(polygon):
            try:
                rings.append(_ring(ring))
            except ValueError as exc:
                raise ValueError(f"polygon {number}, ring {ring_number}: {exc}") from None
    return rings


def _ring(ring: object) -> np.ndarray:
    if not isinstance(ring, list) or len(ring) < 4:
        count = len(ring) if isinstance(ring, list) else "no"
        raise ValueError(f"a ring needs at least 4 positions (first = last), got {count}")
    for position in ring:
        if not _is_position(position):
            raise ValueError(f"position {position!r} is not [longitude, latitude] in WGS84 degrees")
    if ring[0][:2] != ring[-1][:2]:
        raise ValueError(f"ring is not closed: first position {ring[0]!r} differs from last {ring[-1]!r}")
    return np.array([position[:2] for position in ring], dtype=np.float64)


def _is_position(position: object) -> bool:
    if not isinstance(position, list) or len(position) not in (2, 3):
        return False
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in position):
        return False
    return -180 <= position[0] <= 180 and -90 <= position[1] <= 90


def _zones(properties: list[tuple[str, str, str]], rings: list[list[np.ndarray]]) -> Zones:
    boxes, edges, counts = [], [], [0]
    for zone_rings in rings:
        points = np.concatenate(zone_rings)
        boxes.append((*points.min(axis=0), *points.max(axis=0)))
        zone_edges = np.concatenate([np.hstack([ring[:-1], ring[1:]]) for ring in zone_rings])
        zone_edges = zone_edges[zone_edges[:, 1] != zone_edges[:, 3]]
        edges.append(zone_edges)
        counts.append(len(zone_edges))
    arrays = (np.array(boxes, dtype=np.float64), np.concatenate(edges), np.cumsum(counts))
    for array in arrays:
        array.setflags(write=False)
    ids, names, cities = (tuple(column) for column in zip(*properties, strict=True))
    return Zones(ids, names, cities, *arrays)


def assign_zones(frame: pl.DataFrame, lat: str, lon: str, zones: Zones, prefix: str = "") -> pl.DataFrame:
    """`frame` with `{prefix}zone_id` and `{prefix}zone_name` of the zone containing each point.

    Both are null when the point lies in no zone or its latitude or longitude is null or NaN. A point exactly
    on an edge belongs to whichever side the ray-casting rule gives it; where zones overlap the first zone
    in file order wins.
    """
    winners = pl.Series(_locate(_degrees(frame[lon]), _degrees(frame[lat]), zones))
    return frame.with_columns(
        pl.Series(f"{prefix}zone_id", [*zones.ids, None], dtype=pl.String).gather(winners),
        pl.Series(f"{prefix}zone_name", [*zones.names, None], dtype=pl.String).gather(winners),
    )


def _degrees(column: pl.Series) -> np.ndarray:
    """A coordinate column as float64 numpy, null as NaN (which no box comparison lets through)."""
    return column.cast(pl.Float64).to_numpy()


def _locate(lon: np.ndarray, lat: np.ndarray, zones: Zones) -> np.ndarray:
    """Index of the first zone containing each point, or `len(zones)` for none; chunks run in threads."""
    winners = np.full(len(lon), len(zones), dtype=np.uint32)
    members = np.arange(len(zones))

    def locate_chunk(start: int) -> None:
        stop = min(start + _CHUNK_POINTS, len(lon))
        _visit(members, zones, np.arange(start, stop), lon[start:stop], lat[start:stop], winners)

    starts = range(0, len(lon), _CHUNK_POINTS)
    workers = max(1, min(len(starts), _usable_cpus()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(locate_chunk, starts))  # list() re-raises any worker's exception
    return winners


def _usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS reports one, as in containers)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _visit(
    members: np.ndarray, zones: Zones, rows: np.ndarray, lon: np.ndarray, lat: np.ndarray, winners: np.ndarray
) -> None:
    """Keep the points inside the union box of `members`, then split the zones in two or test each one."""
    keep = _in_box(lon, lat, _union(zones.boxes[members]))
    rows, lon, lat = rows[keep], lon[keep], lat[keep]
    if not len(rows):
        return
    if len(members) > _LEAF_ZONES:
        for half in _halves(members, zones.boxes):
            _visit(half, zones, rows, lon, lat, winners)
        return
    for zone in members:
        candidates = np.flatnonzero(_in_box(lon, lat, zones.boxes[zone]))
        zone_edges = zones.edges[zones.edge_offsets[zone] : zones.edge_offsets[zone + 1]]
        inside = _inside(lon[candidates], lat[candidates], zone_edges)
        hits = rows[candidates[inside]]
        winners[hits] = np.minimum(winners[hits], zone)


def _union(boxes: np.ndarray) -> tuple[float, float, float, float]:
    return boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()


def _halves(members: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The zones split at the median of their box centres, along the axis where the centres spread most."""
    centres = (boxes[members, :2] + boxes[members, 2:]) / 2
    axis = int(np.argmax(np.ptp(centres, axis=0)))
    order = members[np.argsort(centres[:, axis], kind="stable")]
    middle = len(order) // 2
    return order[:middle], order[middle:]


def _in_box(
    lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float] | np.ndarray
) -> np.ndarray:
    min_lon, min_lat, max_lon, max_lat = box
    keep = lon >= min_lon
    keep &= lon <= max_lon
    keep &= lat >= min_lat
    keep &= lat <= max_lat
    return keep


def _inside(lon: np.ndarray, lat: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Even-odd rule: a point is inside when a ray towards +longitude crosses an odd number of edges.

    The crossing test is PNPOLY's, in its operation order, so results match the textbook algorithm exactly.
    """
    inside = np.zeros(len(lon), dtype=bool)
    for lon1, lat1, lon2, lat2 in edges.tolist():
        crosses = (lat1 > lat) != (lat2 > lat)
        crosses &= lon < (lon2 - lon1) * (lat - lat1) / (lat2 - lat1) + lon1
        inside ^= crosses
    return inside
