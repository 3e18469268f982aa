"""The audit trail: `audit/query_log`, one row per query (allowed, denied or refused) and per GDPR request.

Rows are appended (appends never conflict) into daily partitions, so retention drops whole days. Nothing
personal is written: statements arrive normalized (`statements.normalize`), errors as their kind, and a
GDPR subject as a sha256 under a fresh salt that only the requester's receipt holds.
"""

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from mobility_lake.storage import Lake

LAYER = "audit"
TABLE = "query_log"
PARTITION_BY = ["date"]
SCHEMA = pl.Schema(
    {
        "time": pl.Datetime("us", "UTC"),
        "date": pl.String(),
        "entry_id": pl.String(),
        "user": pl.String(),
        "role": pl.String(),
        "action": pl.String(),  # query | gdpr_export | gdpr_erase | retention | replay
        "statement": pl.String(),  # normalized: no literal, comment or unknown name
        "tables": pl.List(pl.String()),
        "rows": pl.Int64(),  # rows returned (query) or records found (export); null when nothing ran
        "outcome": pl.String(),  # ok | denied | refused | failed
        "reason": pl.String(),  # refusal kind, denied table, or error kind; never a value
        "subject_sha256": pl.String(),  # GDPR requests: sha256(salt + user_id), the salt not stored
        "request_id": pl.String(),
    }
)
OUTCOMES = ("ok", "denied", "refused", "failed")


@dataclass(frozen=True)
class Entry:
    user: str
    role: str
    action: str
    outcome: str
    statement: str | None = None
    tables: tuple[str, ...] = ()
    rows: int | None = None
    reason: str | None = None
    subject_sha256: str | None = None
    request_id: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


def salted_subject(user_id: str) -> tuple[str, str]:
    """A fresh salt and sha256(salt + user_id): the requester can show which audit rows are theirs, the
    lake cannot link them to anyone."""
    salt = os.urandom(16).hex()
    return salt, hashlib.sha256(f"{salt}{user_id}".encode()).hexdigest()


def record(lake: Lake, entry: Entry) -> None:
    """Append `entry` to the audit log (creating it on first use)."""
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"audit outcome '{entry.outcome}': expected one of {', '.join(OUTCOMES)}")
    row = {
        "time": entry.time,
        "date": entry.time.date().isoformat(),
        "entry_id": str(uuid.uuid4()),
        "user": entry.user,
        "role": entry.role,
        "action": entry.action,
        "statement": entry.statement,
        "tables": list(entry.tables),
        "rows": entry.rows,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "subject_sha256": entry.subject_sha256,
        "request_id": entry.request_id,
    }
    lake.append(LAYER, TABLE, pl.DataFrame([row], schema=SCHEMA), partition_by=PARTITION_BY)
