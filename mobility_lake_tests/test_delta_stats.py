"""Statistics of polars-written data files: the same as delta-rs writes, so readers skip files alike."""

import json
from datetime import UTC, date, datetime

import polars as pl
from deltalake import write_deltalake

from mobility_lake.delta_stats import file_stats


def delta_rs_stats(frame: pl.DataFrame, tmp_path) -> dict:
    """The statistics delta-rs writes in its `add` action for the same rows."""
    write_deltalake(str(tmp_path), frame.to_arrow())
    log = (tmp_path / "_delta_log" / "00000000000000000000.json").read_text().splitlines()
    (add,) = [json.loads(line)["add"] for line in log if '"add"' in line]
    return json.loads(add["stats"])


def test_scalar_statistics_match_delta_rs(tmp_path) -> None:
    frame = pl.DataFrame(
        {
            "id": ["b", "a", None, "c" * 32],
            "n": [3, None, -1, 7],
            "x": [0.5, 2.25, None, -1.0],
            "day": [date(2026, 3, 10), date(2026, 3, 9), None, date(2026, 3, 11)],
            "at": [
                datetime(2026, 3, 10, 8, 0, 1, 250000, tzinfo=UTC),
                None,
                None,
                datetime(2026, 3, 10, 8, tzinfo=UTC),
            ],
            "empty": pl.Series([None] * 4, dtype=pl.String),
        }
    )
    ours = json.loads(file_stats(frame, frame.columns))
    assert ours == delta_rs_stats(frame, tmp_path)


def test_timestamps_are_rounded_outwards_to_the_millisecond() -> None:
    frame = pl.DataFrame(
        {
            "at": [
                datetime(2026, 3, 10, 8, 0, 0, 1500, tzinfo=UTC),
                datetime(2026, 3, 10, 8, 0, 0, 2700, tzinfo=UTC),
            ]
        }
    )
    stats = json.loads(file_stats(frame, frame.columns))
    # a file is skipped when a wanted value lies outside [min, max]: truncating the maximum would skip this one
    assert stats["minValues"]["at"] == "2026-03-10T08:00:00.001Z"
    assert stats["maxValues"]["at"] == "2026-03-10T08:00:00.003Z"


def test_nested_columns_have_no_statistics_and_skip_nothing() -> None:
    frame = pl.DataFrame({"id": ["a"], "payload": [{"speed": 1.5}], "tags": [["x"]]})
    stats = json.loads(file_stats(frame, frame.columns))
    assert stats == {
        "numRecords": 1,
        "minValues": {"id": "a"},
        "maxValues": {"id": "a"},
        "nullCount": {"id": 0},
    }


def test_long_strings_and_unlisted_columns_have_no_statistics() -> None:
    """A log outlives its files: it keeps no string longer than 256 characters (a raw line) and nothing of a
    column the table does not list (personal.py)."""
    frame = pl.DataFrame({"id": ["a", "b" * 257], "user_id": ["U1", "U2"], "n": [1, 2]})
    stats = json.loads(file_stats(frame, ["id", "n"]))
    assert stats["minValues"] == {"n": 1} and stats["maxValues"] == {"n": 2}
    assert stats["nullCount"] == {"id": 0, "n": 0}
