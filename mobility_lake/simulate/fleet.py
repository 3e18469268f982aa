"""What each vehicle does over the run: a list of status segments, and the bookings made on it.

Each vehicle is walked through time on its own generator: available until a booking arrives (a Poisson
process whose rate follows the hour of day, weekends and rain), in use while it rides to the drop-off
point draining its battery, then available again; a low battery sends it to charging, damage or bad luck
to maintenance. This loop runs per trip, not per telemetry tick: telemetry.py renders the segments.
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from mobility_lake.simulate.cities import HOUR_MS
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.segments import SegmentLog
from mobility_lake.simulate.vehicles import Vehicle
from mobility_lake.simulate.weather import Weather

MINUTE_MS = 60_000
CANCELLED = 0.08  # bookings cancelled before pick-up
# bookings by local hour of day, relative to the peak
# fmt: off
DAY_PROFILE = (0.10, 0.06, 0.04, 0.03, 0.04, 0.12, 0.35, 0.80, 1.00, 0.70, 0.55, 0.60,
               0.70, 0.65, 0.60, 0.65, 0.80, 1.00, 0.95, 0.75, 0.55, 0.40, 0.28, 0.18)
# fmt: on


@dataclass(frozen=True)
class Trip:
    """A booking as the fleet saw it; `end_ms` is None for a cancelled booking."""

    vehicle: Vehicle
    created_ms: int
    start_ms: int
    end_ms: int | None
    lat: float
    lon: float
    end_lat: float
    end_lon: float
    distance_km: float
    damage_reported: bool


@dataclass
class _Walk:
    """One vehicle's state as the run walks it through time, logging a segment per step."""

    vehicle: Vehicle
    log: SegmentLog
    t: int
    lat: float
    lon: float
    battery: float
    odometer: float

    def stay(self, until: int, status: str, battery_to: float | None = None) -> None:
        to = self.battery if battery_to is None else battery_to
        self.log.add(self.vehicle.index, self.t, until, status, self.lat, self.lon, self.lat, self.lon,
                     self.battery, to, self.odometer, self.odometer)  # fmt: skip
        self.t, self.battery = until, to

    def ride(
        self, until: int, lat: float, lon: float, km: float, drain: float, speed: float, wobble: float
    ) -> None:
        self.log.add(self.vehicle.index, self.t, until, "in_use", self.lat, self.lon, lat, lon, self.battery,
                     self.battery - drain, self.odometer, self.odometer + km, speed, wobble)  # fmt: skip
        self.t, self.lat, self.lon = until, lat, lon
        self.battery, self.odometer = self.battery - drain, self.odometer + km


def _destination(walk: _Walk, km: float, rng: random.Random) -> tuple[float, float]:
    """Where a ride of `km` straight-line km ends: reflected back into the zone grid, rarely just outside."""
    south, west, north, east = walk.vehicle.city.bbox
    bearing = rng.uniform(0, 2 * math.pi)
    lat = walk.lat + km * math.cos(bearing) / 111.0
    lon = walk.lon + km * math.sin(bearing) / (111.3 * math.cos(math.radians(walk.lat)))
    if rng.random() < 0.02:  # parked just outside the operating area
        return lat, lon
    lat = 2 * south - lat if lat < south else 2 * north - lat if lat > north else lat
    lon = 2 * west - lon if lon < west else 2 * east - lon if lon > east else lon
    return min(max(lat, south), north), min(max(lon, west), east)


