"""Landing-zone paths of CONTRACT §2: `landing/{topic}/year=YYYY/month=MM/day=DD/hour=HH/{file}`.

Keys are parsed with one anchored pattern, never by splitting and indexing, so a stray file anywhere else
in the tree is ignored rather than misread.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from mobility_lake.events.catalogue import LANDING_SUFFIXES, TOPICS_BY_NAME

LANDING_PREFIX = "landing"
_KEY = re.compile(
    r"^landing/(?P<topic>[^/]+)/year=(?P<year>\d{4})/month=(?P<month>\d{2})/day=(?P<day>\d{2})"
    r"/hour=(?P<hour>\d{2})/(?P<name>[^/]+)$"
)


@dataclass(frozen=True, order=True)
class LandingFile:
    """A landed file: the topic it came from, its arrival hour (UTC) and its key relative to the lake root."""

    topic: str
    hour: datetime
    name: str

    @property
    def key(self) -> str:
        return landing_key(self.topic, self.hour, self.name)


def hour_folder(topic: str, hour: datetime) -> str:
    return f"{LANDING_PREFIX}/{topic}/year={hour:%Y}/month={hour:%m}/day={hour:%d}/hour={hour:%H}"


def landing_key(topic: str, hour: datetime, name: str) -> str:
    return f"{hour_folder(topic, hour)}/{name}"


def parse_landing_key(key: str) -> LandingFile | None:
    """The landing file a key names, or None for anything that is not a landed event file of a known topic."""
    match = _KEY.match(key)
    if match is None or match["topic"] not in TOPICS_BY_NAME or not match["name"].endswith(LANDING_SUFFIXES):
        return None
    try:
        hour = datetime(
            int(match["year"]), int(match["month"]), int(match["day"]), int(match["hour"]), tzinfo=UTC
        )
    except ValueError:
        return None
    return LandingFile(topic=match["topic"], hour=hour, name=match["name"])
