"""The quarantine-share verdict of one hour: its own rows only, and no verdict on an hour too small to judge."""

from collections import Counter
from datetime import UTC, datetime

import pytest

from mobility_lake.silver.quality import HourFigures, hour_checks, quarantine_share_check

HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)


def figures(bronze: int, quarantined: int) -> HourFigures:
    return HourFigures(
        HOUR,
        bronze_rows=bronze,
        silver_rows=bronze - quarantined,
        quarantine_rows=quarantined,
        quarantine_by_reason=Counter({"out_of_range": quarantined} if quarantined else {}),
    )


@pytest.mark.parametrize(
    ("bronze", "quarantined", "passed", "judged"),
    [
        (5, 1, True, False),  # one reject of five: too small to judge, never blocks
        (199, 199, True, False),
        (200, 10, True, True),  # exactly at the share
        (200, 11, False, True),
        (10_000, 1, True, True),
        (0, 0, True, False),
    ],
)
def test_share_rule_judges_only_hours_with_enough_rows(bronze, quarantined, passed, judged):
    outcome = quarantine_share_check(figures(bronze, quarantined), max_share=0.05, min_rows=200)
    assert outcome.passed is passed
    assert outcome.metadata["judged"] is judged
    assert outcome.metadata["bronze_rows"] == bronze
    assert outcome.metadata["quarantined_rows_by_reason"] == (
        {"out_of_range": quarantined} if quarantined else {}
    )


def test_every_check_of_an_hour_reports_counts_only():
    outcomes = hour_checks(figures(300, 3), max_share=0.05, min_rows=200)
    assert [o.name for o in outcomes] == [
        "silver_schema",
        "unique_identity",
        "conservation",
        "quarantine_share",
    ]
    assert all(o.passed for o in outcomes)
    for outcome in outcomes:
        assert all(isinstance(v, int | float | bool | dict) for v in outcome.metadata.values())
