"""customer_journey_events on hand-built sessions; expected steps and seconds worked out by hand."""

from datetime import UTC, date, datetime

import pandera.errors
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from mobility_lake.gold.journeys import COLUMNS, SCHEMA, customer_journey_events
from mobility_lake_tests.gold.rows import silver

DAY = date(2026, 3, 10)
PREFIX = "com.mobilitycorp."
INTERACTION = PREFIX + "app.interaction.v1"
CREATED, COMPLETED, RETURNED = (
    PREFIX + t for t in ("booking.created.v1", "booking.completed.v1", "return.completed.v1")
)
AUTHORIZED, CAPTURED = PREFIX + "payment.authorized.v1", PREFIX + "payment.captured.v1"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def app(event_id: str, session: str, user: str, time: datetime) -> dict:
    return {
        "event_id": event_id,
        "event_type": INTERACTION,
        "session_id": session,
        "user_id": user,
        "event_time": time,
    }


def event(event_id: str, event_type: str, booking_id: str, user: str, time: datetime) -> dict:
    """A booking or payment event (both tables share these columns)."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "booking_id": booking_id,
        "user_id": user,
        "event_time": time,
    }


def journeys(
    app_rows: list[dict], booking_rows: list[dict], payment_rows: list[dict], day=DAY
) -> pl.DataFrame:
    result = customer_journey_events(
        silver("app_events", app_rows),
        silver("booking_events", booking_rows),
        silver("payment_events", payment_rows),
        day,
    )
    SCHEMA.validate(result)
    return result


def steps(session: str, user: str, furthest: str, rows: list[tuple]) -> list[tuple]:
    """Expected rows of a session: (step, event_type, event_id, event_time, seconds) numbered from 1."""
    return [
        (session, user, DAY, number, step, event_type, event_id, time, seconds, furthest)
        for number, (step, event_type, event_id, time, seconds) in enumerate(rows, start=1)
    ]


def expected(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=COLUMNS, orient="row")


def test_a_full_funnel_session_gives_every_step_with_the_seconds_between_them():
    app_rows = [app("a2", "s1", "u1", at(10, 10, 2)), app("a1", "s1", "u1", at(10, 10, 0))]  # out of order
    booking_rows = [
        event("c1", CREATED, "b1", "u1", at(10, 10, 5)),
        event("t1", COMPLETED, "b1", "u1", at(10, 10, 35)),
        event("r1", RETURNED, "b1", "u1", at(10, 10, 40)),
    ]
    payment_rows = [
        event("p0", AUTHORIZED, "b1", "u1", at(10, 10, 5, 30)),  # captured later: the capture is the step
        event("p1", CAPTURED, "b1", "u1", at(10, 10, 36)),
    ]

    result = journeys(app_rows, booking_rows, payment_rows)

    assert_frame_equal(
        result,
        expected(
            steps(
                "s1",
                "u1",
                "return",
                [
                    ("app", INTERACTION, "a1", at(10, 10, 0), None),
                    ("app", INTERACTION, "a2", at(10, 10, 2), 120.0),  # 10:00 -> 10:02
                    ("booking", CREATED, "c1", at(10, 10, 5), 180.0),  # 10:02 -> 10:05
                    ("trip", COMPLETED, "t1", at(10, 10, 35), 1800.0),  # 10:05 -> 10:35, 30 min
                    ("payment", CAPTURED, "p1", at(10, 10, 36), 60.0),  # 10:35 -> 10:36
                    ("return", RETURNED, "r1", at(10, 10, 40), 240.0),  # 10:36 -> 10:40
                ],
            )
        ),
    )


def test_a_session_that_stops_at_booking_and_the_30_minute_window():
    app_rows = [app("a1", "s2", "u2", at(10, 11, 0)), app("x2", "s2", "u2", at(10, 11, 10))]
    booking_rows = [
        # Same instant as x2: app comes before booking, though "c1" sorts before "x2".
        event("c1", CREATED, "b1", "u2", at(10, 11, 10)),
        event("c2", CREATED, "b2", "u2", at(10, 11, 40)),  # 11:10 + 30 min exactly: linked
        event("c3", CREATED, "b3", "u2", at(10, 11, 40, 1)),  # one second later: not linked
        event("c4", CREATED, "b4", "u9", at(10, 11, 5)),  # another user: not linked
        event("c5", CREATED, "b5", "u2", at(10, 10, 59)),  # before the session: not linked
        event("t3", COMPLETED, "b3", "u2", at(10, 12, 0)),  # the trip of an unlinked booking: no step
    ]

    result = journeys(app_rows, booking_rows, [])

    assert_frame_equal(
        result,
        expected(
            steps(
                "s2",
                "u2",
                "booking",
                [
                    ("app", INTERACTION, "a1", at(10, 11, 0), None),
                    ("app", INTERACTION, "x2", at(10, 11, 10), 600.0),  # 10 min
                    ("booking", CREATED, "c1", at(10, 11, 10), 0.0),  # same instant
                    ("booking", CREATED, "c2", at(10, 11, 40), 1800.0),  # 30 min
                ],
            )
        ),
    )


def test_sessions_are_kept_by_the_day_they_start_and_a_booking_goes_to_the_earliest_session():
    app_rows = [
        # s0 starts the day before and runs past midnight: not the day's.
        app("a1", "s0", "u3", at(9, 23, 50)),
        app("a2", "s0", "u3", at(10, 0, 10)),
        # s3 starts on the day; its booking window [0:20, 0:50] also holds b1, but b1 is s0's
        # (window [23:50, 0:40]), which started first.
        app("a3", "s3", "u3", at(10, 0, 20)),
        # s4 starts late on the day; its event after midnight still belongs to it.
        app("a4", "s4", "u4", at(10, 23, 55)),
        app("a5", "s4", "u4", at(11, 0, 5)),
        # s5 starts the next day: not the day's.
        app("a6", "s5", "u4", at(11, 9, 0)),
    ]
    booking_rows = [event("c1", CREATED, "b1", "u3", at(10, 0, 25))]

    result = journeys(app_rows, booking_rows, [])

    assert_frame_equal(
        result,
        expected(
            steps("s3", "u3", "app", [("app", INTERACTION, "a3", at(10, 0, 20), None)])
            + steps(
                "s4",
                "u4",
                "app",
                [
                    ("app", INTERACTION, "a4", at(10, 23, 55), None),
                    ("app", INTERACTION, "a5", at(11, 0, 5), 600.0),  # 23:55 -> 0:05, 10 min
                ],
            )
        ),
    )


def test_an_authorized_payment_is_the_step_when_it_was_never_captured():
    app_rows = [app("a1", "s5", "u5", at(10, 12, 0))]
    booking_rows = [
        event("c1", CREATED, "b1", "u5", at(10, 12, 1)),
        event("t1", COMPLETED, "b1", "u5", at(10, 12, 30)),
    ]
    payment_rows = [
        event("p1", AUTHORIZED, "b1", "u5", at(10, 12, 1, 30)),
        event("p2", PREFIX + "payment.refunded.v1", "b1", "u5", at(10, 13, 0)),  # not a step
    ]

    result = journeys(app_rows, booking_rows, payment_rows)

    assert_frame_equal(
        result,
        expected(
            # The authorization came before the trip ended: steps go by time, and the furthest stage
            # reached is still payment (app < booking < trip < payment < return).
            steps(
                "s5",
                "u5",
                "payment",
                [
                    ("app", INTERACTION, "a1", at(10, 12, 0), None),
                    ("booking", CREATED, "c1", at(10, 12, 1), 60.0),  # 12:00 -> 12:01
                    ("payment", AUTHORIZED, "p1", at(10, 12, 1, 30), 30.0),  # 12:01:00 -> 12:01:30
                    ("trip", COMPLETED, "t1", at(10, 12, 30), 1710.0),  # 12:01:30 -> 12:30, 28.5 min
                ],
            )
        ),
    )


def test_empty_inputs_give_an_empty_frame_with_the_columns():
    result = journeys([], [], [])

    assert result.is_empty()
    assert result.schema == pl.Schema(COLUMNS)


def test_schema_rejects_an_unknown_stage_and_a_repeated_key():
    row = steps("s1", "u1", "app", [("app", INTERACTION, "a1", at(10, 10), None)])[0]
    SCHEMA.validate(expected([row]))
    with pytest.raises(pandera.errors.SchemaError):
        SCHEMA.validate(expected([row[:4] + ("checkout",) + row[5:]]))
    with pytest.raises(pandera.errors.SchemaError):
        SCHEMA.validate(expected([row, row]))
