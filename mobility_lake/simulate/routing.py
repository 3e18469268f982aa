"""Where each copy of an event lands: the arrival hour folder and the file within it.

The landing folders are arrival hours (CONTRACT §2). An on-time event lands in the file whose time slice
holds its event time; a late one 1..N hours later (clamped to the run's last hour, so events of the last
hour are never late); a duplicate is a second copy in the same hour or a later one. Copies bound for a
file not written yet wait in `pending`, so every file is written once, whole.
"""

from collections import defaultdict

import polars as pl

from mobility_lake.simulate.cities import HOUR_MS
from mobility_lake.simulate.defects import DefectShares, spoil_event
from mobility_lake.simulate.layout import MAX_LATENESS_H, TELEMETRY_TOPIC, Layout, lateness_hours
from mobility_lake.simulate.rng import generator, stream_key, uniform_expr


class EventRouter:
    """Content defects, lateness and duplicates for the event-by-event topics, one hour at a time."""

    def __init__(self, seed: int, layout: Layout, shares: DefectShares, tally: dict[str, int]):
        self.seed, self.layout, self.shares, self.tally = seed, layout, shares, tally
        self.pending: dict[tuple[str, int, int], list[tuple[int, int, dict]]] = defaultdict(list)
        self.sequence = 0

    def _to(self, topic: str, hour_index: int, file_index: int, arrival_ms: int, event: dict) -> None:
        self.sequence += 1
        self.pending[(topic, hour_index, file_index)].append((arrival_ms, self.sequence, event))

    def route(self, topic: str, hour_index: int, events: list[tuple[int, dict]]) -> None:
        clock, shares, layout = self.layout.clock, self.shares, self.layout
        rng = generator(self.seed, "route", topic, clock.hour_ms(hour_index))
        for time_ms, event in sorted(events, key=lambda timed: timed[0]):
            kind = shares.content_kind(rng.random())
            if kind is not None and spoil_event(event, kind, topic, rng):
                self.tally[kind] += 1
            arrival, file_index, arrival_ms = hour_index, layout.file_at(topic, hour_index, time_ms), time_ms
            if hour_index < clock.last and rng.random() < shares.late:
                self.tally["late"] += 1
                arrival = min(hour_index + lateness_hours(rng.random()), clock.last)
                file_index = rng.randrange(layout.count(topic, arrival))
                arrival_ms = rng.randrange(*layout.bounds(topic, arrival, file_index))
            self._to(topic, arrival, file_index, arrival_ms, event)
            if rng.random() < shares.duplicate:
                self.tally["duplicate"] += 1
                again = min(arrival + (0 if rng.random() < 0.55 else rng.randint(1, 3)), clock.last)
                file_index = rng.randrange(layout.count(topic, again))
                self._to(
                    topic, again, file_index, rng.randrange(*layout.bounds(topic, again, file_index)), event
                )

    def take(self, topic: str, hour_index: int, file_index: int) -> list[dict]:
        """The events of one file in arrival order; forgets them."""
        waiting = sorted(self.pending.pop((topic, hour_index, file_index), []), key=lambda item: item[:2])
        return [event for _, _, event in waiting]


class FrameRouter:
    """Lateness and duplicates for telemetry frames, vectorised; file (h, j) must be routed in order."""

    def __init__(self, seed: int, layout: Layout, shares: DefectShares, tally: dict[str, int]):
        self.layout, self.shares, self.tally = layout, shares, tally
        self.keys = {
            name: stream_key(seed, "route", "telemetry", name)
            for name in ("late", "lateness", "late_file", "late_ms", "dup", "dup_hours", "dup_file", "dup_ms")
        }
        self.pending: dict[tuple[int, int], list[pl.DataFrame]] = defaultdict(list)
        self.counts = {h: layout.count(TELEMETRY_TOPIC, h) for h in range(layout.clock.hours)}

    def _u(self, name: str) -> pl.Expr:
        return uniform_expr(pl.col("counter"), self.keys[name])

    def _landing(
        self, hours: pl.Expr, slot_u: pl.Expr, ms_u: pl.Expr, min_file: pl.Expr
    ) -> dict[str, pl.Expr]:
        """Arrival hour, file (from `min_file` on) and a moment within that file's slice, per row."""
        n = hours.replace_strict(self.counts, return_dtype=pl.Int64)
        file_index = min_file + (slot_u * (n - min_file)).floor().cast(pl.Int64)
        start_ms = self.layout.clock.start_ms
        arrival_ms = start_ms + hours * HOUR_MS + ((file_index + ms_u) * HOUR_MS / n).cast(pl.Int64)
        return {"arrival": hours, "file": file_index, "arrival_ms": arrival_ms}

    def route(self, frame: pl.DataFrame, hour_index: int, file_index: int) -> pl.DataFrame:
        """The rows file (hour_index, file_index) holds, in arrival order; the rest wait for their file.

        Only the few late or duplicated rows get their landing computed; waiting rows are compacted, since
        a filtered polars frame would otherwise keep the whole chunk's string buffers alive.
        """
        last, shares = self.layout.clock.last, self.shares
        is_late = (self._u("late") < shares.late) & pl.lit(hour_index < last)
        frame = frame.with_columns(is_late=is_late, is_dup=self._u("dup") < shares.duplicate)
        lateness = 1 + (-(1 - self._u("lateness")).log() * 2.5).floor().cast(pl.Int64)  # as lateness_hours
        late_hour = (hour_index + lateness.clip(1, MAX_LATENESS_H)).clip(upper_bound=last)
        late = frame.filter("is_late").with_columns(
            **self._landing(late_hour, self._u("late_file"), self._u("late_ms"), pl.lit(0))
        )
        on_time = frame.filter(~pl.col("is_late")).with_columns(
            arrival=pl.lit(hour_index, pl.Int64), file=pl.lit(file_index, pl.Int64), arrival_ms=pl.col("t")
        )
        originals = pl.concat([on_time, late])
        u = self._u("dup_hours")
        hops = pl.when(u < 0.55).then(0).otherwise(1 + ((u - 0.55) / 0.45 * 3).floor().cast(pl.Int64))
        again = (pl.col("arrival") + hops).clip(upper_bound=last)
        copies = originals.filter("is_dup").with_columns(
            **self._landing(
                again,
                self._u("dup_file"),
                self._u("dup_ms"),
                pl.when(again == hour_index).then(file_index).otherwise(0),
            )
        )
        self.tally["late"] += late.height
        self.tally["duplicate"] += copies.height
        here = (pl.col("arrival") == hour_index) & (pl.col("file") == file_index)
        waiting = pl.concat([late, copies]).drop("is_late", "is_dup")
        for (arrival, index), part in (
            waiting.filter(~here).partition_by("arrival", "file", as_dict=True).items()
        ):
            compact = pl.from_arrow(part.to_arrow(compat_level=pl.CompatLevel.oldest()))
            self.pending[(int(arrival), int(index))].append(compact)
        parts = [
            on_time.drop("is_late", "is_dup"),
            waiting.filter(here),
            *self.pending.pop((hour_index, file_index), []),
        ]
        return (
            pl.concat(parts, how="vertical_relaxed")
            .sort("arrival_ms", "counter")  # counter breaks ties: upstream row order is not fixed
            .drop("arrival", "file", "arrival_ms")
        )
