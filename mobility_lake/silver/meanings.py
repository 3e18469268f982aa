"""What each silver column means, in one short sentence: the column descriptions the UI shows
(`mobility_lake/columns.py` adds where each column comes from).

A payload field means the same in every table that has it, so its meaning is written once; which event
types of a table carry it, and so when it is null, is read from the catalogue (`silver_meanings`).
"""

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
from mobility_lake.silver.tables import OPTIONAL_FIELDS, SilverTable

ENVELOPE_MEANINGS: dict[str, str] = {
    "event_id": "CloudEvents id; with event_source the row's identity, unique in the table",
    "event_source": "CloudEvents source: the producer, as a URI reference",
    "event_type": "Full CloudEvents type, com.mobilitycorp.<name>.v1, one of the table's event types",
    "event_time": "Event time, UTC; never null, and the hour it falls in is the row's partition",
    "event_subject": "CloudEvents subject; null when the event has none",
}
PAYLOAD_MEANINGS: dict[str, str] = {
    "vehicle_id": "Vehicle identifier: two capital letters and six digits",
    "vehicle_type": f"Vehicle type: {', '.join(VEHICLE_TYPES)}",
    "city": "City of the event, non-empty",
    "latitude": "Latitude of the event's position, WGS84 degrees in [-90, 90]",
    "longitude": "Longitude of the event's position, WGS84 degrees in [-180, 180]",
    "battery_level": "Battery charge, percent in [0, 100]",
    "speed_kmh": "Speed, km/h, >= 0",
    "temperature_c": "Temperature, degrees Celsius",
    "odometer_km": "Odometer reading, km, >= 0",
    "status": f"Vehicle status: {', '.join(VEHICLE_STATUSES)}",
    "booking_id": "Booking identifier, non-empty",
    "user_id": "Pseudonymous user identifier, non-empty, kept as it arrived (not masked): the key a GDPR "
    "request resolves to; null once the subject is erased",
    "promo_code": "Promotion code of the booking",
    "customer_segment": f"Customer segment: {', '.join(CUSTOMER_SEGMENTS)}",
    "started_at": "Trip start, UTC",
    "ended_at": "Trip end, UTC; not before started_at",
    "distance_km": "Trip distance, km, >= 0",
    "end_latitude": "Latitude where the trip ended, WGS84 degrees in [-90, 90]",
    "end_longitude": "Longitude where the trip ended, WGS84 degrees in [-180, 180]",
    "fare_amount": "Trip fare in currency, >= 0",
    "currency": "ISO 4217 code of the amount: three capital letters",
    "reason": "Why the booking was cancelled, as sent",
    "bay_id": "Parking bay the vehicle was returned to",
    "photo_count": "Photos taken at the return, >= 0",
    "damage_reported": "Whether damage was reported at the return",
    "payment_id": "Payment identifier, non-empty",
    "amount": "Payment amount in currency, >= 0",
    "method": f"Payment method: {', '.join(PAYMENT_METHODS)}",
    "session_id": "App session identifier, non-empty",
    "action": f"App action: {', '.join(APP_ACTIONS)}",
    "screen": "App screen of the action",
    "device_os": f"Device operating system: {', '.join(DEVICE_OSES)}",
    "app_version": "App version",
    "locale": "Locale of the app or profile, e.g. de-DE",
    "email": "E-mail as a keyed mask: 24 hex digits of an HMAC under the subject's own key, the same for "
    "one address however written; not recomputable from the address; null once the subject is erased",
    "phone": "Phone number as a keyed mask: 24 hex digits of an HMAC of its digits under the subject's own "
    "key; not recomputable from the number; null once the subject is erased",
    "marketing_opt_in": "Whether the customer opted in to marketing",
    "precipitation_mm": "Precipitation, mm, >= 0",
    "wind_speed_kmh": "Wind speed, km/h, >= 0",
    "condition": f"Weather condition: {', '.join(WEATHER_CONDITIONS)}",
}
DERIVED_MEANINGS: dict[str, str] = {
    "zone_id": "Operating zone (data/reference/zones.geojson) holding latitude/longitude, else "
    "end_latitude/end_longitude where the table has them; null outside every zone or without a position",
    "zone_name": "Name of that zone; null when zone_id is null",
    "battery_status": "battery_level banded: critical < 10, low < 30, medium < 70, else good",
    "trip_duration_min": "ended_at - started_at, minutes; null unless both are set",
    "fare_amount_eur": "fare_amount in EUR at the latest rate of currency dated on or before the event's "
    "UTC day and at most 7 days old (data/reference/fx_rates.csv); null without a fare",
    "amount_eur": "amount in EUR at the latest rate of currency dated on or before the event's UTC day and "
    "at most 7 days old (data/reference/fx_rates.csv)",
    "date": "UTC day of event_time: the Delta partition column",
    "hour": "UTC hour of day of event_time, 0-23",
}
ORIGIN_MEANINGS: dict[str, str] = {
    "landing_file": "Landing file of the event's bronze row (of its first copy to land, when redelivered)",
    "record_number": "Line or row number of that bronze row in landing_file",
    "ingested_at": "When that bronze row was ingested, UTC",
}


def silver_meanings(table: SilverTable) -> dict[str, str]:
    """The meaning of every column a silver table can have, its payload fields told when they are null."""
    payload = {
        name: PAYLOAD_MEANINGS[name] + _nullability(table, name)
        for name in table.payload_columns
        if name in PAYLOAD_MEANINGS
    }
    return ENVELOPE_MEANINGS | payload | DERIVED_MEANINGS | ORIGIN_MEANINGS


def _nullability(table: SilverTable, field: str) -> str:
    """Where a payload field is null: in events of types without it, and where the contract allows it."""
    carried = [t for t in table.event_types if field in PAYLOADS[t]]
    optional = any(field in OPTIONAL_FIELDS.get(t, ()) for t in carried)
    only = f"; only in {', '.join(carried)} events" if len(carried) < len(table.event_types) else ""
    return only + ("; null when not given" if optional else "")
