"""Archived events written back out as CloudEvents JSON lines, to rebuild read models (Kafka keeps 7 days).

`mobility-lake replay --topic T --start T1 --end T2 --out DIR` reads the events of topic T that arrived in
the hours [T1, T2), from bronze and its archive, and writes one JSON-lines file per landing file under
`DIR/{topic}/year=…/month=…/day=…/hour=…/`: the landing layout, so DIR can be another lake's `landing/`
or the input of a Kafka producer. Each file keeps its events in their original order and line numbers
(a Parquet landing file's rows become its lines): record `n` of the landing file is line `n` of its replay.

- A parsed event is its envelope attributes, any extension attributes and its payload as `data`, with the
  personal values bronze sealed opened with the subject's key. An erased subject's key is gone: those values
  are written as null, unreadable as they are in the lake.
- A line bronze could not parse is written back as its text (`raw`), so it fails again the same way.
- What was never an event (an empty or unreadable file: no line number) is not written, only counted.

A file is named as it landed; one that did not land as JSON lines gets `.jsonl` appended (`x.parquet` ->
`x.parquet.jsonl`). Rebuilt from the replay, a lake holds the same silver rows, but for the two columns
that say where and when each copy landed (`landing_file`, `ingested_at`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from mobility_lake.bronze.history import landed_rows
from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES, TOPICS_BY_NAME
from mobility_lake.gdpr.keys import keys_by_id
from mobility_lake.gdpr.sealing import KEY_COLUMN, opened_rows
from mobility_lake.landing import LANDING_PREFIX
from mobility_lake.storage import Lake

HOUR = timedelta(hours=1)


class ReplayError(ValueError):
    """The replay cannot be made as asked; the message says what was expected."""


@dataclass
class Replayed:
    files: int = 0
    events: int = 0
    unparsed_lines: int = 0
    not_events: int = 0


def replay(
    lake: Lake, topic: str, start: datetime, end: datetime, out: Path, say: Callable[[str], None]
) -> Replayed:
    """Write the topic's events of arrival hours [start, end) under `out`, one arrival hour at a time."""
    found = TOPICS_BY_NAME.get(topic)
    if found is None:
        raise ReplayError(f"no topic '{topic}': expected one of {', '.join(TOPICS_BY_NAME)}")
    rows = landed_rows(lake, found.bronze_table)
    done = Replayed()
    if rows is None:
        return done
    hour = start
    while hour < end:
        frame = rows.filter(pl.col("arrival_hour") == hour).collect()
        if frame.height:
            for name, lines in _files(lake, frame, done):
                path = out / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"".join(line + b"\n" for line in lines))
                done.files += 1
            say(f"{topic} {hour:%Y-%m-%dT%H:%M}: {done.files} file(s), {done.events} event(s) so far")
        hour += HOUR
    return done


def _files(lake: Lake, frame: pl.DataFrame, done: Replayed) -> Iterator[tuple[str, list[bytes]]]:
    """Each landing file's replay: its path under the output directory and its lines in order."""
    keys = (
        keys_by_id(lake, frame[KEY_COLUMN].drop_nulls().unique().to_list())
        if KEY_COLUMN in frame.columns
        else {}
    )
    opened = opened_rows(frame, keys) if KEY_COLUMN in frame.columns else frame
    done.not_events += opened.filter(pl.col("record_number").is_null()).height
    events = opened.filter(pl.col("record_number").is_not_null()).sort("landing_file", "record_number")
    for (landing_file,), part in events.partition_by(
        "landing_file", as_dict=True, maintain_order=True
    ).items():
        lines = [_line(row, done) for row in part.iter_rows(named=True)]
        yield _replay_name(landing_file), lines


def _line(row: dict, done: Replayed) -> bytes:
    if (
        row["error"] is not None and row["raw"] is not None
    ):  # every line bronze could not parse keeps its text
        done.unparsed_lines += 1
        return row["raw"].encode()
    event = {name: row[name] for name in ENVELOPE_ATTRIBUTES if row.get(name) is not None}
    if row.get("extensions"):
        event.update(orjson.loads(row["extensions"]))
    if row.get("data") is not None:
        event["data"] = _payload(row["data"])
    elif row.get("data_struct") is not None:
        event["data"] = row["data_struct"]
    done.events += 1
    return orjson.dumps(event)


def _payload(text: str) -> object:
    """The payload's JSON value; its text when it is not JSON (as it landed)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _replay_name(landing_file: str) -> str:
    """`landing/{topic}/…/{file}` as the path under the output directory, named as JSON lines."""
    relative = landing_file.removeprefix(f"{LANDING_PREFIX}/")
    return relative if relative.endswith(".jsonl") else f"{relative}.jsonl"
