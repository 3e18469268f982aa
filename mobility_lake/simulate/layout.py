"""The landing layout of a run: its hours, and how many files each topic writes per hour in which format.

File j of an hour holds the j-th time slice of that hour (a sink flushing on a timer); telemetry gets
enough files to keep each near a million rows, and every 4th hour one of them is gzipped JSONL, as from a
legacy gateway. Decided up front, so late and duplicate copies can be routed to files not written yet.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from mobility_lake.simulate.cities import HOUR_MS
from mobility_lake.simulate.rng import generator

TELEMETRY_TOPIC = "veh.events.raw"
ROWS_PER_TELEMETRY_FILE = 1_000_000
MAX_LATENESS_H = 48


@dataclass(frozen=True)
class Clock:
    start_ms: int
    hours: int

    @property
    def last(self) -> int:
        return self.hours - 1

    def hour_ms(self, hour_index: int) -> int:
        return self.start_ms + hour_index * HOUR_MS

    def hour(self, hour_index: int) -> datetime:
        return datetime.fromtimestamp(self.hour_ms(hour_index) / 1000, tz=UTC)


def lateness_hours(u: float) -> int:
    """Mostly an hour or two, with a tail: 1 + an exponential of mean 2.5 h, at most MAX_LATENESS_H."""
    return min(1 + int(-math.log(1.0 - u) * 2.5), MAX_LATENESS_H)


FORMATS = ("jsonl", "jsonl.gz", "parquet")
LANDING_FORMATS = (*FORMATS, "avro")  # what a topic's files can all be made (`simulate --format`)


def plan_files(
    seed: int, topic: str, hour_ms: int, telemetry_rows_per_hour: int, forced: str | None = None
) -> list[str]:
    """The formats of one topic's files in one arrival hour, one entry per file; every file `forced`'s
    when given (the same number of files, so the events and their routing do not change)."""
    plan = _plan(seed, topic, hour_ms, telemetry_rows_per_hour)
    return plan if forced is None else [forced] * len(plan)


def _plan(seed: int, topic: str, hour_ms: int, telemetry_rows_per_hour: int) -> list[str]:
    rng = generator(seed, "files", topic, hour_ms)
    if topic == "external.weather":
        return rng.choices(FORMATS, (0.5, 0.3, 0.2), k=rng.randint(1, 2))
    if topic != TELEMETRY_TOPIC:
        return rng.choices(FORMATS, (0.45, 0.3, 0.25), k=rng.randint(2, 4))
    plan = ["parquet"] * max(rng.randint(2, 4), math.ceil(telemetry_rows_per_hour / ROWS_PER_TELEMETRY_FILE))
    if (hour_ms // HOUR_MS + seed) % 4 == 0:  # the legacy gateway's hour
        plan[-1] = "jsonl.gz"
    return plan


class Layout:
    """How many files each topic writes per arrival hour and in which format; file j holds slice j."""

    def __init__(
        self,
        seed: int,
        clock: Clock,
        topics: list[str],
        telemetry_rows_per_hour: int,
        formats: Mapping[str, str] | None = None,
    ):
        self.clock = clock
        formats = formats or {}
        self.files = {
            topic: [
                plan_files(seed, topic, clock.hour_ms(h), telemetry_rows_per_hour, formats.get(topic))
                for h in range(clock.hours)
            ]
            for topic in topics
        }

    def count(self, topic: str, hour_index: int) -> int:
        return len(self.files[topic][hour_index])

    def bounds(self, topic: str, hour_index: int, file_index: int) -> tuple[int, int]:
        """[start, end) in ms of the file's slice of the hour."""
        n, base = self.count(topic, hour_index), self.clock.hour_ms(hour_index)
        return base + file_index * HOUR_MS // n, base + (file_index + 1) * HOUR_MS // n

    def file_at(self, topic: str, hour_index: int, time_ms: int) -> int:
        return (time_ms - self.clock.hour_ms(hour_index)) * self.count(topic, hour_index) // HOUR_MS
