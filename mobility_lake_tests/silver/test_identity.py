"""One row per identity across hours (issue 12, finding 3): a copy of a known (source, id) with another event
time is a conflicting duplicate; the first landed copy stays in silver, later ones go to quarantine, in
whichever hour each lies, for every topic, whatever order the hours run in; `unique_identity` looks across
the lateness window."""

from datetime import UTC, datetime, timedelta

import orjson
import polars as pl
import pytest

from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.landing import landing_key
from mobility_lake.settings import load_settings
from mobility_lake.silver.identity import repeated_elsewhere, shared_hashes
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.quality import unique_check
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.storage import Lake
from mobility_lake_tests.silver.test_transforms import GOOD, event

H8 = datetime(2026, 3, 10, 8, tzinfo=UTC)
H9 = H8 + timedelta(hours=1)
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
LATENESS = timedelta(hours=72)
TOPIC_OF = {t.bronze_table: t.name for t in TOPICS}


def land(lake: Lake, table: str, arrival: datetime, name: str, events: list[dict]) -> None:
    topic = TOPIC_OF[SILVER_BY_NAME[table].bronze_table]
    lake.write_bytes(landing_key(topic, arrival, name), b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    ingest_hours(lake, SILVER_BY_NAME[table].bronze_table, [arrival])


def materialize(lake: Lake, table: str, hours: list[datetime]) -> dict:
    return {
        h: materialize_hour(lake, SILVER_BY_NAME[table], h, FIRST, reference_data(), LATENESS) for h in hours
    }


def identity(frame: pl.DataFrame, source: str, id_: str) -> pl.DataFrame:
    return frame.filter((pl.col("event_source") == source) & (pl.col("event_id") == id_))


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))


@pytest.mark.parametrize("table", sorted(GOOD))
@pytest.mark.parametrize("order", ["in time order", "later hour first"])
def test_a_copy_with_another_hours_time_is_quarantined_and_the_first_landed_stays(lake, table, order):
    first = event(table, n=7, time="2026-03-10T08:10:00Z")
    land(lake, table, H8, "a.jsonl", [first, event(table, n=8, time="2026-03-10T08:20:00Z")])
    land(lake, table, H9, "b.jsonl", [{**first, "time": "2026-03-10T09:10:00Z"}])

    figures = materialize(lake, table, [H8, H9] if order == "in time order" else [H9, H8])

    source = first["source"]
    silver = identity(lake.read("silver", table), source, "e-7")
    assert silver["event_time"].to_list() == [datetime(2026, 3, 10, 8, 10, tzinfo=UTC)]
    quarantined = identity(lake.read("quarantine", table), source, "e-7")
    assert quarantined.select("reason", "rule", "partition_hour").rows() == [
        ("conflicting_duplicate", "identity.unique", H9)
    ]
    assert quarantined["landing_file"].item().endswith("b.jsonl")
    for hour_figures in figures.values():
        assert hour_figures.conserved
        assert unique_check(hour_figures).passed, unique_check(hour_figures).metadata


def test_within_an_hour_a_redelivery_is_a_duplicate_and_another_time_a_conflict(lake):
    table = "payment_events"
    first = event(table, n=1, time="2026-03-10T08:10:00Z")
    land(lake, table, H8, "a.jsonl", [first, first, {**first, "time": "2026-03-10T08:40:00Z"}])

    (figures,) = materialize(lake, table, [H8]).values()

    assert (figures.silver_rows, figures.duplicates, figures.quarantine_rows) == (1, 1, 1)
    assert lake.read("quarantine", table)["reason"].to_list() == ["conflicting_duplicate"]
    assert lake.read("silver", table)["event_time"].to_list() == [datetime(2026, 3, 10, 8, 10, tzinfo=UTC)]


def test_the_copy_ingested_first_stays_even_when_it_landed_in_a_later_hour_folder(lake):
    """A file that lands late in an old hour folder was landed after the copy already in silver: it does not
    displace it, so no hour that new rows do not touch needs re-running."""
    table = "booking_events"
    original = event(table, n=3, time="2026-03-10T09:05:00Z")
    land(lake, table, H9, "first.jsonl", [original])
    materialize(lake, table, [H9])
    land(lake, table, H8, "late-file.jsonl", [{**original, "time": "2026-03-10T08:55:00Z"}])

    materialize(lake, table, [H8])

    source = original["source"]
    assert identity(lake.read("silver", table), source, "e-3")["event_time"].to_list() == [
        datetime(2026, 3, 10, 9, 5, tzinfo=UTC)
    ]
    assert identity(lake.read("quarantine", table), source, "e-3")["partition_hour"].to_list() == [H8]


def test_unique_identity_sees_an_identity_that_two_silver_hours_hold(lake):
    table = "weather"
    land(lake, table, H8, "a.jsonl", [event(table, n=1, time="2026-03-10T08:10:00Z")])
    far = H8 + LATENESS + timedelta(hours=3)
    land(lake, table, far, "b.jsonl", [event(table, n=1, time=f"{far:%Y-%m-%dT%H}:10:00Z")])
    materialize(lake, table, [H8, far])  # beyond the window: not compared, both stay

    assert repeated_elsewhere(lake, table, H8, LATENESS) == 0
    assert repeated_elsewhere(lake, table, H8, LATENESS + timedelta(hours=3)) == 1
    (wide,) = materialize(lake, table, [H8]).values()
    assert wide.repeated_elsewhere == 0  # the copy at H8 landed first and stays
    assert (
        materialize_hour(
            lake, SILVER_BY_NAME[table], far, FIRST, reference_data(), LATENESS + timedelta(hours=3)
        ).silver_rows
        == 0
    )  # with the window wide enough, the later copy goes to quarantine


@pytest.mark.parametrize("there_rows", [3, 5_000], ids=["there-smaller", "there-larger"])
def test_shared_hashes_are_the_intersection_whichever_side_holds_the_set(there_rows):
    here = pl.Series("h", [5, 7, 11, 13, 17, 19], dtype=pl.UInt64)
    there = pl.LazyFrame({"x": pl.Series([7, 19, 23], dtype=pl.UInt64).extend_constant(23, there_rows - 3)})

    assert sorted(shared_hashes(here, there).to_list()) == [7, 19]
    assert shared_hashes(here, there.filter(pl.col("x") > 100)).is_empty()
