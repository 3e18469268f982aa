"""Seed-scale telemetry input, generated column-wise: N events of one hour landed as Parquet files.

The event-by-event simulator makes about 250k events/s; a seed hour is 180M. Here every field is a pure
function of the event's global index (a counter-based hash), so a file is built with a few numpy and polars
column operations, and a redelivered copy of an event is the same function of the same index: equal in
every attribute, as a real redelivery is. Files hold whole seconds of the fleet in time order, as a sink
writes them; about 0.5% of events are redelivered in a later file and about 0.1% carry a battery level
out of range (quarantined by silver).
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from mobility_lake.events.catalogue import SPEC_VERSION, TELEMETRY, TYPE_PREFIX
from mobility_lake.landing import landing_key
from mobility_lake.silver.zones import load_zones
from mobility_lake.storage import Lake

TOPIC = "veh.events.raw"
EVENT_TYPE = TYPE_PREFIX + "vehicle.telemetry.v1"
FILE_ROWS = 2_000_000
DUPLICATE_SHARE = 0.005
OUT_OF_RANGE_SHARE = 0.001
VEHICLE_TYPES = ("scooter", "ebike", "car", "van")
STATUSES = ("available", "in_use", "charging", "maintenance")
_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class SeedHour:
    """What was landed: the hour, the rows (redelivered copies included) and the files."""

    hour: datetime
    rows: int
    files: int
    bytes: int


def _uniform(index: np.ndarray, salt: int) -> np.ndarray:
    """A uniform [0, 1) value per index and salt: splitmix64, so any index is computed alone."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) * _MIX + np.uint64(salt) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _label(column: str, labels: tuple[str, ...]) -> pl.Expr:
    return pl.col(column).replace_strict(dict(enumerate(labels)), return_dtype=pl.String)


def events(index: np.ndarray, vehicles: int, hour: datetime) -> pl.DataFrame:
    """The events with these global indexes: event i is vehicle i mod V's report at second i div V."""
    zones = load_zones()
    vehicle = index % vehicles
    second = index // vehicles
    home = (_uniform(vehicle, 1) * len(zones)).astype(np.int64)
    box = zones.boxes[home]
    lon = box[:, 0] + (box[:, 2] - box[:, 0]) * (0.25 + 0.5 * _uniform(index, 2))
    lat = box[:, 1] + (box[:, 3] - box[:, 1]) * (0.25 + 0.5 * _uniform(index, 3))
    battery = np.round(100 * _uniform(index, 4), 1)
    battery = np.where(_uniform(index, 5) < OUT_OF_RANGE_SHARE, 150.0, battery)
    millis = second * 1000 + (_uniform(index, 6) * 1000).astype(np.int64)
    frame = pl.DataFrame(
        {
            "_vehicle": vehicle,
            "_sequence": second,
            "_millis": millis,
            "_type": (_uniform(vehicle, 7) * len(VEHICLE_TYPES)).astype(np.int64),
            "_status": (_uniform(index, 8) * len(STATUSES)).astype(np.int64),
            "latitude": lat,
            "longitude": lon,
            "battery_level": battery,
            "speed_kmh": np.round(40 * _uniform(index, 9), 1),
            "temperature_c": np.round(-5 + 35 * _uniform(vehicle, 10), 1),
            "odometer_km": np.round(20000 * _uniform(vehicle, 11) + second / 100, 2),
        }
    )
    cities = pl.Series(zones.cities).gather(home)
    vehicle_id = pl.concat_str(pl.lit("VH"), pl.col("_vehicle").cast(pl.String).str.pad_start(6, "0")).alias(
        "vehicle_id"
    )
    time = pl.lit(hour, pl.Datetime("ms", "UTC")) + pl.duration(milliseconds=pl.col("_millis"))
    return frame.with_columns(vehicle_id, cities.alias("city")).select(
        pl.lit(SPEC_VERSION).alias("specversion"),
        pl.concat_str(pl.col("vehicle_id"), pl.lit("-"), pl.col("_sequence").cast(pl.String)).alias("id"),
        pl.concat_str(pl.lit("/vehicles/"), pl.col("vehicle_id")).alias("source"),
        pl.lit(EVENT_TYPE).alias("type"),
        time.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").alias("time"),
        pl.col("vehicle_id").alias("subject"),
        pl.lit("application/json").alias("datacontenttype"),
        pl.lit("https://schemas.mobilitycorp.example/vehicle.telemetry.v1.json").alias("dataschema"),
        pl.lit(None, pl.String).alias("traceparent"),
        pl.struct(
            "vehicle_id",
            _label("_type", VEHICLE_TYPES).alias("vehicle_type"),
            "city",
            "latitude",
            "longitude",
            "battery_level",
            "speed_kmh",
            "temperature_c",
            "odometer_km",
            _label("_status", STATUSES).alias("status"),
        )
        .cast(pl.Struct(TELEMETRY))
        .alias("data"),
    )


def _originals(rows: int) -> int:
    return max(1, round(rows / (1 + DUPLICATE_SHARE)))


def _file_indexes(rows: int, file_rows: int, seed: int) -> Iterator[np.ndarray]:
    """Global indexes per file: each file's own block plus redeliveries of events of earlier blocks."""
    rng = np.random.default_rng(seed)
    originals = _originals(rows)
    for start in range(0, originals, file_rows):
        block = np.arange(start, min(start + file_rows, originals), dtype=np.int64)
        if start:
            copies = rng.integers(0, start, size=round(len(block) * DUPLICATE_SHARE))
            block = np.concatenate([block, np.sort(copies)])
        yield block


def land_seed_hour(
    lake: Lake, hour: datetime, rows: int, seed: int = 7, file_rows: int | None = None, form: str = "parquet"
) -> SeedHour:
    """Land about `rows` telemetry events of `hour` (a fleet of rows / 3600 vehicles at 1 s) as Parquet
    (zstd) or Avro (`form`; snappy, the S3 sink's usual codec), in files of `file_rows` (default:
    FILE_ROWS, and at least four files, so a small hour has redeliveries)."""
    file_rows = file_rows or min(FILE_ROWS, -(-_originals(rows) // 4))
    vehicles = -(-_originals(rows) // 3600)  # enough vehicles that every report falls in the hour
    hour = hour.astimezone(UTC)
    landed = written = files = 0
    for number, block in enumerate(_file_indexes(rows, file_rows, seed)):
        frame = events(block, vehicles, hour)
        path = landing_key(TOPIC, hour, f"seed-{number:05d}.{form}")
        buffer = io.BytesIO()
        if form == "avro":
            frame.write_avro(buffer, compression="snappy")
        else:
            frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=True)
        lake.write_bytes(path, buffer.getvalue())
        landed += frame.height
        written += buffer.tell()
        files += 1
    return SeedHour(hour=hour, rows=landed, files=files, bytes=written)
