"""What each column of a landed event and of a bronze table means, in one short sentence: the column
descriptions the UI shows (`mobility_lake/columns.py` adds where each column comes from).

Landing columns are the CloudEvents attributes and payload of CONTRACT §2; bronze keeps them as text as they
landed (`records.py`) and adds what describes the file rather than the event (`ingest.py`).
"""

from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES

LANDING_MEANINGS: dict[str, str] = {
    "specversion": "CloudEvents spec version, 1.0",
    "id": "Event id, unique per source; a redelivered event repeats it",
    "source": "Producer of the event as a URI reference, e.g. /vehicles/AB123456 or //booking-service",
    "type": "Event type, com.mobilitycorp.<name>.v1",
    "time": "Event time, RFC 3339",
    "subject": "Subject of the event within its source; optional",
    "datacontenttype": "Media type of data, application/json",
    "dataschema": "URI of the payload's schema",
    "traceparent": "W3C trace context: the producer's trace parent id",
    "data": "Payload: the event type's fields as a JSON object (in Parquet files a JSON string or a struct)",
}

BRONZE_MEANINGS: dict[str, str] = {
    **{
        name: f"{LANDING_MEANINGS[name]}; as landed, as text (null if missing or not a string or timestamp)"
        for name in ENVELOPE_ATTRIBUTES
    },
    "data": "Payload as JSON text; null when the event has none (telemetry: also when data_struct holds it)",
    "data_struct": "Payload of a Parquet row as the typed struct the sink wrote, when its fields are exactly "
    "the contract's; else null",
    "extensions": "JSON object of the other top-level fields and of attributes that are not a string or "
    "timestamp; null when none",
    "raw": "Text of a line that could not be parsed (bytes that are not UTF-8 as \\xNN); null otherwise",
    "error": "Why the line, row or file could not be parsed as an event, as `reason_code: detail`; else null",
    "record_number": "Line (JSON lines) or row (Parquet) number in the landing file, from 1; null for an "
    "empty or unreadable file",
    "landing_file": "Key of the landing file, relative to the lake root",
    "ingested_at": "When the ingestion batch that added the row ran, UTC",
    "arrival_hour": "Hour folder the file landed in, UTC: the Dagster partition",
    "arrival_date": "Date of arrival_hour as YYYY-MM-DD: the Delta partition column",
    "event_hour": "Hour of the event time, UTC; null when time is missing or not RFC 3339",
    "event_time": "Event time read from time, UTC; null when time is missing or not RFC 3339 (and in rows "
    "ingested before bronze kept it)",
    "subject_key": "Key the row's personal values are sealed with (user_id, e-mail, phone, coordinates, "
    "subject, an unreadable line): null when the row names no subject; unreadable once the subject is erased",
}
