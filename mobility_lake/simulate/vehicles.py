"""The vehicles: types and how they behave, ids, home cities, and where they start the run.

A vehicle's identity and starting state come from a generator keyed by (seed, vehicle number) alone, so
vehicle 17 is the same scooter in every run with that seed, whatever the fleet size.
"""

import math
import random
from dataclasses import dataclass

from mobility_lake.simulate.cities import CITIES, City
from mobility_lake.simulate.rng import generator

ID_LETTERS = "ABCDEFGHJKLMNPRSTUVWXZ"


@dataclass(frozen=True)
class Kind:
    """How a vehicle type behaves: bookings per available hour at peak, trip length, speed, battery."""

    share: float
    bookings_per_hour: float
    trip_minutes: float  # median
    speed_kmh: float  # average while in use
    drain_per_km: float  # battery percent
    charge_per_hour: float  # battery percent
    low_battery: float
    odometer_km: tuple[float, float]
    rain_factor: float


KINDS: dict[str, Kind] = {
    "scooter": Kind(0.55, 0.9, 11, 14, 2.6, 28, 15, (150, 6000), 0.45),
    "ebike": Kind(0.25, 0.7, 16, 16, 1.8, 32, 15, (100, 4000), 0.55),
    "car": Kind(0.15, 0.35, 32, 24, 0.35, 55, 20, (4000, 90000), 1.15),
    "van": Kind(0.05, 0.15, 55, 22, 0.5, 40, 20, (9000, 160000), 1.0),
}


@dataclass(frozen=True)
class Vehicle:
    index: int
    vehicle_id: str
    vehicle_type: str
    city: City
    phase_ms: int  # offset of its telemetry ticks within the interval
    lat: float
    lon: float
    battery: float
    odometer_km: float

    @property
    def kind(self) -> Kind:
        return KINDS[self.vehicle_type]


def place(city: City, rng: random.Random, outside: float) -> tuple[float, float]:
    """A parking spot: dense towards the centre, inside the zone grid except with probability `outside`."""
    south, west, north, east = city.bbox
    if rng.random() < outside:  # just beyond the operating area
        angle, stretch = rng.uniform(0, 2 * math.pi), rng.uniform(1.05, 1.4)
        return (
            city.centre[0] + stretch * (north - south) / 2 * math.sin(angle),
            city.centre[1] + stretch * (east - west) / 2 * math.cos(angle),
        )
    return rng.triangular(south, north), rng.triangular(west, east)


def _vehicle_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        vehicle_id = rng.choice(ID_LETTERS) + rng.choice(ID_LETTERS) + f"{rng.randrange(10**6):06d}"
        if vehicle_id not in taken:
            taken.add(vehicle_id)
            return vehicle_id


def build_fleet(seed: int, count: int, interval_ms: int) -> list[Vehicle]:
    """`count` vehicles spread over the cities by fleet share (each city gets one first), types in a mix."""
    taken: set[str] = set()
    weights = [c.fleet_share for c in CITIES]
    kinds, kind_weights = list(KINDS), [k.share for k in KINDS.values()]
    jitter_ms = min(50, interval_ms // 10)  # leaves room for the per-tick jitter of telemetry.py
    fleet = []
    for index in range(count):
        rng = generator(seed, "vehicle", index)
        city = CITIES[index] if index < len(CITIES) else rng.choices(CITIES, weights)[0]
        vehicle_type = rng.choices(kinds, kind_weights)[0]
        lat, lon = place(city, rng, outside=0.03)
        fleet.append(
            Vehicle(
                index=index,
                vehicle_id=_vehicle_id(rng, taken),
                vehicle_type=vehicle_type,
                city=city,
                phase_ms=rng.randrange(interval_ms - jitter_ms),
                lat=lat,
                lon=lon,
                battery=round(rng.uniform(8, 100), 1),
                odometer_km=round(rng.uniform(*KINDS[vehicle_type].odometer_km), 2),
            )
        )
    return fleet
