"""Replacing one hour of a day-partitioned table with files polars wrote: exactly the hour, once, whatever
else is in the day and whoever writes the same hour at the same time."""

import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake.exceptions import CommitFailedError
from polars.testing import assert_frame_equal

from mobility_lake import data_files
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

H8 = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOUR = timedelta(hours=1)
SCHEMA = pl.Schema({"id": pl.String(), "at": pl.Datetime("us", "UTC"), "day": pl.Date()})


def rows(start: datetime, count: int, tag: str) -> pl.DataFrame:
    """`count` rows a minute apart from `start`."""
    return pl.DataFrame(
        {
            "id": [f"{tag}{i}" for i in range(count)],
            "at": [start + timedelta(minutes=i) for i in range(count)],
            "day": [start.date()] * count,
        },
        schema=SCHEMA,
    )


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))


def replace(lake: Lake, hour: datetime, *frames: pl.DataFrame) -> None:
    lake.replace_window_streaming("silver", "t", SCHEMA, lambda: iter(frames), "at", hour, hour + HOUR, "day")


def table(lake: Lake) -> pl.DataFrame:
    return lake.read("silver", "t").select(list(SCHEMA)).sort("at", "id")


def stray_files(lake: Lake) -> set[str]:
    """Data files on disk that no commit ever added (removed files stay on disk until a vacuum)."""
    root = Path(lake.table_uri("silver", "t"))
    added = {
        json.loads(line)["add"]["path"]
        for commit in (root / "_delta_log").glob("*.json")
        for line in commit.read_text().splitlines()
        if line.startswith('{"add"')
    }
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")} - added


def test_replacing_an_hour_twice_keeps_the_second_and_the_other_hours(lake: Lake) -> None:
    nine = rows(H8 + HOUR, 30, "n")
    replace(lake, H8 + HOUR, nine)
    replace(lake, H8, rows(H8, 50, "a"), rows(H8 + timedelta(minutes=50), 5, "b"))
    replace(lake, H8, rows(H8, 20, "c"))
    assert_frame_equal(table(lake), pl.concat([rows(H8, 20, "c"), nine]).sort("at", "id"))
    before = lake.delta_table("silver", "t").version()
    replace(lake, H8)  # nothing made for the hour: it is emptied
    assert_frame_equal(table(lake), nine)
    assert lake.delta_table("silver", "t").version() == before + 1


def test_a_day_with_a_file_across_hours_is_rewritten_by_delta_rs_and_keeps_its_other_rows(lake: Lake) -> None:
    across = rows(H8 + timedelta(minutes=30), 60, "x")  # 08:30 .. 09:29, one file
    lake.replace_where("silver", "t", across, "at >= '2026-03-10T08:00:00+00:00'", partition_by=["day"])
    replace(lake, H8, rows(H8, 10, "c"))
    expected = pl.concat([rows(H8, 10, "c"), across.filter(pl.col("at") >= H8 + HOUR)])
    assert_frame_equal(table(lake), expected.sort("at", "id"))
    replace(lake, H8, rows(H8, 3, "d"))  # the 09:00 rows now sit in their own file: the fast way again
    assert_frame_equal(table(lake), pl.concat([rows(H8, 3, "d"), expected.slice(10)]).sort("at", "id"))


def test_a_failure_while_making_the_rows_changes_nothing_and_leaves_no_file(lake: Lake) -> None:
    replace(lake, H8, rows(H8, 10, "a"))

    def broken():
        yield rows(H8, 5, "b")
        yield rows(H8 + timedelta(minutes=5), 5, "c")
        raise RuntimeError("the next part could not be read")

    with pytest.raises(RuntimeError, match="could not be read"):
        lake.replace_window_streaming("silver", "t", SCHEMA, broken, "at", H8, H8 + HOUR, "day")
    assert_frame_equal(table(lake), rows(H8, 10, "a"))
    assert stray_files(lake) == set()


