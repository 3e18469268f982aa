"""CloudEvents 1.0 envelopes for the event-by-event topics (telemetry builds its own, vectorised).

Ids are unique by construction: the bijective mix of a counter whose base is the run's first hour, so two
runs over different hours never reuse an id. A trace id is shared by all events of one customer journey,
each event with its own span, as a traced booking flow would report them.
"""

from datetime import UTC, datetime

from mobility_lake.events.catalogue import SPEC_VERSION, TYPE_PREFIX
from mobility_lake.simulate.cities import HOUR_MS
from mobility_lake.simulate.rng import IdSequence, generator, stream_key

SCHEMA_BASE = "https://schemas.mobilitycorp.com/"


def rfc3339(ms: int) -> str:
    """UTC with millisecond precision and a 'Z': 2026-03-10T08:15:02.123Z."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


class EventFactory:
    def __init__(self, seed: int, start_ms: int):
        base = (start_ms // HOUR_MS) << 32
        self.ids = IdSequence(stream_key(seed, "event-id"), base)
        self.names = IdSequence(stream_key(seed, "entity-id"), base)
        self.rng = generator(seed, "traces", start_ms)

    def trace_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def entity_id(self) -> str:
        """16 hex digits, unique in the run: the stem of a booking, payment or session id."""
        return self.names.hex()

    def event(
        self, source: str, short_type: str, time_ms: int, subject: str, data: dict, trace_id: str
    ) -> dict:
        span = f"{self.rng.getrandbits(64) | 1:016x}"
        return {
            "specversion": SPEC_VERSION,
            "id": self.ids.hex(),
            "source": source,
            "type": TYPE_PREFIX + short_type,
            "time": rfc3339(time_ms),
            "subject": subject,
            "datacontenttype": "application/json",
            "dataschema": f"{SCHEMA_BASE}{short_type}.json",
            "traceparent": f"00-{trace_id}-{span}-01",
            "data": data,
        }
