"""The five silver tables: which bronze table feeds each, which event types, and their payload columns.

Payload columns are the union of the fields of the table's event types, in contract order, typed as the
catalogue says; timestamps inside payloads (`started_at`, `ended_at`) become UTC timestamps. Which of
them each event type requires, and the checks on their values, live in `rules.py`.
"""

from dataclasses import dataclass

import polars as pl

from mobility_lake.events.catalogue import PAYLOADS, TYPE_PREFIX

TIMESTAMP = pl.Datetime("us", "UTC")
TIMESTAMP_FIELDS = ("started_at", "ended_at")
# Fields that the contract marks nullable, per event type.
OPTIONAL_FIELDS = {
    "booking.created.v1": ("promo_code",),
    "return.completed.v1": ("bay_id",),
    "app.interaction.v1": ("latitude", "longitude"),
}


@dataclass(frozen=True)
class SilverTable:
    name: str
    bronze_table: str
    event_types: tuple[str, ...]  # short names, e.g. "booking.created.v1"

    @property
    def full_types(self) -> tuple[str, ...]:
        return tuple(TYPE_PREFIX + t for t in self.event_types)

    @property
    def payload_columns(self) -> dict[str, pl.DataType]:
        """The union of the event types' payload fields, typed (timestamps parsed)."""
        columns: dict[str, pl.DataType] = {}
        for event_type in self.event_types:
            for name, dtype in PAYLOADS[event_type].items():
                typed = dtype() if isinstance(dtype, type) else dtype
                columns.setdefault(name, TIMESTAMP if name in TIMESTAMP_FIELDS else typed)
        return columns

    def required(self, event_type: str) -> tuple[str, ...]:
        optional = OPTIONAL_FIELDS.get(event_type, ())
        return tuple(f for f in PAYLOADS[event_type] if f not in optional)


SILVER_TABLES: tuple[SilverTable, ...] = (
    SilverTable("vehicle_telemetry", "vehicle_telemetry", ("vehicle.telemetry.v1",)),
    SilverTable(
        "booking_events",
        "domain_events",
        ("booking.created.v1", "booking.completed.v1", "booking.cancelled.v1", "return.completed.v1"),
    ),
    SilverTable(
        "payment_events",
        "payment_events",
        ("payment.authorized.v1", "payment.captured.v1", "payment.refunded.v1"),
    ),
    SilverTable("app_events", "app_events", ("app.interaction.v1", "customer.profile_updated.v1")),
    SilverTable("weather", "weather", ("weather.observation.v1",)),
)
SILVER_BY_NAME = {t.name: t for t in SILVER_TABLES}
SILVER_BY_BRONZE = {t.bronze_table: t for t in SILVER_TABLES}