def test_rows_of_other_types_are_refused_and_change_nothing(lake: Lake) -> None:
    replace(lake, H8, rows(H8, 3, "a"))
    wrong = rows(H8, 3, "b").with_columns(pl.col("at").cast(pl.Datetime("ns", "UTC")))
    with pytest.raises(ValueError, match=r"do not match the table's columns \(at\)"):
        replace(lake, H8, rows(H8 + timedelta(minutes=3), 3, "c"), wrong)
    assert_frame_equal(table(lake), rows(H8, 3, "a"))
    assert stray_files(lake) == set()


@pytest.mark.parametrize("other_way", ["polars files", "delta-rs rewrite"])
def test_concurrent_writers_of_one_hour_leave_one_copy(
    lake: Lake, monkeypatch, caplog, other_way: str
) -> None:
    caplog.set_level(logging.WARNING, logger="mobility_lake.storage")
    replace(lake, H8, rows(H8, 10, "old"))
    made = threading.Barrier(2)
    first_tries: set[str] = set()

    def frames(tag: str):
        def make():
            frame = rows(H8, 10, tag)
            if tag not in first_tries:  # both writers have read the table before either commits
                first_tries.add(tag)
                made.wait(timeout=5)
            yield frame

        return make

    original = data_files.files_of_window

    def straddled_for_the_rewriter(*args):  # the rewriter sees a file across hours, as delta-rs must rewrite
        return None if threading.current_thread().name == "rewrite" else original(*args)

    monkeypatch.setattr(data_files, "files_of_window", straddled_for_the_rewriter)

    def write(tag: str) -> None:
        writer = Lake(lake.settings)
        writer.replace_window_streaming("silver", "t", SCHEMA, frames(tag), "at", H8, H8 + HOUR, "day")

    second = "rewrite" if other_way == "delta-rs rewrite" else "files"
    threads = [
        threading.Thread(target=write, args=("p",)),
        threading.Thread(target=write, args=("q",), name=second),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    written = table(lake)
    assert written.height == 10 and written["id"].str.head(1).n_unique() == 1  # one writer's rows, once
    assert written["day"].unique().to_list() == [date(2026, 3, 10)]
    assert stray_files(lake) == set()
    assert "lost a race with another writer" in caplog.text  # the two commits really collided


def test_concurrent_writers_of_two_hours_of_one_day_both_commit_without_making_their_rows_again(
    lake: Lake,
) -> None:
    replace(lake, H8, rows(H8, 10, "old8"))
    replace(lake, H8 + HOUR, rows(H8 + HOUR, 10, "old9"))
    made = threading.Barrier(2)
    makings: list[str] = []

    def write(hour: datetime, tag: str) -> None:
        def make():
            makings.append(tag)
            frame = rows(hour, 10, tag)
            made.wait(timeout=5)  # both have read the table: the second commit finds the first's removals
            yield frame

        Lake(lake.settings).replace_window_streaming(
            "silver", "t", SCHEMA, make, "at", hour, hour + HOUR, "day"
        )

    threads = [threading.Thread(target=write, args=(H8 + i * HOUR, tag)) for i, tag in enumerate("pq")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_frame_equal(table(lake), pl.concat([rows(H8, 10, "p"), rows(H8 + HOUR, 10, "q")]))
    assert sorted(makings) == ["p", "q"]
    assert stray_files(lake) == set()


def test_a_write_that_loses_a_race_writes_rows_made_again_not_the_stale_ones(lake: Lake, monkeypatch) -> None:
    """Gold's rows are made from silver: after losing a commit race to a writer that saw newer silver, the
    retry makes its rows again instead of overwriting the winner with rows made before it committed."""
    lost = []
    write = Lake._write_streaming

    def lose_once(self, *args, **kwargs):
        if not lost:
            lost.append(True)
            raise CommitFailedError("another writer committed first")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(Lake, "_write_streaming", lose_once)
    stale, fresh = pl.DataFrame({"n": [1]}), pl.DataFrame({"n": [2]})
    lake.replace_where("gold", "g", stale, "n >= 0", rebuild=lambda: fresh)
    assert lost and lake.read("gold", "g")["n"].to_list() == [2]
