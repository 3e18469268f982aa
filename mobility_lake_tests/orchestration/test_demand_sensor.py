"""Demand for an hour is rebuilt when a later booking hour changes it: a trip completing hours later, and the
trailing averages of the next 27 days. Real silver and gold Delta tables, a real instance, the real sensor."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
import pytest

from mobility_lake.gold.assets import write_partition
from mobility_lake.gold.marts import MARTS_BY_NAME
from mobility_lake.orchestration.follow_sensors import demand_sensor
from mobility_lake.orchestration.landing_sensor import utc_now
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.partitions import hour_key
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake, window_predicate
from mobility_lake_tests.gold.rows import silver

DEMAND = MARTS_BY_NAME["demand_by_zone_hour"]
CREATED = "com.mobilitycorp.booking.created.v1"
COMPLETED = "com.mobilitycorp.booking.completed.v1"
D = datetime(2026, 3, 2, 8, tzinfo=UTC)  # a day D, 08:00
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def booking(booking_id: str, at: datetime, **fields) -> dict:
    return {
        "event_type": CREATED,
        "event_time": at,
        "booking_id": booking_id,
        "user_id": "u1",
        "vehicle_id": "AB123456",
        "vehicle_type": "scooter",
        "zone_id": "BER-01",
        **fields,
    }


def completion(booking_id: str, at: datetime, started: datetime) -> dict:
    return booking(
        booking_id,
        at,
        event_type=COMPLETED,
        started_at=started,
        ended_at=at,
        trip_duration_min=(at - started).total_seconds() / 60,
        fare_amount_eur=4.5,
        zone_id="BER-02",  # where it ended; demand places it where it started
    )


def write_silver_hour(lake: Lake, hour: datetime, rows: list[dict]) -> None:
    frame = (
        silver("booking_events", rows)
        .with_columns(
            pl.col("event_time").dt.date().alias("date"), pl.col("event_time").dt.hour().alias("hour")
        )
        .collect()
    )
    predicate = window_predicate("event_time", hour, hour + HOUR, "date")
    lake.replace_where(
        "silver", "booking_events", frame.cast(dict(frame.schema)), predicate, partition_by=["date"]
    )


def report(instance: dg.DagsterInstance, layer: str, name: str, hour: datetime) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization([layer, name], partition=hour_key(hour)))


def build_demand(lake: Lake, instance: dg.DagsterInstance, hours: list[datetime]) -> None:
    for hour in hours:
        write_partition(lake, DEMAND, hour)
        report(instance, "gold", DEMAND.name, hour)


def requested_hours(
    lake: Lake, instance: dg.DagsterInstance, cursor: str | None
) -> tuple[list[datetime], str]:
    sensor = demand_sensor(72, {}, utc_now)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"lake": LakeResource.from_settings(lake.settings)}
    )
    result = sensor(context)
    hours = []
    for request in result.run_requests:
        assert [k.to_user_string() for k in request.asset_selection] == ["gold/demand_by_zone_hour"]
        key_range = request.partition_key_range
        first, last = (key_range.start, key_range.end) if key_range else (request.partition_key,) * 2
        hour = datetime.strptime(first, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)
        while hour_key(hour) <= last:
            hours.append(hour)
            hour += HOUR
    return hours, result.cursor


def demand_row(lake: Lake, hour: datetime) -> dict:
    rows = lake.read("gold", DEMAND.name).filter(
        (pl.col("date") == hour.date()) & (pl.col("hour") == hour.hour) & (pl.col("zone_id") == "BER-01")
    )
    return rows.row(0, named=True) if rows.height else {}


def test_a_trip_completing_three_hours_later_updates_demand_for_its_start_hour(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    h = D
    with dg.instance_for_test() as instance:
        write_silver_hour(lake, h, [booking("b1", h + timedelta(minutes=5))])
        for hour in (h + HOUR, h + 2 * HOUR, h + 3 * HOUR):
            write_silver_hour(lake, hour, [])
        build_demand(lake, instance, [h, h + HOUR, h + 2 * HOUR, h + 3 * HOUR])
        assert demand_row(lake, h)["avg_trip_duration"] is None
        _, cursor = requested_hours(lake, instance, None)

        # The trip that started at h:10 is reported completed at h+3:20.
        write_silver_hour(
            lake,
            h + 3 * HOUR,
            [completion("b1", h + 3 * HOUR + timedelta(minutes=20), h + timedelta(minutes=10))],
        )
        report(instance, "silver", "booking_events", h + 3 * HOUR)
        hours, _ = requested_hours(lake, instance, cursor)
        assert hours == [h]  # not h+1 or h+2: nothing of theirs changed; h+3 itself is automation's
        for hour in hours:
            write_partition(lake, DEMAND, hour)
    assert demand_row(lake, h)["avg_trip_duration"] == 190.0
    assert demand_row(lake, h)["total_revenue"] == 4.5


def test_a_booking_added_to_day_d_updates_the_7_day_average_of_d_plus_6_not_d_plus_7(tmp_path):
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path)}))
    days = [D + n * DAY for n in range(8)]
    with dg.instance_for_test() as instance:
        for day in days:  # one booking every day at 08:00, so each day's demand hour has a row
            write_silver_hour(lake, day, [booking(f"b{day:%d}", day + timedelta(minutes=1))])
        build_demand(lake, instance, days)
        before = {day: demand_row(lake, day) for day in days}
        _, cursor = requested_hours(lake, instance, None)

        # A late booking of day D, 08:00, is added to silver.
        write_silver_hour(
            lake,
            D,
            [booking(f"b{D:%d}", D + timedelta(minutes=1)), booking("late", D + timedelta(minutes=30))],
        )
        report(instance, "silver", "booking_events", D)
        hours, _ = requested_hours(lake, instance, cursor)
        assert hours == days[1:]  # D itself is automation's; D+1 .. D+7 are the built hours it feeds
        for hour in hours:
            write_partition(lake, DEMAND, hour)
    after = {day: demand_row(lake, day) for day in days}
    six, seven = days[6], days[7]
    assert after[six]["booking_count_7d_avg"] == pytest.approx(before[six]["booking_count_7d_avg"] + 1 / 7)
    assert after[seven]["booking_count_7d_avg"] == before[seven]["booking_count_7d_avg"]
    assert after[seven]["booking_count_28d_avg"] == pytest.approx(
        before[seven]["booking_count_28d_avg"] + 1 / 28
    )
