"""The file ledger: each landed file is ingested exactly once, however often and concurrently its hour runs."""

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pytest

from mobility_lake.bronze import ingest
from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.bronze.ledger import ingested_files
from mobility_lake.landing import landing_key
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

H8 = datetime(2026, 3, 10, 8, tzinfo=UTC)
H9 = datetime(2026, 3, 10, 9, tzinfo=UTC)


def lines(n: int, prefix: str) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"{prefix}-{i}",
                "source": "//booking-service",
                "type": "com.mobilitycorp.booking.cancelled.v1",
                "data": {},
            }
        )
        + b"\n"
        for i in range(n)
    )


@pytest.fixture
def lake(tmp_path) -> Lake:
    return Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))


def land(lake: Lake, hour: datetime, name: str, payload: bytes) -> str:
    key = landing_key("domain.events", hour, name)
    lake.write_bytes(key, payload)
    return key


def test_rerunning_an_hour_adds_nothing_and_a_new_file_adds_exactly_its_lines(lake):
    a = land(lake, H8, "a.jsonl", lines(5, "a"))
    b = land(lake, H8, "b.jsonl", lines(3, "b"))
    first = ingest_hours(lake, "domain_events", [H8])
    assert (first.files_added, first.rows_added) == (2, 8)
    again = ingest_hours(lake, "domain_events", [H8])
    assert (again.files_added, again.rows_added, again.files_already_ingested) == (0, 0, 2)
    c = land(lake, H8, "c.jsonl", lines(4, "c"))
    third = ingest_hours(lake, "domain_events", [H8])
    assert (third.files_added, third.rows_added) == (1, 4)
    table = lake.read("bronze", "domain_events")
    assert table.height == 12
    assert table.group_by("landing_file").len().sort("landing_file").rows() == [(a, 5), (b, 3), (c, 4)]
    assert ingested_files(lake, "domain_events", [H8]) == {a, b, c}
    assert ingested_files(lake, "domain_events", [H8], [a, c, "landing/never-landed.jsonl"]) == {a, c}


def test_the_ledger_is_per_arrival_hour_and_rows_keep_their_origin(lake):
    a = land(lake, H8, "a.jsonl", lines(2, "a"))
    b = land(lake, H9, "a.jsonl", lines(1, "b"))
    ingest_hours(lake, "domain_events", [H8, H9])
    assert ingested_files(lake, "domain_events", [H8]) == {a}
    assert ingested_files(lake, "domain_events", [H9]) == {b}
    table = lake.read("bronze", "domain_events").sort("landing_file", "record_number")
    assert table.select("landing_file", "record_number", "arrival_hour").rows() == [
        (a, 1, H8),
        (a, 2, H8),
        (b, 1, H9),
    ]
    assert table["ingested_at"].null_count() == 0


def test_earlier_versions_stay_readable_and_appends_rewrite_no_row(lake):
    land(lake, H8, "a.jsonl", lines(2, "a"))
    ingest_hours(lake, "domain_events", [H8])
    land(lake, H8, "b.jsonl", lines(2, "b"))
    ingest_hours(lake, "domain_events", [H8])
    table = lake.delta_table("bronze", "domain_events")
    latest = set(table.file_uris())
    table.load_as_version(table.version() - 1)
    assert table.to_pyarrow_table().num_rows == 2
    assert set(table.file_uris()) < latest  # the second commit only added files


