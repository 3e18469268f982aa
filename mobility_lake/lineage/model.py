"""Column lineage as data: which upstream columns each column of each table comes from.

Landing -> bronze is structural and computed here from the event catalogue: a bronze column named after a
CloudEvents attribute, or `data`, comes from the landed event's attribute of that name; the few others
are listed in BRONZE_DERIVED; the rest (parse error, line number, landing file, ingestion and arrival
times) describe the file, not the event, and come from no landing column. Bronze -> silver and silver ->
gold are what the probe found running the code (`probe.py`), kept in `columns.json`: regenerate it with
`python -m mobility_lake.lineage`; a test fails while it differs from what the code does.
"""

import json
import re
from functools import cache
from pathlib import Path

from mobility_lake.bronze.ingest import bronze_schema
from mobility_lake.events.catalogue import ENVELOPE_ATTRIBUTES, TOPICS, TOPICS_BY_TABLE

LINEAGE_FILE = Path(__file__).with_name("columns.json")
# What a landed event holds: its CloudEvents attributes and its payload.
LANDING_COLUMNS = (*ENVELOPE_ATTRIBUTES, "data")
# Bronze columns not named after a landing column, and the landing columns they come from.
BRONZE_DERIVED: dict[str, tuple[str, ...]] = {
    "data_struct": ("data",),  # a Parquet payload kept as its typed struct
    "extensions": ENVELOPE_ATTRIBUTES,  # attributes of the wrong type, with extension attributes
    "raw": LANDING_COLUMNS,  # the line as it arrived
    "event_hour": ("time",),  # the hour of `time`
    "event_time": ("time",),  # `time` read as a timestamp
}
Dep = tuple[str, str]  # (upstream asset as "layer/name", column)


def landing_asset(bronze_table: str) -> str:
    from mobility_lake.bronze.assets import landing_key  # the asset module imports this one

    return landing_key(TOPICS_BY_TABLE[bronze_table]).to_user_string()


def landing_topics() -> dict[str, str]:
    """Topic name by landing asset ("landing/domain_events" -> "domain.events")."""
    return {landing_asset(t.bronze_table): t.name for t in TOPICS}


def bronze_deps(table: str) -> dict[str, list[Dep]]:
    """Each bronze column's landing columns (none for what describes the file rather than the event)."""
    landing = landing_asset(table)
    deps: dict[str, list[Dep]] = {}
    for column in bronze_schema(table):
        sources = (column,) if column in LANDING_COLUMNS else BRONZE_DERIVED.get(column, ())
        deps[column] = [(landing, source) for source in sources]
    return deps


@cache
def probed() -> dict[str, dict[str, list[Dep]]]:
    """The committed probe result: {asset: {column: [(upstream asset, column)]}}."""
    raw = json.loads(LINEAGE_FILE.read_text())
    return {
        asset: {column: [(a, c) for a, c in deps] for column, deps in columns.items()}
        for asset, columns in raw.items()
    }


def table_deps(asset: str) -> dict[str, list[Dep]] | None:
    """{column: upstream columns} of an asset ("silver/booking_events"); None when lineage has none."""
    layer, _, name = asset.partition("/")
    if layer == "bronze":
        return bronze_deps(name) if name in TOPICS_BY_TABLE else None
    return probed().get(asset)


def dumps(lineage: dict[str, dict[str, list[list[str]]]]) -> str:
    """Stable, sorted, reviewable JSON: one upstream column per line."""
    text = json.dumps(lineage, indent=2, sort_keys=True)
    return re.sub(r'\[\s+("[^"]*"),\s+("[^"]*")\s+\]', r"[\1, \2]", text) + "\n"
