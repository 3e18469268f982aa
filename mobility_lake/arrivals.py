"""Which landing files are new since the last look, and which arrival hours they call to be ingested.

The cursor is a watermark (the newest last-modified time seen) plus the keys seen within a grace period
before it. A file counts as new when its key was not seen and its last-modified time is within the grace
period of the watermark or later: a file written aside and renamed (or an S3 multipart upload) can show a
last-modified time older than files listed before it, and the grace period keeps it from being skipped.
Anything a sensor misses is still caught by re-running its hour, since bronze keeps a ledger of files.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime

from mobility_lake.events.catalogue import TOPICS_BY_NAME
from mobility_lake.landing import LandingFile, parse_landing_key
from mobility_lake.storage import ObjectInfo

GRACE_SECONDS = 15 * 60


@dataclass(frozen=True)
class Cursor:
    watermark: float = 0.0
    seen: frozenset[str] = field(default_factory=frozenset)

    def serialize(self) -> str:
        return json.dumps({"watermark": self.watermark, "seen": sorted(self.seen)})

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        """The cursor a sensor stored; no cursor (first tick, or reset) means everything is new."""
        if not text:
            return cls()
        state = json.loads(text)
        return cls(watermark=float(state["watermark"]), seen=frozenset(state["seen"]))


def new_files(listing: list[ObjectInfo], cursor: Cursor) -> tuple[list[LandingFile], Cursor]:
    """The landing files not seen before, and the cursor that remembers them."""
    floor = cursor.watermark - GRACE_SECONDS
    fresh: list[LandingFile] = []
    recent = [info for info in listing if info.mtime >= floor]
    for info in recent:
        landing = parse_landing_key(info.key)
        if landing is not None and info.key not in cursor.seen:
            fresh.append(landing)
    watermark = max([cursor.watermark, *(info.mtime for info in recent)])
    keep_from = watermark - GRACE_SECONDS
    seen = frozenset(info.key for info in recent if info.mtime >= keep_from)
    return sorted(fresh), Cursor(watermark=watermark, seen=seen)


def tables_by_hour(files: list[LandingFile]) -> dict[datetime, set[str]]:
    """The bronze tables that received new files, per arrival hour."""
    by_hour: dict[datetime, set[str]] = {}
    for landing in files:
        by_hour.setdefault(landing.hour, set()).add(TOPICS_BY_NAME[landing.topic].bronze_table)
    return by_hour
