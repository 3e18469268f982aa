"""gold.customer_journey_events: each app session's path from opening the app to returning the vehicle.

One row per step of each app session that starts on the UTC `day` (its first `app.interaction` event's
`event_time`). The steps of a session, in time order:

- `app`: every `app.interaction` event of the session, including those after midnight;
- `booking`: the `booking.created` events of the session's user whose `event_time` lies in
  [session start, session's last app event + 30 min]. A booking that falls in two sessions' windows goes to
  the one that started first (ties by `session_id`) only, so no booking is counted in two funnels;
- for each such booking: its `booking.completed` (`trip`), its `payment.captured` (`payment`; the
  `payment.authorized` when it was never captured) and its `return.completed` (`return`), the first of each
  when there are several.

Steps at the same instant are ordered app < booking < trip < payment < return, then by `event_id`.
`furthest_stage` is the latest stage in that order that the session reached.

Input contract: `app` holds at least the app events of `day`; pass the day before and after too, so that a
session begun before midnight is known as such (and keeps its bookings) and one running past midnight keeps
its late events. `bookings` and `payments` cover at least [day, day + LOOKAHEAD) so later steps are found.
"""

from datetime import date, timedelta

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import TYPE_PREFIX
from mobility_lake.gold.schema import mart_schema

INTERACTION = TYPE_PREFIX + "app.interaction.v1"
CREATED = TYPE_PREFIX + "booking.created.v1"
COMPLETED = TYPE_PREFIX + "booking.completed.v1"
RETURNED = TYPE_PREFIX + "return.completed.v1"
CAPTURED = TYPE_PREFIX + "payment.captured.v1"
AUTHORIZED = TYPE_PREFIX + "payment.authorized.v1"
STAGES = ("app", "booking", "trip", "payment", "return")
BOOKING_WINDOW = timedelta(minutes=30)
LOOKAHEAD = timedelta(days=2)
EVENT_ORDER = ("event_time", "event_source", "event_id")
STEP = ("user_id", "event_type", "event_id", "event_source", "event_time")  # and `step`, added per stage

COLUMNS: dict[str, pl.DataType] = {
    "session_id": pl.String(),
    "user_id": pl.String(),
    "session_date": pl.Date(),
    "step_number": pl.Int32(),
    "step": pl.String(),
    "event_type": pl.String(),
    "event_id": pl.String(),
    "event_time": pl.Datetime("us", "UTC"),
    "seconds_since_previous_step": pl.Float64(),
    "furthest_stage": pl.String(),
}
DOCS: dict[str, str] = {
    "session_id": "app session identifier",
    "user_id": "pseudonymous user of the session (from its first app event)",
    "session_date": "UTC day the session started (its first app event)",
    "step_number": "1..n, the step's place in the session, in time order",
    "step": "app, booking, trip, payment or return",
    "event_type": "CloudEvents type of the step's event",
    "event_id": "CloudEvents id of the step's event",
    "event_time": "when the step's event happened, UTC",
    "seconds_since_previous_step": "seconds since the session's previous step; null for step 1",
    "furthest_stage": "furthest stage the session reached (app < booking < trip < payment < return)",
}
KEY: tuple[str, ...] = ("session_id", "step_number")

CHECKS: dict[str, list[pa.Check]] = {
    "step_number": [pa.Check.ge(1)],
    "step": [pa.Check.isin(STAGES)],
    "seconds_since_previous_step": [pa.Check.ge(0)],
    "furthest_stage": [pa.Check.isin(STAGES)],
}
NULLABLE = {"seconds_since_previous_step"}
SCHEMA = mart_schema("customer_journey_events", COLUMNS, KEY, CHECKS, NULLABLE)
STAGE_RANK = pl.Enum(STAGES)  # ordered categories: rank of a stage, and max() gives the furthest


