"""The validation rules of silver: the envelope, then each event type's payload as a Pandera schema.

Each rule has a stable name and a reason code; a rejected row is quarantined under the first rule it
fails, in the order listed here (envelope before payload, payload fields in contract order). Pandera
schemas are built from one table of field checks so the contract's ranges, enumerations and id formats
are written once, and the same checks run as the silver asset checks.
"""

import pandera.polars as pa
import polars as pl

from mobility_lake.events.catalogue import (
    APP_ACTIONS,
    CUSTOMER_SEGMENTS,
    DEVICE_OSES,
    PAYLOADS,
    PAYMENT_METHODS,
    VEHICLE_STATUSES,
    VEHICLE_TYPES,
    WEATHER_CONDITIONS,
)
from mobility_lake.silver.tables import TIMESTAMP, SilverTable

VEHICLE_ID = r"^[A-Z]{2}\d{6}$"
CURRENCY = r"^[A-Z]{3}$"
NON_EMPTY = pa.Check.str_length(min_value=1)
LATITUDE = pa.Check.in_range(-90, 90)
LONGITUDE = pa.Check.in_range(-180, 180)
NOT_NEGATIVE = pa.Check.ge(0)

FIELD_CHECKS: dict[str, list[pa.Check]] = {
    "vehicle_id": [pa.Check.str_matches(VEHICLE_ID)],
    "vehicle_type": [pa.Check.isin(VEHICLE_TYPES)],
    "status": [pa.Check.isin(VEHICLE_STATUSES)],
    "customer_segment": [pa.Check.isin(CUSTOMER_SEGMENTS)],
    "method": [pa.Check.isin(PAYMENT_METHODS)],
    "action": [pa.Check.isin(APP_ACTIONS)],
    "device_os": [pa.Check.isin(DEVICE_OSES)],
    "condition": [pa.Check.isin(WEATHER_CONDITIONS)],
    "currency": [pa.Check.str_matches(CURRENCY)],
    "latitude": [LATITUDE],
    "end_latitude": [LATITUDE],
    "longitude": [LONGITUDE],
    "end_longitude": [LONGITUDE],
    "battery_level": [pa.Check.in_range(0, 100)],
    "speed_kmh": [NOT_NEGATIVE],
    "odometer_km": [NOT_NEGATIVE],
    "distance_km": [NOT_NEGATIVE],
    "fare_amount": [NOT_NEGATIVE],
    "amount": [NOT_NEGATIVE],
    "photo_count": [NOT_NEGATIVE],
    "precipitation_mm": [NOT_NEGATIVE],
    "wind_speed_kmh": [NOT_NEGATIVE],
    **{
        name: [NON_EMPTY]
        for name in ("booking_id", "user_id", "payment_id", "session_id", "city", "email", "phone")
    },
}

REASONS = {  # Pandera check name -> quarantine reason code
    "not_nullable": "missing_field",
    "str_matches": "invalid_format",
    "isin": "not_allowed",
    "in_range": "out_of_range",
    "greater_than_or_equal_to": "out_of_range",
    "str_length": "empty_value",
    "ended_not_before_started": "inconsistent_times",
}


def _ended_not_before_started(data: pa.PolarsData) -> pl.LazyFrame:
    ended, started = pl.col("ended_at"), pl.col("started_at")
    return data.lazyframe.select((ended >= started) | ended.is_null() | started.is_null())


def payload_schema(table: SilverTable, event_type: str) -> pa.DataFrameSchema:
    """The Pandera schema of one event type's payload: required fields, types, ranges, enums, id formats."""
    required = set(table.required(event_type))
    columns = table.payload_columns
    checks = []
    if {"started_at", "ended_at"} <= set(PAYLOADS[event_type]):
        checks.append(pa.Check(_ended_not_before_started, name="ended_not_before_started"))
    return pa.DataFrameSchema(
        {
            name: pa.Column(columns[name], checks=FIELD_CHECKS.get(name, []), nullable=name not in required)
            for name in PAYLOADS[event_type]
        },
        checks=checks,
        strict=False,
        name=event_type,
    )


def reason_for(check: str) -> str:
    return REASONS.get(check.split("(")[0], "failed_check")


def rule_for(column: str | None, check: str) -> str:
    """A rule name without data values: `payload.<field>.<check>` (enumerations named, not listed)."""
    label = check.split("(")[0] if check.startswith("isin") else check
    return f"payload.{column}.{label}" if column else f"payload.{label}"


def silver_schema(
    table: SilverTable, envelope: dict[str, pl.DataType], derived: dict[str, pl.DataType]
) -> pa.DataFrameSchema:
    """The Pandera schema of a silver table as written: envelope, payload (nullable: types differ), derived."""
    columns = {
        name: pa.Column(dtype, nullable=name in ("event_subject",)) for name, dtype in envelope.items()
    }
    for name, dtype in table.payload_columns.items():
        columns[name] = pa.Column(dtype, checks=FIELD_CHECKS.get(name, []), nullable=True)
    for name, dtype in derived.items():
        columns[name] = pa.Column(dtype, nullable=True)
    columns["event_time"] = pa.Column(TIMESTAMP, nullable=False)
    return pa.DataFrameSchema(
        columns, strict=True, unique=["event_source", "event_id"], name=f"silver.{table.name}"
    )
