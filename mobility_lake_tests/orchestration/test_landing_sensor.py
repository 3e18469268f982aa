"""The landing sensor over a table of situations, on a real local landing zone, bronze table and instance."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mobility_lake.bronze.assets import bronze_key
from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.landing import landing_key
from mobility_lake.orchestration import landing_sensor as landing_sensor_module
from mobility_lake.orchestration.landing_sensor import landing_sensor
from mobility_lake.orchestration.requests import ATTEMPT_TAG
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import hourly_partitions
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

NOW = datetime(2026, 3, 10, 12, 20, tzinfo=UTC)
H12, H11, H10 = NOW.replace(minute=0), NOW.replace(minute=0, hour=11), NOW.replace(minute=0, hour=10)
LATENESS = 72
EVENT = b'{"specversion":"1.0","id":"1","source":"//s","type":"t","time":"2026-03-10T10:00:00Z","data":{}}\n'
KEYS_BY_JOB = {"bronze_hourly": [bronze_key(t) for t in TOPICS]}  # as the definitions resolve the job


def lake_at(tmp_path) -> Lake:
    return Lake(
        load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path), "MOBILITY_LAKE_START": "2026-01-01-00:00"})
    )


def drop(lake: Lake, topic: str, hour: datetime, name: str) -> None:
    lake.write_bytes(landing_key(topic, hour, name), EVENT)


def tick(lake: Lake, instance: dg.DagsterInstance, cursor: str | None, now: datetime = NOW):
    sensor = landing_sensor(hourly_partitions(lake.settings), LATENESS, KEYS_BY_JOB, lambda: now)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"lake": LakeResource.from_settings(lake.settings)}
    )
    result = sensor(context)
    return sorted(describe(r) for r in result.run_requests or []), result.cursor


def describe(request: dg.RunRequest) -> tuple[str, str, tuple[str, ...]]:
    key_range = request.partition_key_range
    first, last = (key_range.start, key_range.end) if key_range else (request.partition_key,) * 2
    return first, last, tuple(sorted(k.path[1] for k in request.asset_selection))


def ingest(lake: Lake, instance: dg.DagsterInstance, table: str, hours: list[datetime]) -> None:
    """Ingest as a bronze run does: into the table, then a materialization in the instance."""
    ingest_hours(lake, table, hours)
    (topic,) = [t for t in TOPICS if t.bronze_table == table]
    instance.report_runless_asset_event(dg.AssetMaterialization(bronze_key(topic), partition=key(hours[-1])))


def key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d-%H:%M")


# situation, files landed before the first tick, ingested into bronze before it, landed after it,
# the runs requested by the second tick
CASES = [
    (
        "files already in bronze (a CLI run, a backfill) are never requested",
        [("domain.events", H10, "a.jsonl"), ("external.weather", H11, "w.jsonl")],
        ["domain_events", "weather"],
        [],
        [],
    ),
    (
        "a new file in the current hour, next to ingested ones",
        [("domain.events", H12, "a.jsonl")],
        ["domain_events"],
        [("domain.events", H12, "b.jsonl")],
        [(key(H12), key(H12), ("domain_events",))],
    ),
    (
        "a file flushed into the previous hour after it ended",
        [("domain.events", H12, "a.jsonl")],
        ["domain_events"],
        [("payment.events", H11, "late.jsonl.gz")],
        [(key(H11), key(H11), ("payment_events",))],
    ),
    (
        "a file dropped into an hour no sink writes to any more is left to a backfill",
        [],
        [],
        [("domain.events", H12 - timedelta(hours=5), "old.jsonl")],
        [],
    ),
    (
        "files that are not landed events are ignored",
        [],
        [],
        [("domain.events", H12, "notes.txt"), ("unknown.topic", H12, "x.jsonl")],
        [],
    ),
]


@pytest.mark.parametrize(
    ("situation", "before", "ingested", "after", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_second_tick_requests_exactly_the_files_bronze_lacks(
    tmp_path, situation, before, ingested, after, expected
):
    lake = lake_at(tmp_path)
    for topic, hour, name in before:
        drop(lake, topic, hour, name)
    for table in ingested:
        ingest_hours(lake, table, [H10, H11, H12])
    with dg.instance_for_test() as instance:
        first, cursor = tick(lake, instance, None)
        assert first == []
        for topic, hour, name in after:
            drop(lake, topic, hour, name)
        second, _ = tick(lake, instance, cursor, NOW + timedelta(minutes=1))
    assert second == expected


def test_first_tick_looks_back_over_the_lateness_window_only(tmp_path):
    lake = lake_at(tmp_path)
    drop(lake, "domain.events", H12 - timedelta(hours=LATENESS), "in.jsonl")
    drop(lake, "domain.events", H12 - timedelta(hours=LATENESS + 1), "out.jsonl")
    with dg.instance_for_test() as instance:
        requests, _ = tick(lake, instance, None)
    hour = key(H12 - timedelta(hours=LATENESS))
    assert requests == [(hour, hour, ("domain_events",))]


def test_a_failed_run_is_requested_again_after_a_backoff(tmp_path):
    lake = lake_at(tmp_path)
    drop(lake, "domain.events", H12, "a.jsonl")
    with dg.instance_for_test() as instance:
        first, cursor = tick(lake, instance, None)
        assert first == [(key(H12), key(H12), ("domain_events",))]
        # The run failed: the file is still not in bronze. Too soon, then after the backoff.
        soon, cursor = tick(lake, instance, cursor, NOW + timedelta(seconds=30))
        later, cursor = tick(lake, instance, cursor, NOW + timedelta(seconds=61))
        assert soon == [] and later == first
        assert json.loads(cursor)["pending"]["domain_events"][key(H12)]["attempts"] == 2
        # It succeeds: the pending hour is cleared and nothing more is asked.
        ingest(lake, instance, "domain_events", [H12])
        done, cursor = tick(lake, instance, cursor, NOW + timedelta(hours=1))
        assert done == [] and json.loads(cursor)["pending"] == {}


def test_the_ledger_is_read_again_only_after_a_bronze_write(tmp_path, monkeypatch):
    lake = lake_at(tmp_path)
    reads = []
    read_ledger = landing_sensor_module.ingested_files
    monkeypatch.setattr(
        landing_sensor_module,
        "ingested_files",
        lambda lake, table, *args: reads.append(table) or read_ledger(lake, table, *args),
    )
    drop(lake, "domain.events", H12, "a.jsonl")
    drop(lake, "external.weather", H12, "w.jsonl")
    with dg.instance_for_test() as instance:
        ingest(lake, instance, "weather", [H12])
        first, cursor = tick(lake, instance, None)
        assert first == [(key(H12), key(H12), ("domain_events",))] and sorted(reads) == [
            "domain_events",
            "weather",
        ]
        reads.clear()
        # between runs: a new file is new without asking the ledger
        drop(lake, "external.weather", H12, "w2.jsonl")
        second, cursor = tick(lake, instance, cursor, NOW + timedelta(seconds=30))
        assert second == [(key(H12), key(H12), ("weather",))] and reads == []
        # a run wrote domain_events: only its ledger is read, and its file is done
        ingest(lake, instance, "domain_events", [H12])
        third, cursor = tick(lake, instance, cursor, NOW + timedelta(seconds=45))
        assert third == [] and reads == ["domain_events"]
        assert set(json.loads(cursor)["pending"]) == {"weather"}


def test_an_hour_a_run_is_working_on_is_not_requested_again(tmp_path):
    lake = lake_at(tmp_path)
    drop(lake, "domain.events", H12, "a.jsonl")
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="bronze_hourly",
                run_id="cli-run",
                status=dg.DagsterRunStatus.STARTED,
                tags={"dagster/partition": key(H12)},
            )
        )
        requests, cursor = tick(lake, instance, None)
    assert requests == []
    assert "domain_events" in json.loads(cursor)["pending"]


def test_the_cursor_holds_only_the_open_hours(tmp_path):
    lake = lake_at(tmp_path)
    for hours_ago in range(0, 48):
        drop(lake, "external.weather", H12 - timedelta(hours=hours_ago), "w.jsonl")
    ingest_hours(lake, "weather", [H12 - timedelta(hours=h) for h in range(48)])
    with dg.instance_for_test() as instance:
        _, cursor = tick(lake, instance, None)
        _, cursor = tick(lake, instance, cursor, NOW + timedelta(hours=1))
    state = json.loads(cursor)
    assert state["listed_to"] == key(H12 + timedelta(hours=1))
    assert sorted(state["ingested"]["weather"]) == [key(H12)]
    assert state["pending"] == {}


def test_requested_runs_carry_their_attempt(tmp_path):
    lake = lake_at(tmp_path)
    drop(lake, "domain.events", H11, "a.jsonl")
    drop(lake, "domain.events", H12, "b.jsonl")
    sensor = landing_sensor(hourly_partitions(lake.settings), LATENESS, KEYS_BY_JOB, lambda: NOW)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"lake": LakeResource.from_settings(lake.settings)}
        )
        (request,) = sensor(context).run_requests
    assert request.tags[ATTEMPT_TAG] == "1"
    assert request.partition_key_range == dg.PartitionKeyRange(key(H11), key(H12))


@pytest.mark.s3
def test_sensor_on_s3_requests_the_new_files_then_nothing(s3_env, monkeypatch):
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)  # credentials reach the resource only through the environment
    lake = Lake(load_settings({**s3_env, "MOBILITY_LAKE_START": "2026-01-01-00:00"}))
    drop(lake, "domain.events", H11, "a.jsonl")
    drop(lake, "external.weather", H12, "w.jsonl")
    with dg.instance_for_test() as instance:
        requests, cursor = tick(lake, instance, None)
        assert requests == [(key(H11), key(H12), ("domain_events", "weather"))]
        ingest(lake, instance, "domain_events", [H11])
        ingest(lake, instance, "weather", [H12])
        assert tick(lake, instance, cursor, NOW + timedelta(minutes=1))[0] == []


def test_a_broken_bronze_table_does_not_stop_the_sensor(tmp_path):
    lake = lake_at(tmp_path)
    drop(lake, "external.weather", H12, "w.jsonl")
    drop(lake, "domain.events", H12, "a.jsonl")
    ingest_hours(lake, "domain_events", [H12])
    (tmp_path / "bronze" / "weather").mkdir(parents=True)
    (tmp_path / "bronze" / "weather" / "_delta_log").write_text("not a log")
    with dg.instance_for_test() as instance:
        requests, _ = tick(lake, instance, None)
    assert requests == [(key(H12), key(H12), ("weather",))]  # its run will fail, and be asked for again
