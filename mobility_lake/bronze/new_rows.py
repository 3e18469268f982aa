"""What a bronze run added, per arrival hour and event hour, as Dagster metadata.

Sensors and `mobility-lake materialize` read it to re-run exactly the silver hours that new rows touch.
"""

from collections import Counter
from datetime import datetime

from mobility_lake.partitions import hour_key, parse_hour_key

# Metadata of a bronze materialization: its new rows per arrival hour and event hour, so that late data
# re-runs exactly the silver hours it touches.
NEW_ROWS_METADATA = "new_rows_by_arrival_and_event_hour"
UNPARSED = "unparsed"


def encode_new_rows(counts: Counter) -> dict[str, dict[str, int]]:
    encoded: dict[str, dict[str, int]] = {}
    for (arrival, event), rows in sorted(
        counts.items(), key=lambda item: (item[0][0], item[0][1] or item[0][0])
    ):
        encoded.setdefault(hour_key(arrival), {})[UNPARSED if event is None else hour_key(event)] = rows
    return encoded


def decode_new_rows(encoded: dict[str, dict[str, int]]) -> list[tuple[datetime, datetime | None, int]]:
    """(arrival hour, event hour or None, rows) triples from a bronze materialization's metadata."""
    return [
        (parse_hour_key(arrival), None if event == UNPARSED else parse_hour_key(event), rows)
        for arrival, events in encoded.items()
        for event, rows in events.items()
    ]
