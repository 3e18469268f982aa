"""The landing sensor over a table of cursor situations, on a real local landing zone."""

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import pytest

from mobility_lake.arrivals import GRACE_SECONDS, Cursor
from mobility_lake.landing import landing_key
from mobility_lake.partitions import hourly_partitions
from mobility_lake.resources import LakeResource
from mobility_lake.sensors import landing_sensor
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

H8 = datetime(2026, 3, 10, 8, tzinfo=UTC)
H9 = datetime(2026, 3, 10, 9, tzinfo=UTC)
H12 = datetime(2026, 3, 10, 12, tzinfo=UTC)
T0 = 1_800_000_000.0


@dataclass(frozen=True)
class Landed:
    topic: str
    hour: datetime
    name: str
    mtime: float


def drop(lake: Lake, files: list[Landed]) -> None:
    for f in files:
        key = landing_key(f.topic, f.hour, f.name)
        lake.write_bytes(key, b"{}\n")
        os.utime(f"{lake.root}/{key}", (f.mtime, f.mtime))


def evaluate(lake: Lake, cursor: str | None) -> tuple[list[dg.RunRequest], str]:
    settings = lake.settings
    sensor = landing_sensor(hourly_partitions(settings))
    context = dg.build_sensor_context(cursor=cursor, resources={"lake": LakeResource.from_settings(settings)})
    result = sensor(context)
    return list(result.run_requests or []), result.cursor


def describe(request: dg.RunRequest) -> tuple[str, str, tuple[str, ...]]:
    key_range = request.partition_key_range
    first, last = (
        (key_range.start, key_range.end) if key_range else (request.partition_key, request.partition_key)
    )
    return first, last, tuple(sorted(k.path[1] for k in request.asset_selection))


FIRST = [
    Landed("domain.events", H8, "a.jsonl", T0),
    Landed("veh.events.raw", H8, "t.parquet", T0 + 1),
    Landed("domain.events", H9, "b.jsonl", T0 + 2),
]

# situation, files already there and their sensor history, files that then land, runs expected on the next tick
CASES = [
    (
        "first files, consecutive hours in one range run",
        [],
        FIRST,
        [("2026-03-10-08:00", "2026-03-10-09:00", ("domain_events", "vehicle_telemetry"))],
    ),
    ("nothing new", FIRST, [], []),
    (
        "a new hour",
        FIRST,
        [Landed("payment.events", H12, "p.jsonl.gz", T0 + 60)],
        [("2026-03-10-12:00", "2026-03-10-12:00", ("payment_events",))],
    ),
    (
        "a new file in an already processed hour",
        FIRST,
        [Landed("external.weather", H8, "w.jsonl", T0 + 60)],
        [("2026-03-10-08:00", "2026-03-10-08:00", ("weather",))],
    ),
    (
        "a renamed file older than the watermark but within the grace period",
        FIRST,
        [Landed("domain.events", H9, "late.jsonl", T0 - GRACE_SECONDS / 2)],
        [("2026-03-10-09:00", "2026-03-10-09:00", ("domain_events",))],
    ),
    (
        "files that are not landed events are ignored",
        FIRST,
        [Landed("domain.events", H9, "notes.txt", T0 + 60), Landed("unknown.topic", H9, "x.jsonl", T0 + 60)],
        [],
    ),
]


@pytest.mark.parametrize(("situation", "before", "landing", "expected"), CASES, ids=[c[0] for c in CASES])
def test_sensor_requests_exactly_the_hours_with_new_files(tmp_path, situation, before, landing, expected):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    drop(lake, before)
    _, cursor = evaluate(lake, None)
    drop(lake, landing)
    requests, _ = evaluate(lake, cursor if before else None)
    assert sorted(describe(r) for r in requests) == expected


def test_after_a_restart_nothing_is_lost_or_repeated(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    drop(lake, FIRST)
    first_requests, stored = evaluate(lake, None)
    # The process dies before Dagster stores the new cursor: the tick runs again from the old cursor.
    again, _ = evaluate(lake, None)
    assert [r.run_key for r in again] == [
        r.run_key for r in first_requests
    ]  # Dagster drops repeated run keys
    # While the sensor was down, another file landed; the stored cursor finds exactly it.
    drop(lake, [Landed("domain.events", H12, "c.jsonl", T0 + 3600)])
    requests, cursor = evaluate(lake, stored)
    assert [describe(r) for r in requests] == [("2026-03-10-12:00", "2026-03-10-12:00", ("domain_events",))]
    assert evaluate(lake, cursor)[0] == []


def test_cursor_forgets_keys_older_than_the_grace_period(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    drop(
        lake,
        [
            Landed("domain.events", H8, "old.jsonl", T0),
            Landed("domain.events", H9, "new.jsonl", T0 + 2 * GRACE_SECONDS),
        ],
    )
    _, cursor = evaluate(lake, None)
    state = Cursor.parse(cursor)
    assert state.watermark == T0 + 2 * GRACE_SECONDS
    assert state.seen == {landing_key("domain.events", H9, "new.jsonl")}


def test_files_before_the_first_partition_request_no_run(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    drop(lake, [Landed("domain.events", datetime(2024, 1, 1, tzinfo=UTC), "a.jsonl", T0)])
    assert evaluate(lake, None)[0] == []


@pytest.mark.s3
def test_sensor_on_s3_finds_first_files_then_only_new_ones(s3_env, monkeypatch):
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)  # credentials reach the resource only through the environment
    lake = Lake(load_settings(s3_env))
    lake.write_bytes(landing_key("domain.events", H8, "a.jsonl"), b"{}\n")
    lake.write_bytes(landing_key("external.weather", H9, "w.jsonl"), b"{}\n")
    requests, cursor = evaluate(lake, None)
    assert [describe(r) for r in requests] == [
        ("2026-03-10-08:00", "2026-03-10-09:00", ("domain_events", "weather"))
    ]
    assert evaluate(lake, cursor)[0] == []
    lake.write_bytes(landing_key("payment.events", H12, "p.jsonl"), b"{}\n")
    requests, _ = evaluate(lake, cursor)
    assert [describe(r) for r in requests] == [("2026-03-10-12:00", "2026-03-10-12:00", ("payment_events",))]