def test_concurrent_runs_of_one_hour_ingest_each_file_once(lake, monkeypatch):
    for i in range(4):
        land(lake, H8, f"f{i}.jsonl", lines(10, f"f{i}"))
    ingest_hours(lake, "domain_events", [H9])  # nothing there: no table yet
    land(lake, H8, "seed.jsonl", lines(1, "s"))
    barrier = threading.Barrier(3)
    original = ingest._file_rows

    def slow_rows(*args, **kwargs):
        frame = original(*args, **kwargs)
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return frame

    monkeypatch.setattr(ingest, "_file_rows", slow_rows)
    threads = [threading.Thread(target=ingest_hours, args=(lake, "domain_events", [H8])) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = lake.read("bronze", "domain_events")
    assert table.height == 41
    assert table.select("landing_file", "record_number").is_duplicated().sum() == 0
    # the losers' data files were never committed and are gone: the table's files are all there is
    on_disk = {str(p) for p in Path(lake.table_uri("bronze", "domain_events")).rglob("*.parquet")}
    assert on_disk == set(lake.delta_table("bronze", "domain_events").file_uris())


def test_each_data_file_states_its_landing_files_so_a_batch_check_skips_the_others(lake, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_BYTES", 1)  # a batch, and so a data file, per landing file
    keys = [land(lake, H8, f"f{i}.jsonl", lines(3, f"f{i}")) for i in range(3)]
    ingest_hours(lake, "domain_events", [H8])
    log = Path(lake.table_uri("bronze", "domain_events"), "_delta_log")
    adds = [
        json.loads(line)["add"]
        for commit in sorted(log.glob("*.json"))
        for line in commit.read_text().splitlines()
        if line.startswith('{"add"')
    ]
    named = [json.loads(a["stats"]) for a in adds]
    assert [(s["minValues"]["landing_file"], s["maxValues"]["landing_file"]) for s in named] == [
        (k, k) for k in keys
    ]
    assert all(s["nullCount"]["landing_file"] == 0 and s["numRecords"] == 3 for s in named)


def test_many_files_commit_in_bounded_batches(lake, monkeypatch):
    monkeypatch.setattr(ingest, "COMMIT_BYTES", 300)
    for i in range(5):
        land(lake, H8, f"f{i}.jsonl", lines(2, f"f{i}"))
    report = ingest_hours(lake, "domain_events", [H8])
    assert report.files_added == 5
    history = lake.delta_table("bronze", "domain_events").history()
    assert len(history) > 2
    assert lake.read("bronze", "domain_events").height == 10


def test_a_commit_holds_a_data_file_per_batch_read(lake, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_BYTES", 300)
    for i in range(5):
        land(lake, H8, f"f{i}.jsonl", lines(2, f"f{i}"))
    report = ingest_hours(lake, "domain_events", [H8])
    table = lake.delta_table("bronze", "domain_events")
    assert (report.files_added, report.rows_added) == (5, 10)
    assert [c["operation"] for c in table.history()] == ["WRITE", "CREATE TABLE"]  # one commit of rows
    assert 2 < len(table.file_uris()) <= 5  # of several data files, each of a batch of landing files
    assert lake.read("bronze", "domain_events").height == 10


def test_rows_carry_their_parsed_event_hour_and_the_report_counts_new_rows_per_event_hour(lake):
    events = [
        {"specversion": "1.0", "id": "1", "source": "//s", "type": "t", "time": "2026-03-10T07:59:59.999Z"},
        {"specversion": "1.0", "id": "2", "source": "//s", "type": "t", "time": "2026-03-10T09:10:00+01:00"},
        {"specversion": "1.0", "id": "3", "source": "//s", "type": "t", "time": "2026-03-10 06:00:00z"},
        {"specversion": "1.0", "id": "4", "source": "//s", "type": "t", "time": "yesterday"},
    ]
    land(lake, H8, "a.jsonl", b"\n".join(orjson.dumps(e) for e in events))
    report = ingest_hours(lake, "domain_events", [H8])
    h7, h6 = datetime(2026, 3, 10, 7, tzinfo=UTC), datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert dict(report.event_hours) == {(H8, h7): 1, (H8, H8): 1, (H8, h6): 1, (H8, None): 1}
    table = lake.read("bronze", "domain_events").sort("record_number")
    assert table["event_hour"].to_list() == [h7, H8, h6, None]


def test_files_bronze_cannot_serialize_are_recorded_with_reasons_named_by_file_and_the_hour_goes_on(
    lake, caplog
):
    """Issue 12, findings 1 and 2: a deep JSON event and a Parquet file with binary values stopped the
    whole arrival hour; now each becomes records with a reason, the log names the file, and the other
    files of the hour are ingested as usual."""
    import io

    import polars as pl

    deep = b'{"id":"deep","source":"//s","type":"t","data":' + b'{"a":' * 600 + b"1" + b"}" * 600 + b"}\n"
    land(lake, H8, "deep.jsonl", lines(2, "before") + deep)
    buffer = io.BytesIO()
    pl.DataFrame(
        {"id": ["bin"], "source": ["//s"], "type": ["t"], "data": [{"blob": b"\x00\xff"}]}
    ).write_parquet(buffer)
    land(lake, H8, "binary.parquet", buffer.getvalue())
    good = land(lake, H8, "good.jsonl", lines(3, "good"))
    with caplog.at_level("WARNING", logger=ingest.__name__):
        report = ingest_hours(lake, "domain_events", [H8])
    assert (report.files_added, report.rows_added) == (3, 7)
    assert report.errors == {"too_deep": 1, "unsupported_type": 1}
    table = lake.read("bronze", "domain_events")
    assert table.filter(pl.col("landing_file") == good)["error"].null_count() == 3
    warnings = [r.getMessage() for r in caplog.records]
    assert any("deep.jsonl" in w and "too_deep" in w for w in warnings)
    assert any("binary.parquet" in w and "unsupported_type" in w for w in warnings)
    assert not any("\\x00" in w or "before-0" in w for w in warnings)  # counts and reasons, never content


def test_a_bronze_table_made_before_subject_keys_gets_the_column_and_keeps_its_rows(lake, monkeypatch):
    """A lake from before sealing: its bronze table lacks `subject_key`; the next ingest adds the column
    (null in the old rows) instead of refusing to write."""
    old_schema = ingest.bronze_schema("domain_events")
    old_schema = pl.Schema({k: v for k, v in old_schema.items() if k != "subject_key"})
    monkeypatch.setattr(ingest, "bronze_schema", lambda table: old_schema)
    monkeypatch.setattr(ingest, "_sealed", lambda lake, table, data: data.select(list(old_schema)))
    land(lake, H8, "old.jsonl", lines(2, "old"))
    ingest_hours(lake, "domain_events", [H8])
    assert "subject_key" not in lake.read("bronze", "domain_events").columns
    monkeypatch.undo()
    land(lake, H9, "new.jsonl", lines(3, "new"))
    assert ingest_hours(lake, "domain_events", [H9]).rows_added == 3
    table = lake.read("bronze", "domain_events")
    assert table.height == 5 and table["subject_key"].null_count() == 5
