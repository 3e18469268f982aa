"""The fleet: vehicles, and what each one does over the run as a list of status segments and trips.

Each vehicle is simulated on its own (its own generator, so adding vehicles does not change the others):
available until a booking arrives (a Poisson process whose rate follows the hour of day, weekends and rain),
in use while it moves to the drop-off point draining its battery, then available again; a low battery
sends it to charging, damage or bad luck to maintenance. Telemetry is rendered from the segments later,
vectorised, so this loop runs per trip, not per telemetry tick.
"""

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from mobility_lake.simulate.cities import CITIES, HOUR_MS, City
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.segments import SegmentLog
from mobility_lake.simulate.weather import Weather

MINUTE_MS = 60_000


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
# bookings by local hour of day, relative to the peak
DAY_PROFILE = (0.10, 0.06, 0.04, 0.03, 0.04, 0.12, 0.35, 0.80, 1.00, 0.70, 0.55, 0.60,
               0.70, 0.65, 0.60, 0.65, 0.80, 1.00, 0.95, 0.75, 0.55, 0.40, 0.28, 0.18)


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


def _vehicle_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        vehicle_id = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXZ") for _ in range(2)) + f"{rng.randrange(10**6):06d}"
        if vehicle_id not in taken:
            taken.add(vehicle_id)
            return vehicle_id


def place(city: City, rng: random.Random, outside: float) -> tuple[float, float]:
    """A parking spot: dense towards the centre, inside the zone grid except with probability `outside`."""
    south, west, north, east = city.bbox
    if rng.random() < outside:
        angle = rng.uniform(0, 2 * math.pi)
        stretch = rng.uniform(1.05, 1.4)
        return (city.centre[0] + stretch * (north - south) / 2 * math.sin(angle),
                city.centre[1] + stretch * (east - west) / 2 * math.cos(angle))
    return rng.triangular(south, north), rng.triangular(west, east)


