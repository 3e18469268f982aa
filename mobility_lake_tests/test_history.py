"""`mobility-lake history` and `query --as-of`: every version's row changes, and the lake as of then."""

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable

from mobility_lake.cli import main
from mobility_lake.history import versions
from mobility_lake.maintenance import maintain
from mobility_lake.settings import load_settings
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

START = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOURS = [START, START + timedelta(hours=1)]
FIRST = START - timedelta(days=1)
QUERY = ["query", "--role", "data_scientist", "--format", "csv"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("history") / "lake"
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))
    simulate(lake, START, len(HOURS), vehicles=8, seed=11)
    bronze_and_silver(lake, HOURS, FIRST)
    # The first hour again, and the weather table compacted: a replacement and an optimize in the log.
    materialize_hour(lake, SILVER_BY_NAME["weather"], START, FIRST, reference_data())
    DeltaTable(lake.table_uri("silver", "weather")).optimize.compact()
    return root


@pytest.fixture
def lake(built, tmp_path, monkeypatch) -> Lake:
    shutil.copytree(built, tmp_path / "lake")
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    return Lake(load_settings())


def rows_at(lake: Lake, version: int) -> int:
    return DeltaTable(lake.table_uri("silver", "weather"), version=version).to_pyarrow_table().num_rows


def count_as_of(capsys, as_of: str) -> int:
    assert main([*QUERY, "--as-of", as_of, "select count(*) as n from silver.weather"]) == 0
    return int(capsys.readouterr().out.splitlines()[1])


def test_history_gives_each_versions_row_changes_exactly(lake, capsys):
    found = versions(lake, "silver", "weather", 50)

    assert [v.version for v in found] == list(range(found[0].version, -1, -1))  # newest first, all of them
    for v in found:
        before = rows_at(lake, v.version - 1) if v.version else 0
        assert v.rows_added - v.rows_removed == rows_at(lake, v.version) - before
    assert found[0].operation == "OPTIMIZE" and found[0].rows_added == found[0].rows_removed > 0
    assert any(v.rows_removed and v.operation != "OPTIMIZE" for v in found)  # the hour made again

    assert main(["history", "silver.weather", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "OPTIMIZE" in lines[1]
    assert f"+{found[0].rows_added}/-{found[0].rows_removed}" in lines[1]


def test_a_limited_history_still_counts_the_rows_of_files_added_before_it(lake):
    full = versions(lake, "silver", "weather", 50)
    assert versions(lake, "silver", "weather", 2) == full[:2]


def test_query_as_of_a_version_or_a_time_reads_the_table_as_it_was(lake, capsys):
    found = versions(lake, "silver", "weather", 50)
    for v in found:
        assert count_as_of(capsys, str(v.version)) == rows_at(lake, v.version)
    second = found[-2]  # committed at `time`: a time then reads it, a millisecond before reads the first
    assert count_as_of(capsys, second.time.isoformat()) == rows_at(lake, second.version)
    before = (second.time - timedelta(milliseconds=1)).isoformat()
    assert count_as_of(capsys, before) == rows_at(lake, second.version - 1)


@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        ("999", "silver.weather has no version 999: versions 0 to"),
        ("2020-01-01T00:00", "silver.weather has no version as of 2020-01-01T00:00:00+00:00: the oldest"),
    ],
)
def test_query_as_of_a_version_the_table_lacks_exits_2_saying_what_it_has(lake, capsys, as_of, says):
    assert main([*QUERY, "--as-of", as_of, "select count(*) from silver.weather"]) == 2
    assert says in capsys.readouterr().err


def test_bad_arguments_and_unknown_tables_exit_2_with_one_line(lake, capsys):
    assert main([*QUERY, "--as-of", "yesterday", "select 1"]) == 2
    assert "neither a version nor a time" in capsys.readouterr().err
    assert main(["history", "gold.nothing"]) == 2
    assert "is not a table" in capsys.readouterr().err
    assert main(["history", "audit.query_log"]) == 2
    assert "audit.query_log has no versions yet" in capsys.readouterr().err


def test_a_version_past_the_vacuum_window_is_refused_not_misread(lake, capsys):
    maintain(lake, datetime.now(UTC) + timedelta(days=31), only="silver.weather", say=lambda _: None)

    assert main([*QUERY, "--as-of", "1", "select count(*) from silver.weather"]) == 2
    assert "vacuumed" in capsys.readouterr().err
    latest = versions(lake, "silver", "weather", 1)[0].version
    assert count_as_of(capsys, str(latest)) == rows_at(lake, latest)