class _Fleet:
    def __init__(self, seed: int, start_ms: int, hours: int, weather: Weather):
        self.seed, self.start_ms, self.weather = seed, start_ms, weather
        self.end_ms = start_ms + hours * HOUR_MS
        self.segments = SegmentLog()
        self.trips: list[Trip] = []

    def demand(self, vehicle: Vehicle, hour_ms: int) -> float:
        """Bookings per hour for an available vehicle in the hour starting at `hour_ms`."""
        when = datetime.fromtimestamp(hour_ms / 1000, tz=UTC)
        local = (when.hour + vehicle.city.utc_offset_h) % 24
        weekend = when.weekday() >= 5
        profile = DAY_PROFILE[(local - 2) % 24] * 1.1 if weekend else DAY_PROFILE[local]
        rain = vehicle.kind.rain_factor if self.weather.is_wet(vehicle.city.name, hour_ms) else 1.0
        return vehicle.kind.bookings_per_hour * profile * rain

    def next_booking(self, vehicle: Vehicle, t: int, rng: random.Random) -> int:
        """Time of the next booking after t (a piecewise-constant rate per hour), or end_ms when none."""
        while t < self.end_ms:
            hour_ms = t - (t - self.start_ms) % HOUR_MS
            rate = self.demand(vehicle, hour_ms)
            wait = rng.expovariate(rate) * HOUR_MS if rate > 0 else math.inf
            if t + wait < hour_ms + HOUR_MS:
                return int(t + wait)
            t = hour_ms + HOUR_MS
        return self.end_ms

    def walk(self, vehicle: Vehicle) -> None:
        rng, kind = generator(self.seed, "fleet", vehicle.index, self.start_ms), vehicle.kind
        walk = _Walk(vehicle, self.segments, self.start_ms, vehicle.lat, vehicle.lon, vehicle.battery,
                     vehicle.odometer_km)  # fmt: skip
        if rng.random() < 0.01:
            walk.stay(walk.t + rng.randint(45, 6 * 60) * MINUTE_MS, "maintenance")
        while walk.t < self.end_ms:
            if walk.battery < kind.low_battery:  # waits for the charging crew, then charges in place
                walk.stay(walk.t + rng.randint(5, 50) * MINUTE_MS, "available")
                target = rng.uniform(90, 100)
                hours = (target - walk.battery) / kind.charge_per_hour
                walk.stay(walk.t + int(hours * HOUR_MS), "charging", target)
                continue
            booked = self.next_booking(vehicle, walk.t, rng)
            if booked >= self.end_ms:
                walk.stay(self.end_ms, "available")
                break
            walk.stay(booked, "available")
            if rng.random() < CANCELLED:  # the vehicle stays available
                self.trips.append(
                    Trip(vehicle, booked, booked, None, walk.lat, walk.lon, walk.lat, walk.lon, 0, False)
                )
                continue
            self.ride(walk, booked, rng)
            if (self.trips[-1].damage_reported and rng.random() < 0.6) or rng.random() < 0.003:
                walk.stay(walk.t + rng.randint(45, 6 * 60) * MINUTE_MS, "maintenance")

    def ride(self, walk: _Walk, booked: int, rng: random.Random) -> None:
        """A ride after the reservation lead time; it ends early when the battery gives out."""
        kind = walk.vehicle.kind
        walk.stay(booked + rng.randint(15_000, 4 * MINUTE_MS), "available")
        minutes = min(max(kind.trip_minutes * math.exp(rng.gauss(0, 0.5)), 2.0), 5 * kind.trip_minutes)
        speed = kind.speed_kmh * rng.uniform(0.75, 1.25)
        km = speed * minutes / 60
        drain = km * kind.drain_per_km * rng.uniform(0.9, 1.1)
        if walk.battery - drain < 2:
            km, drain = km * (walk.battery - 2) / drain, walk.battery - 2
            minutes = max(km / speed * 60, 1.0)
        start, (lat0, lon0) = walk.t, (walk.lat, walk.lon)
        lat, lon = _destination(walk, km / 1.3, rng)  # streets are ~30% longer than the straight line
        walk.ride(start + int(minutes * MINUTE_MS), lat, lon, km, drain, speed, rng.uniform(-0.2, 0.2))
        damage = rng.random() < 0.015
        self.trips.append(
            Trip(walk.vehicle, booked, start, walk.t, lat0, lon0, lat, lon, round(km, 2), damage)
        )


@dataclass(frozen=True)
class FleetRun:
    segments: SegmentLog
    trips: list[Trip]


def run_fleet(fleet: list[Vehicle], seed: int, start_ms: int, hours: int, weather: Weather) -> FleetRun:
    """Every vehicle's segments over [start, start + hours) and the bookings made, ordered by creation."""
    run = _Fleet(seed, start_ms, hours, weather)
    for vehicle in fleet:
        run.walk(vehicle)
    run.trips.sort(key=lambda trip: (trip.created_ms, trip.vehicle.index))
    return FleetRun(run.segments, run.trips)
