"""Re-runs give the same bits (issue 12, finding 4): a mart built from the same rows in another order is
byte-identical. Float addition is not associative, so sums and means that followed the row order changed
in the last bits (`avg_trip_duration` 15.460609999999999 -> 15.460610000000003) when files were listed or
split across threads differently."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from mobility_lake.gold.demand import demand_by_zone_hour
from mobility_lake.gold.revenue import revenue_by_vehicle_type_daily
from mobility_lake.gold.utilization import vehicle_utilization_daily
from mobility_lake_tests.gold.rows import silver

DAY = date(2026, 3, 10)
START = datetime(2026, 3, 10, 8, tzinfo=UTC)
COMPLETED = "com.mobilitycorp.booking.completed.v1"
ORDERS = 6  # row orders tried per mart


def fractions(rng: random.Random, n: int, high: float, places: int) -> list[float]:
    return [round(rng.uniform(0.01, high), places) for _ in range(n)]


def trips(rng: random.Random) -> list[dict]:
    n = 400
    minutes, km, fares = fractions(rng, n, 60, 6), fractions(rng, n, 12, 3), fractions(rng, n, 30, 2)
    return [
        {
            "event_type": COMPLETED,
            "booking_id": f"b{i}",
            "event_time": START + timedelta(minutes=20, seconds=i),
            "started_at": START + timedelta(seconds=i),
            "zone_id": "BER-01",
            "city": "Berlin",
            "vehicle_id": f"v{i % 3}",
            "vehicle_type": "scooter",
            "trip_duration_min": minutes[i],
            "distance_km": km[i],
            "fare_amount_eur": fares[i],
        }
        for i in range(n)
    ]


def readings(rng: random.Random) -> list[dict]:
    levels = fractions(rng, 600, 100, 4)
    return [
        {
            "vehicle_id": f"v{i % 3}",
            "event_time": START + timedelta(seconds=5 * i),
            "zone_id": "BER-01",
            "city": "Berlin",
            "vehicle_type": "scooter",
            "status": "available",
            "battery_level": level,
        }
        for i, level in enumerate(levels)
    ]


def shuffled(rows: list[dict], seed: int) -> list[dict]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows


MARTS = {
    "demand_by_zone_hour": lambda b, t: demand_by_zone_hour(
        silver("booking_events", b), silver("vehicle_telemetry", t), START, START + timedelta(hours=1)
    ),
    "vehicle_utilization_daily": lambda b, t: vehicle_utilization_daily(
        silver("vehicle_telemetry", t), silver("booking_events", b), DAY
    ),
    "revenue_by_vehicle_type_daily": lambda b, t: revenue_by_vehicle_type_daily(
        silver("booking_events", b), silver("payment_events", []), DAY
    ),
}


@pytest.mark.parametrize("mart", MARTS)
def test_a_mart_is_byte_identical_whatever_the_order_of_its_rows(mart):
    rng = random.Random(12)
    bookings, telemetry = trips(rng), readings(rng)
    build = MARTS[mart]
    first = build(bookings, telemetry)
    assert first.height > 0
    for seed in range(ORDERS):
        again = build(shuffled(bookings, seed), shuffled(telemetry, seed))
        assert again.hash_rows().to_list() == first.hash_rows().to_list(), (mart, seed)
        assert again.equals(first)
