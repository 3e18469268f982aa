"""Splitting rows into parts by a key hash: every row once, a key's rows together, scratch files removed."""

import polars as pl

from mobility_lake.parts import part_count, part_of, spill_directory, split_by_key


def test_part_count_rounds_up_and_is_at_least_one(monkeypatch):
    monkeypatch.setattr("mobility_lake.parts.PART_ROWS", 100)
    assert [part_count(n) for n in (0, 1, 100, 101, 1000)] == [1, 1, 1, 2, 10]


def test_every_row_lands_once_in_the_part_its_key_hashes_to():
    sources = [f"vehicle/{i % 37}" for i in range(5000)] + [None] * 3
    rows = pl.LazyFrame({"source": sources, "n": range(5003)})
    with spill_directory() as spill:
        split = [part.collect() for part in split_by_key(rows, "source", 8, spill)]
        assert spill.is_dir()
    assert not spill.exists()
    assert len(split) == 8
    for number, part in enumerate(split):
        assert part.columns == ["source", "n"]
        assert part.select((part_of("source", 8) == number).all()).item()
    assert sorted(pl.concat(split)["n"].to_list()) == list(range(5003))


def test_a_part_no_key_hashes_to_is_an_empty_frame_of_the_same_columns():
    rows = pl.LazyFrame({"source": ["a"] * 10, "n": range(10)})
    with spill_directory() as spill:
        split = [part.collect() for part in split_by_key(rows, "source", 3, spill)]
    assert sorted(part.height for part in split) == [0, 0, 10]
    assert all(part.schema == split[0].schema for part in split)


def test_one_part_is_the_rows_themselves_and_writes_nothing(tmp_path):
    rows = pl.LazyFrame({"source": ["a", "b"]})
    assert split_by_key(rows, "source", 1, tmp_path) == [rows]
    assert list(tmp_path.iterdir()) == []
