"""Topics, their bronze tables, their event types and the v1 payload fields (CONTRACT §2).

This module is the single place the contract's event vocabulary lives; the simulator writes from it and
bronze and silver read by it.
"""

from dataclasses import dataclass

import polars as pl

TYPE_PREFIX = "com.mobilitycorp."
SPEC_VERSION = "1.0"
ENVELOPE_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "datacontenttype",
    "dataschema",
    "traceparent",
)
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")

VEHICLE_TYPES = ("scooter", "ebike", "car", "van")
VEHICLE_STATUSES = ("available", "in_use", "charging", "maintenance")
CUSTOMER_SEGMENTS = ("commuter", "leisure", "business", "tourist")
PAYMENT_METHODS = ("card", "wallet", "sepa")
APP_ACTIONS = (
    "app_open",
    "search",
    "view_vehicle",
    "start_booking",
    "end_booking",
    "rate_trip",
    "support_chat",
)
DEVICE_OSES = ("ios", "android", "web")
WEATHER_CONDITIONS = ("clear", "cloudy", "rain", "snow", "fog", "storm")

TELEMETRY = {
    "vehicle_id": pl.String,
    "vehicle_type": pl.String,
    "city": pl.String,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "battery_level": pl.Float64,
    "speed_kmh": pl.Float64,
    "temperature_c": pl.Float64,
    "odometer_km": pl.Float64,
    "status": pl.String,
}
PAYMENT = {
    "payment_id": pl.String,
    "booking_id": pl.String,
    "user_id": pl.String,
    "amount": pl.Float64,
    "currency": pl.String,
    "method": pl.String,
}

PAYLOADS: dict[str, dict[str, type[pl.DataType] | pl.DataType]] = {
    "vehicle.telemetry.v1": TELEMETRY,
    "booking.created.v1": {
        "booking_id": pl.String,
        "user_id": pl.String,
        "vehicle_id": pl.String,
        "vehicle_type": pl.String,
        "city": pl.String,
        "latitude": pl.Float64,
        "longitude": pl.Float64,
        "promo_code": pl.String,
        "customer_segment": pl.String,
    },
    "booking.completed.v1": {
        "booking_id": pl.String,
        "user_id": pl.String,
        "vehicle_id": pl.String,
        "vehicle_type": pl.String,
        "city": pl.String,
        "started_at": pl.String,
        "ended_at": pl.String,
        "distance_km": pl.Float64,
        "end_latitude": pl.Float64,
        "end_longitude": pl.Float64,
        "fare_amount": pl.Float64,
        "currency": pl.String,
    },
    "booking.cancelled.v1": {
        "booking_id": pl.String,
        "user_id": pl.String,
        "vehicle_id": pl.String,
        "reason": pl.String,
    },
    "return.completed.v1": {
        "booking_id": pl.String,
        "user_id": pl.String,
        "vehicle_id": pl.String,
        "bay_id": pl.String,
        "latitude": pl.Float64,
        "longitude": pl.Float64,
        "photo_count": pl.Int64,
        "damage_reported": pl.Boolean,
    },
    "payment.authorized.v1": PAYMENT,
    "payment.captured.v1": PAYMENT,
    "payment.refunded.v1": PAYMENT,
    "app.interaction.v1": {
        "user_id": pl.String,
        "session_id": pl.String,
        "action": pl.String,
        "screen": pl.String,
        "device_os": pl.String,
        "app_version": pl.String,
        "locale": pl.String,
        "latitude": pl.Float64,
        "longitude": pl.Float64,
    },
    "customer.profile_updated.v1": {
        "user_id": pl.String,
        "email": pl.String,
        "phone": pl.String,
        "locale": pl.String,
        "marketing_opt_in": pl.Boolean,
    },
    "weather.observation.v1": {
        "city": pl.String,
        "temperature_c": pl.Float64,
        "precipitation_mm": pl.Float64,
        "wind_speed_kmh": pl.Float64,
        "condition": pl.String,
    },
}


@dataclass(frozen=True)
class Topic:
    """A Kafka topic of the landing zone and the bronze table that archives it."""

    name: str
    bronze_table: str
    event_types: tuple[str, ...]

    @property
    def full_types(self) -> tuple[str, ...]:
        return tuple(TYPE_PREFIX + t for t in self.event_types)


TOPICS: tuple[Topic, ...] = (
    Topic("veh.events.raw", "vehicle_telemetry", ("vehicle.telemetry.v1",)),
    Topic(
        "domain.events",
        "domain_events",
        ("booking.created.v1", "booking.completed.v1", "booking.cancelled.v1", "return.completed.v1"),
    ),
    Topic(
        "payment.events",
        "payment_events",
        ("payment.authorized.v1", "payment.captured.v1", "payment.refunded.v1"),
    ),
    Topic("customers.app_events", "app_events", ("app.interaction.v1", "customer.profile_updated.v1")),
    Topic("external.weather", "weather", ("weather.observation.v1",)),
)
TOPICS_BY_NAME = {t.name: t for t in TOPICS}
TOPICS_BY_TABLE = {t.bronze_table: t for t in TOPICS}
LANDING_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet", ".avro")


def topic_for_table(bronze_table: str) -> Topic:
    try:
        return TOPICS_BY_TABLE[bronze_table]
    except KeyError:
        raise ValueError(
            f"unknown bronze table '{bronze_table}': expected one of {sorted(TOPICS_BY_TABLE)}"
        ) from None


def payload_struct(event_type: str) -> pl.Struct:
    """The polars struct of a payload, by short (`vehicle.telemetry.v1`) or full type name."""
    return pl.Struct(PAYLOADS[event_type.removeprefix(TYPE_PREFIX)])
