"""`simulate`: a fleet's hours as landing files, with the defects a real pipeline must survive.

Order of work: weather, then the fleet's segments and trips (an hour of warm-up first, so the run opens
with rides under way), then telemetry slice by slice, then the event-by-event topics hour by hour. Nothing
reads the wall clock except the summary's `seconds`, so the same arguments write the same bytes.
"""

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from mobility_lake.events.catalogue import TOPICS
from mobility_lake.landing import landing_key
from mobility_lake.simulate.cities import HOUR_MS
from mobility_lake.simulate.defects import DEFECT_KINDS, DefectShares
from mobility_lake.simulate.fleet import run_fleet
from mobility_lake.simulate.journeys import Journeys
from mobility_lake.simulate.layout import TELEMETRY_TOPIC, Clock, Layout
from mobility_lake.simulate.rng import generator
from mobility_lake.simulate.routing import EventRouter, FrameRouter
from mobility_lake.simulate.telemetry import TelemetryRenderer
from mobility_lake.simulate.telemetry_defects import spoil_telemetry
from mobility_lake.simulate.users import UserBook
from mobility_lake.simulate.vehicles import build_fleet
from mobility_lake.simulate.weather import Weather, weather_events
from mobility_lake.simulate.writer import encode_events, encode_telemetry
from mobility_lake.storage import Lake

WARM_UP_HOURS = 1
DEFAULT_SHARES = DefectShares()


@dataclass(frozen=True)
class SimulationSummary:
    files: int
    events: int  # distinct events generated, before duplication
    lines: int  # rows or lines written, duplicates and malformed included
    per_topic: dict[str, int]
    defects: dict[str, int]
    seconds: float


def file_name(topic: str, hour: datetime, index: int, extension: str) -> str:
    return f"{topic}-{hour:%Y%m%dT%H}-{index:03d}.{extension}"


class _Run:
    def __init__(self, lake: Lake, clock: Clock, seed: int, shares: DefectShares, layout: Layout):
        self.lake, self.clock, self.seed, self.shares, self.layout = lake, clock, seed, shares, layout
        self.tally: Counter[str] = Counter({kind: 0 for kind in DEFECT_KINDS})
        self.per_topic: Counter[str] = Counter({topic.name: 0 for topic in TOPICS})
        self.files = self.events = 0

    def write(self, topic: str, hour_index: int, file_index: int, rows: list[dict] | pl.DataFrame) -> None:
        """Encode and land one file whole; its malformed lines come from a generator of its own."""
        extension = self.layout.files[topic][hour_index][file_index]
        rng = generator(self.seed, "malformed", topic, self.clock.hour_ms(hour_index), file_index)
        encode = encode_telemetry if topic == TELEMETRY_TOPIC else encode_events
        payload, broken = encode(rows, extension, self.shares.malformed, rng)
        hour = self.clock.hour(hour_index)
        self.lake.write_bytes(
            landing_key(topic, hour, file_name(topic, hour, file_index, extension)), payload
        )
        self.files += 1
        self.per_topic[topic] += len(rows)
        self.tally["malformed"] += broken

    def telemetry(self, renderer: TelemetryRenderer, weather: Weather) -> None:
        """Slice by slice: render, spoil, wrap in envelopes, route, write the slice's file."""
        router = FrameRouter(self.seed, self.layout, self.shares, self.tally)
        for h in range(self.clock.hours):
            temperatures = weather.temperatures(self.clock.hour_ms(h))
            for j in range(self.layout.count(TELEMETRY_TOPIC, h)):
                flat = renderer.render(*self.layout.bounds(TELEMETRY_TOPIC, h, j), temperatures)
                self.events += flat.height
                flat, counts = spoil_telemetry(flat, self.shares, self.seed)
                self.tally.update(counts)
                rows = router.route(renderer.envelope(flat), h, j)
                if rows.height:
                    self.write(TELEMETRY_TOPIC, h, j, rows)

    def services(self, journeys: Journeys, weather: Weather) -> None:
        """Hour by hour: every service topic's events of the hour, routed, then the hour's files written."""
        router = EventRouter(self.seed, self.layout, self.shares, self.tally)
        for h, by_topic in journeys.by_hour():
            by_topic["external.weather"] = weather_events(weather, self.clock.hour_ms(h), journeys.factory)
            for topic in (t.name for t in TOPICS if t.name != TELEMETRY_TOPIC):
                events = by_topic.get(topic, [])
                self.events += len(events)
                router.route(topic, h, events)
                for j in range(self.layout.count(topic, h)):
                    batch = router.take(topic, h, j)
                    if batch:
                        self.write(topic, h, j, batch)


def simulate(
    lake: Lake,
    start: datetime,
    hours: int,
    vehicles: int = 200,
    seed: int = 7,
    defects: DefectShares = DEFAULT_SHARES,
    telemetry_interval_s: int = 60,
    formats: Mapping[str, str] | None = None,
) -> SimulationSummary:
    """Write `hours` hours of landing files from `start` (a whole UTC hour) for a fleet of `vehicles`;
    `formats` makes every file of a topic one format (topic -> "avro", ...) in place of the usual mix."""
    began = time.perf_counter()
    start = _utc_hour(start)
    if hours < 1 or vehicles < 1 or telemetry_interval_s < 1:
        raise ValueError(
            f"hours, vehicles and telemetry_interval_s must be positive: got {hours}, {vehicles}, "
            f"{telemetry_interval_s}"
        )
    start_ms = int(start.timestamp()) * 1000
    clock, interval_ms = Clock(start_ms, hours), telemetry_interval_s * 1000
    unknown = sorted(set(formats or {}) - {t.name for t in TOPICS})
    if unknown:
        raise ValueError(
            f"unknown topic(s) {', '.join(unknown)}: expected some of {', '.join(t.name for t in TOPICS)}"
        )
    layout = Layout(seed, clock, [t.name for t in TOPICS], vehicles * 3600 // telemetry_interval_s, formats)
    weather = Weather(seed, start_ms - WARM_UP_HOURS * HOUR_MS, hours + WARM_UP_HOURS)
    fleet = build_fleet(seed, vehicles, interval_ms)
    warm = run_fleet(fleet, seed, start_ms - WARM_UP_HOURS * HOUR_MS, hours + WARM_UP_HOURS, weather)
    run = _Run(lake, clock, seed, defects, layout)
    run.telemetry(TelemetryRenderer(fleet, warm.segments.frame(), interval_ms, seed), weather)
    journeys = Journeys(seed, start_ms, hours, warm.trips, UserBook(seed, max(100, vehicles * 5)), vehicles)
    run.services(journeys, weather)
    return SimulationSummary(
        files=run.files,
        events=run.events,
        lines=sum(run.per_topic.values()),
        per_topic=dict(run.per_topic),
        defects=dict(run.tally),
        seconds=round(time.perf_counter() - began, 3),
    )


def _utc_hour(start: datetime) -> datetime:
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start.minute or start.second or start.microsecond:
        raise ValueError(f"start must be a whole UTC hour, e.g. 2026-03-10T08:00Z: got {start.isoformat()}")
    return start