def build_fleet(seed: int, count: int, interval_ms: int) -> list[Vehicle]:
    """`count` vehicles spread over the cities by fleet share, in a realistic mix of types."""
    taken: set[str] = set()
    cities, weights = [c for c in CITIES], [c.fleet_share for c in CITIES]
    kinds, kind_weights = list(KINDS), [k.share for k in KINDS.values()]
    jitter_ms = min(50, interval_ms // 10)
    fleet = []
    for index in range(count):
        rng = generator(seed, "vehicle", index)
        city = cities[index % len(cities)] if index < len(cities) else rng.choices(cities, weights)[0]
        vehicle_type = rng.choices(kinds, kind_weights)[0]
        kind = KINDS[vehicle_type]
        lat, lon = place(city, rng, outside=0.03)
        fleet.append(
            Vehicle(index, _vehicle_id(rng, taken), vehicle_type, city, rng.randrange(interval_ms - jitter_ms),
                    lat, lon, round(rng.uniform(8, 100), 1), round(rng.uniform(*kind.odometer_km), 2))
        )
    return fleet


def _destination(vehicle: Vehicle, lat: float, lon: float, km: float, rng: random.Random) -> tuple[float, float]:
    """Where a trip of `km` straight-line km from (lat, lon) ends: reflected back into the grid mostly."""
    south, west, north, east = vehicle.city.bbox
    bearing = rng.uniform(0, 2 * math.pi)
    lat2 = lat + km * math.cos(bearing) / 111.0
    lon2 = lon + km * math.sin(bearing) / (111.3 * math.cos(math.radians(lat)))
    if rng.random() < 0.02:  # parked just outside the operating area
        return lat2, lon2
    lat2 = south + abs(lat2 - south) if lat2 < south else north - abs(lat2 - north) if lat2 > north else lat2
    lon2 = west + abs(lon2 - west) if lon2 < west else east - abs(lon2 - east) if lon2 > east else lon2
    return min(max(lat2, south), north), min(max(lon2, west), east)


class _FleetRun:
    def __init__(self, seed: int, start_ms: int, hours: int, weather: Weather):
        self.seed, self.start_ms, self.hours, self.weather = seed, start_ms, hours, weather
        self.end_ms = start_ms + hours * HOUR_MS
        self.segments = SegmentLog()
        self.trips: list[Trip] = []

    def demand(self, vehicle: Vehicle, hour_index: int) -> float:
        """Bookings per hour for an available vehicle in that hour."""
        kind = KINDS[vehicle.vehicle_type]
        when = datetime.fromtimestamp((self.start_ms + hour_index * HOUR_MS) / 1000, tz=timezone.utc)
        local = (when.hour + vehicle.city.utc_offset_h) % 24
        weekend = when.weekday() >= 5
        profile = DAY_PROFILE[(local - 2) % 24] if weekend else DAY_PROFILE[local]
        rain = kind.rain_factor if self.weather.is_wet(vehicle.city.name, hour_index) else 1.0
        return kind.bookings_per_hour * profile * rain * (1.1 if weekend else 1.0)

    def next_booking(self, vehicle: Vehicle, t: int, rng: random.Random) -> int:
        """Time of the next booking after t (piecewise-constant rate per hour), or end_ms when none."""
        while t < self.end_ms:
            hour_index = (t - self.start_ms) // HOUR_MS
            hour_end = self.start_ms + (hour_index + 1) * HOUR_MS
            rate = self.demand(vehicle, hour_index)
            wait = rng.expovariate(rate) * HOUR_MS if rate > 0 else math.inf
            if t + wait < hour_end:
                return int(t + wait)
            t = hour_end
        return self.end_ms

    def run(self, vehicle: Vehicle) -> None:
        rng = generator(self.seed, "fleet", vehicle.index, self.start_ms)
        kind = KINDS[vehicle.vehicle_type]
        log, t = self.segments, self.start_ms
        lat, lon, battery, odometer = vehicle.lat, vehicle.lon, vehicle.battery, vehicle.odometer_km
        status = "charging" if battery < kind.low_battery else "maintenance" if rng.random() < 0.01 else "available"
        while t < self.end_ms:
            if status == "charging":
                target = rng.uniform(90, 100)
                until = t + int(max(target - battery, 1) / kind.charge_per_hour * HOUR_MS)
                log.add(vehicle.index, t, until, "charging", lat, lon, lat, lon, battery, target, odometer, odometer)
                t, battery, status = until, target, "available"
                continue
            if status == "maintenance":
                until = t + rng.randint(45, 6 * 60) * MINUTE_MS
                log.add(vehicle.index, t, until, "maintenance", lat, lon, lat, lon, battery, battery, odometer, odometer)
                t, status = until, "available"
                continue
            if battery < kind.low_battery:  # waits for the charging crew, then charges in place
                until = min(t + rng.randint(5, 50) * MINUTE_MS, self.end_ms)
                log.add(vehicle.index, t, until, "available", lat, lon, lat, lon, battery, battery, odometer, odometer)
                t, status = until, "charging"
                continue
            booked = self.next_booking(vehicle, t, rng)
            if booked >= self.end_ms:
                log.add(vehicle.index, t, self.end_ms, "available", lat, lon, lat, lon, battery, battery, odometer, odometer)
                break
            if rng.random() < 0.08:  # cancelled before pick-up: the vehicle stays available
                self.trips.append(Trip(vehicle, booked, booked, None, lat, lon, lat, lon, 0.0, False))
                log.add(vehicle.index, t, booked, "available", lat, lon, lat, lon, battery, battery, odometer, odometer)
                t = booked
                continue
            start = booked + rng.randint(15_000, 4 * MINUTE_MS)
            minutes = min(max(kind.trip_minutes * math.exp(rng.gauss(0, 0.5)), 2.0), 5 * kind.trip_minutes)
            speed = kind.speed_kmh * rng.uniform(0.75, 1.25)
            km = speed * minutes / 60
            drain = km * kind.drain_per_km * rng.uniform(0.9, 1.1)
            if battery - drain < 2:  # the ride ends when the battery gives out
                km, drain = km * (battery - 2) / drain, battery - 2
                minutes = max(km / speed * 60, 1.0)
            end = start + int(minutes * MINUTE_MS)
            lat2, lon2 = _destination(vehicle, lat, lon, km / 1.3, rng)
            log.add(vehicle.index, t, start, "available", lat, lon, lat, lon, battery, battery, odometer, odometer)
            log.add(vehicle.index, start, end, "in_use", lat, lon, lat2, lon2, battery, battery - drain, odometer,
                    odometer + km, speed, rng.uniform(-0.2, 0.2))
            damage = rng.random() < 0.015
            self.trips.append(Trip(vehicle, booked, start, end, lat, lon, lat2, lon2, round(km, 2), damage))
            t, lat, lon, battery, odometer = end, lat2, lon2, battery - drain, odometer + km
            if (damage and rng.random() < 0.6) or rng.random() < 0.003:
                status = "maintenance"


@dataclass(frozen=True)
class FleetRun:
    segments: SegmentLog
    trips: list[Trip]


def run_fleet(fleet: list[Vehicle], seed: int, start_ms: int, hours: int, weather: Weather) -> FleetRun:
    """Every vehicle's segments over [start, start + hours) and the bookings made, ordered by creation."""
    run = _FleetRun(seed, start_ms, hours, weather)
    for vehicle in fleet:
        run.run(vehicle)
    run.trips.sort(key=lambda trip: (trip.created_ms, trip.vehicle.index))
    return FleetRun(run.segments, run.trips)
