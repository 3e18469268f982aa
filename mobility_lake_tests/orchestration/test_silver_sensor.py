"""The late-data sensor over a table of situations: which silver hours new bronze rows make due, and when
they count as done."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from mobility_lake.bronze.new_rows import NEW_ROWS_METADATA, encode_new_rows
from mobility_lake.orchestration.follow_sensors import silver_sensor
from mobility_lake.orchestration.landing_sensor import utc_now
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import hourly_partitions
from mobility_lake.settings import load_settings

H = datetime(2026, 3, 10, 12, tzinfo=UTC)
LATENESS = 72
ALL_SILVER = ("app_events", "booking_events", "payment_events", "vehicle_telemetry", "weather")


def hours_ago(n: int) -> datetime:
    return H - timedelta(hours=n)


def materialized(
    instance: dg.DagsterInstance, table: str, rows: dict[tuple[datetime, datetime | None], int]
) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=["bronze", table],
            partition=H.strftime("%Y-%m-%d-%H:%M"),
            metadata={NEW_ROWS_METADATA: encode_new_rows(Counter(rows))},
        )
    )


SILVER_JOB_KEYS = {"silver_hourly": [dg.AssetKey(["silver", t]) for t in ALL_SILVER]}


def evaluate(instance: dg.DagsterInstance, cursor: str | None, after: timedelta = timedelta(0)):
    sensor = silver_sensor(
        hourly_partitions(load_settings({})), LATENESS, SILVER_JOB_KEYS, lambda: utc_now() + after
    )
    lake = LakeResource.from_settings(load_settings({}))
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"lake": lake}))
    requests = sorted(
        (
            (r.partition_key_range.start, r.partition_key_range.end)
            if r.partition_key_range
            else (r.partition_key,) * 2,
            tuple(sorted(k.path[1] for k in r.asset_selection)),
        )
        for r in result.run_requests
    )
    return requests, result.cursor


def key(hour: datetime) -> str:
    return hour.strftime("%Y-%m-%d-%H:%M")


CASES = [
    (
        "on-time rows: their own hour",
        {"payment_events": {(H, H): 40}},
        [((key(H), key(H)), ("payment_events",))],
    ),
    (
        "late rows within the window: exactly their hours",
        {"domain_events": {(H, H): 5, (H, hours_ago(5)): 2, (H, hours_ago(1)): 1}},
        [
            ((key(hours_ago(5)), key(hours_ago(5))), ("booking_events",)),
            ((key(hours_ago(1)), key(H)), ("booking_events",)),
        ],
    ),
    (
        "rows later than the lateness window are left to a manual re-run",
        {"weather": {(H, hours_ago(LATENESS + 1)): 3}},
        [],
    ),
    (
        "rows with no usable time go to their arrival hour's quarantine",
        {"app_events": {(H, None): 2}},
        [((key(H), key(H)), ("app_events",))],
    ),
    (
        "rows too far in the future go to their arrival hour",
        {"app_events": {(H, H + timedelta(hours=9)): 1}},
        [((key(H), key(H)), ("app_events",))],
    ),
    (
        "two tables in one hour: one run",
        {"weather": {(H, H): 1}, "vehicle_telemetry": {(H, H): 9}},
        [((key(H), key(H)), ("vehicle_telemetry", "weather"))],
    ),
]


def silver_already_there(instance: dg.DagsterInstance, hours: list[datetime]) -> None:
    for table in ALL_SILVER:
        for hour in hours:
            instance.report_runless_asset_event(
                dg.AssetMaterialization(["silver", table], partition=key(hour))
            )


@pytest.mark.parametrize(("situation", "landed", "expected"), CASES, ids=[c[0] for c in CASES])
def test_silver_sensor_requests_exactly_the_hours_new_rows_touch(situation, landed, expected):
    with dg.instance_for_test() as instance:
        silver_already_there(instance, [H, hours_ago(1), hours_ago(5)])
        for table, rows in landed.items():
            materialized(instance, table, rows)
        requests, _ = evaluate(instance, None)
        assert requests == expected


def test_an_hour_never_materialized_for_other_tables_gets_all_of_them():
    with dg.instance_for_test() as instance:
        silver_already_there(instance, [hours_ago(1)])
        materialized(instance, "weather", {(H, hours_ago(1)): 1, (H, H): 1})
        requests, _ = evaluate(instance, None)
        assert requests == [((key(hours_ago(1)), key(H)), ALL_SILVER)]


def test_nothing_new_since_the_cursor_requests_nothing_and_new_rows_are_seen_once():
    with dg.instance_for_test() as instance:
        silver_already_there(instance, [H, hours_ago(2)])
        materialized(instance, "weather", {(H, H): 1})
        first, cursor = evaluate(instance, None)
        assert len(first) == 1
        assert evaluate(instance, cursor)[0] == []
        materialized(instance, "weather", {(H, hours_ago(2)): 1})
        again, _ = evaluate(instance, cursor)
        assert again == [((key(hours_ago(2)), key(hours_ago(2))), ("weather",))]


def test_silver_built_after_the_new_rows_is_done_and_not_requested():
    # `dagster dev` started on a lake the CLI already built: silver was written after bronze.
    with dg.instance_for_test() as instance:
        materialized(instance, "weather", {(H, H): 1, (H, hours_ago(2)): 1})
        silver_already_there(instance, [H, hours_ago(2)])
        requests, cursor = evaluate(instance, None)
        assert requests == []
        assert '"pending": {}' in cursor


def test_a_failed_silver_run_is_requested_again_after_a_backoff():
    with dg.instance_for_test() as instance:
        silver_already_there(instance, [H])
        materialized(instance, "weather", {(H, H): 1})
        first, cursor = evaluate(instance, None)
        soon, cursor = evaluate(instance, cursor, timedelta(seconds=30))
        later, cursor = evaluate(instance, cursor, timedelta(seconds=61))
        assert first == later == [((key(H), key(H)), ("weather",))] and soon == []
        silver_already_there(instance, [H])  # the next run succeeds
        assert evaluate(instance, cursor, timedelta(seconds=200))[0] == []


def test_an_hour_a_run_is_working_on_waits_for_it():
    with dg.instance_for_test() as instance:
        silver_already_there(instance, [H])
        materialized(instance, "weather", {(H, H): 1})
        instance.add_run(
            dg.DagsterRun(
                job_name="silver_hourly",
                run_id="cli-run",
                status=dg.DagsterRunStatus.STARTING,
                tags={"dagster/partition": key(H)},
            )
        )
        requests, cursor = evaluate(instance, None)
        assert requests == [] and "weather" in cursor
