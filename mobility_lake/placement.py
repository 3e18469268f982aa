"""Which silver hour a bronze row belongs to, and which silver hours new bronze rows make due.

A row belongs to the hour of its event time. Rows whose time cannot be trusted for that (missing or
unparseable, implausibly far ahead of the arrival hour, or before the first partition) belong to their
arrival hour instead, where silver quarantines them: every bronze row has exactly one silver hour, so none
can fall between partitions. Silver, the late-data sensor and `mobility-lake materialize` all place rows
by this one rule.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

FUTURE_TOLERANCE = timedelta(hours=1)


def silver_hour(event_hour: pl.Expr, arrival_hour: pl.Expr, first_hour: datetime) -> pl.Expr:
    """The silver hour of each bronze row (see the module docstring)."""
    trusted = (
        event_hour.is_not_null()
        & (event_hour <= arrival_hour + FUTURE_TOLERANCE)
        & (event_hour >= first_hour)
    )
    return pl.when(trusted).then(event_hour).otherwise(arrival_hour)


def place(event_hour: datetime | None, arrival_hour: datetime, first_hour: datetime) -> datetime:
    """`silver_hour` for one (event hour, arrival hour) pair."""
    if event_hour is None or event_hour > arrival_hour + FUTURE_TOLERANCE or event_hour < first_hour:
        return arrival_hour
    return event_hour


@dataclass(frozen=True)
class DueHours:
    """Silver hours to re-materialize automatically, and the rows too late for that (left to a manual re-run)."""

    hours: frozenset[datetime]
    rows_too_late: int
    late_hours: frozenset[datetime] = frozenset()  # the silver hours of those rows


def due_hours(
    arrivals: Iterable[tuple[datetime, datetime | None, int]], first_hour: datetime, lateness: timedelta
) -> DueHours:
    """From (arrival hour, event hour, new rows) triples, the silver hours that the new rows touch."""
    hours: set[datetime] = set()
    late: set[datetime] = set()
    too_late = 0
    for arrival, event, rows in arrivals:
        hour = place(event, arrival, first_hour)
        if hour >= arrival - lateness:
            hours.add(hour)
        else:
            too_late += rows
            late.add(hour)
    return DueHours(frozenset(hours), too_late, frozenset(late))
