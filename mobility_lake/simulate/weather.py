"""Hourly weather per city: one observation per city per hour, and the ambient state the fleet reacts to.

Generated before the fleet because demand (fewer scooter rides in rain) and vehicle temperatures depend
on it. Conditions follow a sticky Markov chain so a rainy hour is usually followed by another.
"""

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from mobility_lake.events.catalogue import PAYLOADS
from mobility_lake.simulate.cities import CITIES, HOUR_MS, City
from mobility_lake.simulate.envelope import EventFactory
from mobility_lake.simulate.rng import generator

WET = ("rain", "snow", "storm")
PRECIPITATION_MM = {"rain": (0.1, 4.0), "snow": (0.1, 2.0), "storm": (3.0, 18.0)}
SOURCE, OBSERVATION = "//weather-service", "weather.observation.v1"


@dataclass(frozen=True)
class Observation:
    city: str
    time_ms: int
    temperature_c: float
    precipitation_mm: float
    wind_speed_kmh: float
    condition: str


def _seasonal_mean(city: City, when: datetime) -> float:
    mean, amplitude = city.climate
    day = when.timetuple().tm_yday
    local_hour = (when.hour + city.utc_offset_h) % 24
    seasonal = mean - amplitude * math.cos(2 * math.pi * (day - 18) / 365.25)
    return seasonal + 4.0 * math.sin(2 * math.pi * (local_hour - 9) / 24)


def _next_condition(current: str, temperature: float, local_hour: int, rng: random.Random) -> str:
    """Mostly the same as the hour before; rain turns to snow below freezing, fog only in the morning."""
    u, v = rng.random(), rng.random()
    if u < 0.82:
        condition = current
    elif v < 0.40:
        condition = "clear"
    elif v < 0.72:
        condition = "cloudy"
    elif v < 0.92:
        condition = "rain"
    elif v < 0.985:
        condition = "fog" if 3 <= local_hour <= 10 else "cloudy"
    else:
        condition = "storm"
    if condition == "rain" and temperature < 0.5:
        condition = "snow"
    if condition == "snow" and temperature > 2.5:
        condition = "rain"
    if condition == "fog" and not 2 <= local_hour <= 11:
        condition = "cloudy"
    return condition


class Weather:
    """Observations for every (city, hour index) of a run."""

    def __init__(self, seed: int, start_ms: int, hours: int):
        self.start_ms = start_ms
        self.hours = hours
        self.observations: dict[tuple[str, int], Observation] = {}
        for city in CITIES:
            self._simulate(city, generator(seed, "weather", city.code, start_ms))

    def _simulate(self, city: City, rng: random.Random) -> None:
        slot_ms = rng.randrange(HOUR_MS)  # the service polls each city at a fixed moment of the hour
        anomaly, wind, condition = (
            rng.gauss(0, 2.5),
            rng.uniform(6, 20),
            rng.choice(("clear", "cloudy", "rain")),
        )
        for h in range(self.hours):
            time_ms = self.start_ms + h * HOUR_MS + slot_ms
            when = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
            anomaly = 0.93 * anomaly + rng.gauss(0, 0.6)
            temperature = _seasonal_mean(city, when) + anomaly
            condition = _next_condition(condition, temperature, (when.hour + city.utc_offset_h) % 24, rng)
            wind = min(max(0.85 * wind + 0.15 * 14 + rng.gauss(0, 2.0), 0.0), 45.0)
            rain = PRECIPITATION_MM.get(condition)
            self.observations[(city.name, h)] = Observation(
                city=city.name,
                time_ms=time_ms,
                temperature_c=round(temperature - (1.5 if condition == "rain" else 0.0), 1),
                precipitation_mm=round(rng.uniform(*rain), 1) if rain else 0.0,
                wind_speed_kmh=round(wind + (rng.uniform(35, 70) if condition == "storm" else 0.0), 1),
                condition=condition,
            )

    def at(self, city: str, time_ms: int) -> Observation:
        """The observation of the hour holding `time_ms` (clamped to the simulated hours)."""
        hour_index = min(max((time_ms - self.start_ms) // HOUR_MS, 0), self.hours - 1)
        return self.observations[(city, hour_index)]

    def temperatures(self, time_ms: int) -> dict[str, float]:
        return {city.name: self.at(city.name, time_ms).temperature_c for city in CITIES}

    def is_wet(self, city: str, time_ms: int) -> bool:
        return self.at(city, time_ms).condition in WET


def weather_events(weather: Weather, hour_ms: int, factory: EventFactory) -> list[tuple[int, dict]]:
    """The weather service's observations of every city for the hour starting at `hour_ms`."""
    events = []
    for city in CITIES:
        obs = weather.at(city.name, hour_ms)
        data = {name: getattr(obs, name) for name in PAYLOADS[OBSERVATION]}
        events.append(
            (obs.time_ms, factory.event(SOURCE, OBSERVATION, obs.time_ms, obs.city, data, factory.trace_id()))
        )
    return events
