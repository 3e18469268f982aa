"""Defect injection: what a real Kafka sink and real producers get wrong, in controlled shares.

Content defects (out of range, unknown type, missing field) are exclusive per event and chosen from one
uniform draw (telemetry_defects.py does the same, vectorised); lateness and duplication are routing
decisions (routing.py); malformed lines are made at write time and only in JSONL files, since a Parquet
row cannot be broken JSON.
"""

import random
from dataclasses import dataclass, fields

from mobility_lake.events.catalogue import PAYLOADS, TOPICS_BY_NAME, TYPE_PREFIX

CONTENT_KINDS = ("out_of_range", "unknown_type", "missing_field")
DEFECT_KINDS = ("duplicate", "late", "malformed", *CONTENT_KINDS)
NULLABLE = {
    "booking.created.v1": {"promo_code"},
    "return.completed.v1": {"bay_id"},
    "app.interaction.v1": {"latitude", "longitude"},
}
UNKNOWN_TYPES = {
    "veh.events.raw": ("vehicle.telemetry.v9", "vehicle.diagnostics.v2"),
    "domain.events": ("booking.extended.v9", "booking.created.v9"),
    "payment.events": ("payment.disputed.v9", "payment.captured.v0"),
    "customers.app_events": ("app.crash_report.v9", "app.interaction.v9"),
    "external.weather": ("weather.forecast.v9",),
}
# (field, value maker) per event type: values outside the contract's ranges (coordinates beyond ±90/±180,
# negative distances, amounts, counts and speeds), as a buggy producer emits them
OUT_OF_RANGE = {
    "booking.created.v1": (
        ("latitude", lambda r: 90 + r.uniform(1, 60)),
        ("longitude", lambda r: -180 - r.uniform(1, 90)),
    ),
    "booking.completed.v1": (
        ("distance_km", lambda r: -r.uniform(0.1, 20)),
        ("fare_amount", lambda r: -r.uniform(1, 30)),
        ("end_latitude", lambda r: 90 + r.uniform(1, 60)),
    ),
    "return.completed.v1": (
        ("photo_count", lambda r: -r.randint(1, 5)),
        ("latitude", lambda r: -90 - r.uniform(1, 60)),
    ),
    "payment.authorized.v1": (("amount", lambda r: -r.uniform(1, 50)),),
    "payment.captured.v1": (("amount", lambda r: -r.uniform(1, 50)),),
    "payment.refunded.v1": (("amount", lambda r: -r.uniform(1, 50)),),
    "app.interaction.v1": (
        ("latitude", lambda r: 90 + r.uniform(1, 60)),
        ("longitude", lambda r: 180 + r.uniform(1, 90)),
    ),
    "weather.observation.v1": (
        ("wind_speed_kmh", lambda r: -r.uniform(1, 30)),
        ("precipitation_mm", lambda r: -r.uniform(0.1, 5)),
    ),
}
TELEMETRY_TYPE = TYPE_PREFIX + "vehicle.telemetry.v1"
GARBAGE = (
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"specversion":"1.0",,"id":}',
    b"null-null-null",
    b'"specversion": "1.0", "id": "',
    b"{'specversion': '1.0', 'type': 'com.mobilitycorp.vehicle.telemetry.v1'}",
)

assert all(
    TYPE_PREFIX + t not in TOPICS_BY_NAME[topic].full_types for topic, ts in UNKNOWN_TYPES.items() for t in ts
)


@dataclass(frozen=True)
class DefectShares:
    """Fractions of events given each defect (late: of events before the last hour; malformed: of JSONL lines)."""

    duplicate: float = 0.02
    late: float = 0.03
    malformed: float = 0.002
    out_of_range: float = 0.003
    unknown_type: float = 0.001
    missing_field: float = 0.002

    def __post_init__(self) -> None:
        for f in fields(self):
            if not 0.0 <= getattr(self, f.name) <= 1.0:
                raise ValueError(
                    f"DefectShares.{f.name} is {getattr(self, f.name)}: expected a fraction in [0, 1]"
                )
        if sum(getattr(self, kind) for kind in CONTENT_KINDS) > 1.0:
            raise ValueError("DefectShares: out_of_range + unknown_type + missing_field must not exceed 1")

    @classmethod
    def none(cls) -> "DefectShares":
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def content_kind(self, u: float) -> str | None:
        """The content defect an event with uniform draw `u` gets, if any."""
        for kind in CONTENT_KINDS:
            share = getattr(self, kind)
            if u < share:
                return kind
            u -= share
        return None


def required_fields(event_type: str) -> list[str]:
    short = event_type.removeprefix(TYPE_PREFIX)
    return [f for f in PAYLOADS[short] if f not in NULLABLE.get(short, ())]


def spoil_event(event: dict, kind: str, topic: str, rng: random.Random) -> bool:
    """Give a CloudEvent dict the content defect `kind`; False when its type has no such defect."""
    short = event["type"].removeprefix(TYPE_PREFIX)
    if kind == "unknown_type":
        event["type"] = TYPE_PREFIX + rng.choice(UNKNOWN_TYPES[topic])
        event["dataschema"] = event["dataschema"].replace(short, event["type"].removeprefix(TYPE_PREFIX))
    elif kind == "out_of_range":
        if short not in OUT_OF_RANGE:
            return False
        name, make = rng.choice(OUT_OF_RANGE[short])
        value = make(rng)
        event["data"][name] = value if isinstance(value, int) else round(value, 2)
    elif rng.random() < 0.2:  # missing_field: an envelope attribute the pipeline needs
        del event[rng.choice(("time", "id"))]
    else:
        del event["data"][rng.choice(required_fields(event["type"]))]
    return True


def break_line(line: bytes, rng: random.Random) -> bytes:
    """A line that is not JSON: mostly a truncated object (a sink cut short), sometimes garbage."""
    if rng.random() < 0.75 and len(line) > 4:
        return line[: rng.randrange(1, len(line) - 2)]
    return rng.choice(GARBAGE)
