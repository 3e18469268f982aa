"""Everything the lake holds about a subject, as one JSON document encrypted to the requester's age key.

Bronze events come opened (payload in clear, e-mail and phone included), silver and gold rows as stored,
quarantine rows by the bronze rows they came from. The document never reaches the terminal: it is
encrypted in memory and written to the file; what is printed is counts per table.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pyrage

from mobility_lake.gdpr.holdings import bronze_records, gold_rows, quarantine_rows, silver_rows
from mobility_lake.gdpr.keys import keys_of_subject
from mobility_lake.storage import Lake

BRONZE_FIELDS = {"id": "event_id", "source": "event_source", "type": "event_type", "time": "event_time"}


class RecipientError(ValueError):
    """The recipient is not an age X25519 public key."""


def recipient(text: str) -> pyrage.x25519.Recipient:
    try:
        return pyrage.x25519.Recipient.from_str(text.strip())
    except Exception:  # noqa: BLE001 - pyrage raises its own error types for every malformed key
        raise RecipientError(
            f"'{text[:12]}…' is not an age X25519 recipient: expected a public key starting with age1"
        ) from None


def export_document(lake: Lake, user_id: str, say: Callable[[str], None]) -> tuple[dict, dict[str, int]]:
    """The export document (CONTRACT §7) and its record count per `layer.table`."""
    records: list[dict] = []
    counts: dict[str, int] = {}

    def add(layer: str, table: str, rows: list[dict]) -> None:
        counts[f"{layer}.{table}"] = len(rows)
        records.extend({"layer": layer, "table": table, **row} for row in rows)

    say("reading bronze (opened with the subject's keys)")
    bronze = bronze_records(lake, user_id, keys_of_subject(lake, user_id))
    for table, rows in bronze.items():
        add("bronze", table, [_bronze_record(r) for r in rows.iter_rows(named=True)] if rows.height else [])
    say("reading silver, quarantine and gold")
    for table, rows in silver_rows(lake, user_id).items():
        add("silver", table, rows.to_dicts())
    for table, rows in quarantine_rows(lake, bronze).items():
        add("quarantine", table, rows.to_dicts())
    for table, rows in gold_rows(lake, user_id).items():
        add("gold", table, rows.to_dicts())
    document = {"user_id": user_id, "generated_at": datetime.now(UTC).isoformat(), "records": records}
    return document, counts


def _bronze_record(row: dict) -> dict:
    record = {BRONZE_FIELDS.get(k, k): v for k, v in row.items() if k not in ("data", "data_struct")}
    record["data"] = None if row["data"] is None else orjson.loads(row["data"])
    return record


def encrypted(document: dict, to: pyrage.x25519.Recipient) -> bytes:
    return pyrage.encrypt(orjson.dumps(document, option=orjson.OPT_NAIVE_UTC), [to])


def count_line(counts: dict[str, int]) -> str:
    shown = ", ".join(f"{name} {n}" for name, n in counts.items() if n) or "no records"
    return f"{sum(counts.values())} record(s): {shown}"
