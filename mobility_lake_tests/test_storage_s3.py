"""The Lake on a real S3 server (SeaweedFS): landing files, listing past one page, and Delta commits."""

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mobility_lake.bronze.ingest import PARTITION_BY, bronze_schema, ingest_hours
from mobility_lake.landing import landing_key
from mobility_lake.settings import SettingsError, load_settings
from mobility_lake.storage import Lake
from mobility_lake_tests.s3server import S3Server

pytestmark = pytest.mark.s3

HOUR = datetime(2025, 3, 1, 8, tzinfo=UTC)
NEXT_HOUR = HOUR + timedelta(hours=1)
RACE_LOG = "lost a race with another writer"


def trips(start: datetime, count: int, first_id: int = 0) -> pl.DataFrame:
    """`count` rows a minute apart from `start`, partitioned by day."""
    return pl.DataFrame(
        {
            "trip_id": [f"t{first_id + i:04d}" for i in range(count)],
            "ts": [start + timedelta(minutes=i) for i in range(count)],
            "km": [float(i) for i in range(count)],
            "day": [start.strftime("%Y-%m-%d")] * count,
        }
    )


def run_together(count: int, work) -> list:
    """Run `work(i)` for i < count in threads released at the same instant; re-raise any failure."""
    barrier = threading.Barrier(count)

    def released(i: int):
        barrier.wait(timeout=30)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(released, range(count)))


def test_landing_files_round_trip_and_list_past_one_page(s3_server: S3Server, s3_env: dict[str, str]):
    lake = Lake(load_settings(s3_env))
    lake.write_bytes("landing/2025-03-01/batch.jsonl", b'{"id": 1}\n')
    assert lake.read_bytes("landing/2025-03-01/batch.jsonl") == b'{"id": 1}\n'
    [listed] = lake.list_files("landing/2025-03-01")
    assert (listed.key, listed.size) == ("landing/2025-03-01/batch.jsonl", 10)
    assert listed.mtime > 1.7e9

    keys = [f"landing/many/part-{i:05d}.json" for i in range(1100)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: lake.write_bytes(key, key.encode()), keys))

    prefix = s3_env["MOBILITY_LAKE_ROOT"].removeprefix(f"s3://{s3_server.bucket}/") + "/landing/many/"
    client = s3_server.client()
    first_page = client.list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
    client.close()
    assert first_page["IsTruncated"] and first_page["KeyCount"] == 1000  # the server really pages

    listed = list(lake.list_files("landing/many"))
    assert [info.key for info in listed] == keys
    assert [info.size for info in listed] == [len(key) for key in keys]
    assert lake.read_bytes(keys[1099]) == keys[1099].encode()
    assert list(lake.list_files("landing/absent")) == []


def test_write_window_twice_keeps_one_copy_and_other_windows(s3_env: dict[str, str]):
    lake = Lake(load_settings(s3_env))
    first, second = trips(HOUR, 5), trips(NEXT_HOUR, 3, first_id=100)

    lake.write_window("silver", "trips", first, "ts", HOUR, NEXT_HOUR, partition_by=["day"])
    lake.write_window("silver", "trips", first, "ts", HOUR, NEXT_HOUR, partition_by=["day"])
    lake.write_window("silver", "trips", second, "ts", NEXT_HOUR, NEXT_HOUR + timedelta(hours=1), ["day"])

    expected = pl.concat([first, second])
    assert_frame_rows(lake.read("silver", "trips"), expected)

    # A re-run with fewer rows replaces the window: the stale rows do not survive.
    lake.write_window("silver", "trips", first.head(2), "ts", HOUR, NEXT_HOUR, partition_by=["day"])
    assert_frame_rows(lake.read("silver", "trips"), pl.concat([first.head(2), second]))
    assert lake.delta_table("silver", "trips").version() == 4  # the empty table, then four windows


def test_concurrent_writers_of_one_window_leave_one_copy(s3_env: dict[str, str], caplog):
    """Both commits land (the loser retries against the new version); the window holds one copy.

    Losing is detected only because SeaweedFS honours `If-None-Match: *` on the commit file: a store that
    ignored it would let both writers claim the same version and one commit would vanish.
    """
    caplog.set_level(logging.WARNING, logger="mobility_lake.storage")
    other = trips(NEXT_HOUR, 3, first_id=100)
    Lake(load_settings(s3_env)).write_window(
        "silver", "trips", other, "ts", NEXT_HOUR, NEXT_HOUR + timedelta(hours=1)
    )
    window = trips(HOUR, 5)

    def write(_: int) -> None:
        Lake(load_settings(s3_env)).write_window("silver", "trips", window, "ts", HOUR, NEXT_HOUR)

    for rounds in range(1, 6):  # until the two commits actually collide (almost always the first round)
        run_together(2, write)
        lake = Lake(load_settings(s3_env))
        assert_frame_rows(lake.read("silver", "trips"), pl.concat([window, other]))
        assert lake.delta_table("silver", "trips").version() == 1 + 2 * rounds  # no commit was lost
        if RACE_LOG in caplog.text:
            break
    assert RACE_LOG in caplog.text, "the two writers never collided, so the retry went untested"


def test_concurrent_first_writers_of_a_new_table_leave_one_copy(s3_env: dict[str, str]):
    """delta-rs does not guard a write that creates a table; Lake creates it empty first."""
    window = trips(HOUR, 5)
    for round_ in range(5):  # the duplicate shows in about two rounds of three
        table = f"trips_{round_}"

        def write(_: int, table: str = table) -> None:
            Lake(load_settings(s3_env)).write_window("silver", table, window, "ts", HOUR, NEXT_HOUR)

        run_together(2, write)
        assert_frame_rows(Lake(load_settings(s3_env)).read("silver", table), window)


@pytest.mark.parametrize("missing", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_half_set_credentials_are_rejected(missing: str):
    env = {
        "MOBILITY_LAKE_ROOT": "s3://lake/prefix",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "key",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_ALLOW_HTTP": "true",
    }
    del env[missing]
    with pytest.raises(SettingsError, match=missing):
        load_settings(env)


def assert_frame_rows(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Same rows regardless of order (and of the column order a partitioned read returns)."""
    assert actual.columns and sorted(actual.columns) == sorted(expected.columns)
    ordered = actual.select(expected.columns).sort("trip_id")
    assert ordered.to_dicts() == expected.sort("trip_id").to_dicts()


def test_concurrent_ingests_of_one_hour_add_each_file_once_and_leave_no_stray_file(s3_env: dict[str, str]):
    """Bronze's data files are written by polars and committed by delta-rs under the hour's guard; on S3
    the loser's files are removed, so the table's files are every file under it."""
    lake = Lake(load_settings(s3_env))
    for i in range(3):
        event = {"specversion": "1.0", "id": f"e{i}", "source": "//booking", "type": "t", "data": {}}
        lake.write_bytes(
            landing_key("domain.events", HOUR, f"f{i}.jsonl"), json.dumps(event).encode() + b"\n"
        )
    lake.ensure_table("bronze", "domain_events", bronze_schema("domain_events"), partition_by=PARTITION_BY)
    run_together(3, lambda _: ingest_hours(Lake(load_settings(s3_env)), "domain_events", [HOUR]))
    table = lake.read("bronze", "domain_events")
    assert sorted(table["id"]) == ["e0", "e1", "e2"]
    listed = lake.list_files("bronze/domain_events")
    data_files = {f"{lake.root}/{info.key}" for info in listed if "_delta_log" not in info.key}
    assert data_files == set(lake.delta_table("bronze", "domain_events").file_uris())