def sessions(app: pl.LazyFrame) -> pl.LazyFrame:
    """Each session's user, first and last app event time (over every app event passed in). A session of an
    erased subject (no user) has no journey: journeys are rows that exist per subject."""
    return (
        app.filter(pl.col("event_type") == INTERACTION, pl.col("session_id").is_not_null())
        .group_by("session_id")
        .agg(
            user_id=pl.col("user_id").sort_by(EVENT_ORDER).first(),
            started=pl.col("event_time").min(),
            last_seen=pl.col("event_time").max(),
        )
        .filter(pl.col("user_id").is_not_null())
    )


def linked_bookings(sessions: pl.LazyFrame, bookings: pl.LazyFrame) -> pl.LazyFrame:
    """The session each booking belongs to: the user's earliest session whose window holds its creation."""
    created = (
        bookings.filter(pl.col("event_type") == CREATED)
        .sort(EVENT_ORDER)
        .unique("booking_id", keep="first", maintain_order=True)
    )
    in_window = pl.col("event_time").is_between(pl.col("started"), pl.col("last_seen") + BOOKING_WINDOW)
    return (
        created.join(sessions, on="user_id", how="inner")
        .filter(in_window)
        .sort("started", "session_id")
        .unique("booking_id", keep="first", maintain_order=True)
        .select("session_id", "booking_id", *STEP, step=pl.lit("booking"))
    )


def _first_per_booking(events: pl.LazyFrame, event_types: list[str], step: str) -> pl.LazyFrame:
    """The first event of the types per booking, preferring earlier types in the list over later ones."""
    preference = pl.col("event_type").replace_strict(event_types, range(len(event_types)), default=None)
    return (
        events.filter(pl.col("event_type").is_in(event_types))
        .sort(preference, *EVENT_ORDER)
        .unique("booking_id", keep="first", maintain_order=True)
        .select("booking_id", *STEP[1:], step=pl.lit(step))
    )


def later_steps(links: pl.LazyFrame, bookings: pl.LazyFrame, payments: pl.LazyFrame) -> pl.LazyFrame:
    """Trip, payment and return steps of the linked bookings, under the booking's session."""
    found = pl.concat(
        [
            _first_per_booking(bookings, [COMPLETED], "trip"),
            _first_per_booking(payments, [CAPTURED, AUTHORIZED], "payment"),
            _first_per_booking(bookings, [RETURNED], "return"),
        ]
    )
    return links.select("session_id", "booking_id", "user_id").join(found, on="booking_id", how="inner")


def customer_journey_events(
    app: pl.LazyFrame, bookings: pl.LazyFrame, payments: pl.LazyFrame, day: date
) -> pl.DataFrame:
    """Per session started on `day`: its app events, then its bookings, trips, payments and returns."""
    every_session = sessions(app)
    links = linked_bookings(every_session, bookings)
    of_day = every_session.filter(pl.col("started").dt.date() == day).select("session_id", "user_id")
    app_steps = (
        app.filter(pl.col("event_type") == INTERACTION)
        .join(of_day.select("session_id"), on="session_id", how="semi")
        .select("session_id", *STEP, step=pl.lit("app"))
    )
    steps = pl.concat(
        [
            app_steps.drop("user_id"),
            links.drop("booking_id", "user_id"),
            later_steps(links, bookings, payments).drop("booking_id", "user_id"),
        ],
        how="vertical_relaxed",
    ).join(of_day, on="session_id", how="inner")  # the session's user on every step
    stage = pl.col("step").cast(STAGE_RANK)
    return (
        steps.sort("session_id", "event_time", stage.to_physical(), "event_id", "event_source")
        .with_columns(
            step_number=pl.int_range(1, pl.len() + 1).over("session_id"),
            seconds_since_previous_step=pl.col("event_time").diff().dt.total_microseconds().over("session_id")
            / 1_000_000,
            furthest_stage=stage.max().over("session_id").cast(pl.String),
            session_date=pl.lit(day, dtype=pl.Date()),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in COLUMNS.items())
        .sort(KEY)
        .collect()
    )
