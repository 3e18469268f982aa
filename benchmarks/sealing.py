"""What sealing a seed hour's personal values costs bronze, and opening them costs silver.

    .venv/bin/python benchmarks/sealing.py                          # 1M subject events, 100k subjects
    .venv/bin/python benchmarks/sealing.py --rows 200000 --users 20000

A seed hour is 180M telemetry events (no subject: `naming_a_subject` only looks, and is measured on a
2M-row telemetry file of each landing form) and, at a fleet of 50,000 vehicles, on the order of a million
events that name a subject (app interactions, bookings, payments). Those are generated as JSON lines and
taken through bronze's parse, the key lookup against a real key table, sealing, and silver's opening and
masking, each stage timed. Figures are printed and written as JSON under --out.
"""

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from mobility_lake.bronze.records import records_from_file
from mobility_lake.gdpr.keys import keys_by_id, keys_for_subjects
from mobility_lake.gdpr.sealing import SEALED_FIELDS, naming_a_subject, open_for_silver, seal
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake

HOUR = datetime(2026, 3, 10, 8, tzinfo=UTC)
TELEMETRY_ROWS = 2_000_000


def subject_events(rows: int, users: int, seed: int) -> bytes:
    """JSON lines of app interactions, bookings and payments: each names a subject, most a position."""
    rng = random.Random(seed)
    lines = []
    for n in range(rows):
        user = f"u-{rng.randrange(users):07d}"
        t = (HOUR + timedelta(seconds=rng.randrange(3600))).isoformat().replace("+00:00", "Z")
        kind = n % 10
        if kind < 6:
            data = {"user_id": user, "session_id": f"s-{n}", "action": "search", "screen": "map",
                    "device_os": "ios", "app_version": "5.2.0", "locale": "de-DE",
                    "latitude": 52.5 + rng.random() / 10, "longitude": 13.4 + rng.random() / 10}  # fmt: skip
            event_type = "app.interaction.v1"
        elif kind < 8:
            data = {"booking_id": f"b-{n}", "user_id": user, "vehicle_id": "AB123456", "vehicle_type": "scooter",
                    "city": "Berlin", "latitude": 52.5, "longitude": 13.4, "promo_code": None,
                    "customer_segment": "commuter"}  # fmt: skip
            event_type = "booking.created.v1"
        else:
            data = {"payment_id": f"p-{n}", "booking_id": f"b-{n}", "user_id": user, "amount": 4.2,
                    "currency": "EUR", "method": "card"}  # fmt: skip
            event_type = "payment.captured.v1"
        lines.append(
            orjson.dumps(
                {
                    "specversion": "1.0",
                    "id": f"e-{n}",
                    "source": "//bench",
                    "type": f"com.mobilitycorp.{event_type}",
                    "time": t,
                    "subject": user,
                    "datacontenttype": "application/json",
                    "data": data,
                }  # fmt: skip
            )
        )
    return b"\n".join(lines) + b"\n"


def telemetry_frames(rows: int) -> dict[str, pl.DataFrame]:
    """A telemetry file's bronze rows in both landing forms: Parquet struct payload, and JSON text."""
    payload = pl.DataFrame(
        {
            "vehicle_id": ["AB123456"] * rows,
            "vehicle_type": ["scooter"] * rows,
            "city": ["Berlin"] * rows,
            "latitude": [52.5] * rows,
            "longitude": [13.4] * rows,
            "battery_level": [80.0] * rows,
            "speed_kmh": [12.0] * rows,
            "temperature_c": [9.0] * rows,
            "odometer_km": [1234.5] * rows,
            "status": ["in_use"] * rows,
        }  # fmt: skip
    )
    base = pl.DataFrame({"raw": pl.Series([None] * rows, dtype=pl.String)})
    return {
        "parquet_struct": base.with_columns(
            pl.lit(None, pl.String).alias("data"), payload.to_struct("data_struct")
        ),
        "jsonl_text": base.with_columns(
            payload.select(pl.struct(pl.all()).struct.json_encode().alias("data"))
        ),
    }


def timed(work):
    began = time.perf_counter()
    result = work()
    return result, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()

    text = subject_events(args.rows, args.users, args.seed)
    records, parse_s = timed(lambda: records_from_file("bench.jsonl", text))
    records = records.with_columns(
        pl.lit("landing/bench.jsonl").alias("landing_file"), pl.lit(None, pl.String).alias("subject_key")
    )
    named, name_s = timed(lambda: naming_a_subject(records))
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": root}))
        subjects = named["user_id"].unique().to_list()
        keys, new_keys_s = timed(lambda: keys_for_subjects(lake, subjects))
        _, known_keys_s = timed(lambda: keys_for_subjects(lake, subjects))
        sealed, seal_s = timed(lambda: seal(records.drop("subject_key"), keys, named))
        opened, open_s = timed(lambda: open_for_silver(sealed, lambda ids: keys_by_id(lake, ids)))
    fields = (
        sealed.select(
            sum(pl.col("data").str.count_matches(f'"{f}":"enc:v1:', literal=False) for f in SEALED_FIELDS)
            + pl.col("subject").str.starts_with("enc:v1:").cast(pl.Int64)
        )
        .sum()
        .item()
    )
    assert opened["_erased"].sum() == 0 and sealed["subject_key"].null_count() == 0

    telemetry = {}
    for form, frame in telemetry_frames(TELEMETRY_ROWS).items():
        found, seconds = timed(lambda frame=frame: naming_a_subject(frame))
        assert found.is_empty()
        telemetry[form] = round(seconds, 3)

    figures = {
        "subject_rows": args.rows,
        "subjects": len(subjects),
        "sealed_values": int(fields),
        "seconds": {
            "parse (for scale)": round(parse_s, 2),
            "find subjects": round(name_s, 2),
            "keys: make and commit new": round(new_keys_s, 2),
            "keys: look up existing": round(known_keys_s, 2),
            "seal": round(seal_s, 2),
            "silver: open and mask": round(open_s, 2),
        },
        "microseconds_per_value": {
            "seal": round(seal_s / fields * 1e6, 2),
            "open": round(open_s / fields * 1e6, 2),
        },
        "microseconds_per_row": {
            "seal": round(seal_s / args.rows * 1e6, 2),
            "open": round(open_s / args.rows * 1e6, 2),
        },
        f"telemetry: find subjects in {TELEMETRY_ROWS:,} rows, seconds": telemetry,
    }
    print(json.dumps(figures, indent=2))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"sealing_{args.rows}.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
