"""The lineage probe: a small realistic lake, and every silver and gold transform probed on it.

Two simulated afternoon hours of a small fleet with the default defects are landed, ingested by the bronze
core and materialized by the silver pipeline. Then `build_silver` of each silver table is probed on the
bronze rows placed in those hours, and `Mart.build` of each gold mart on the silver tables as written
(`detect.py` says how). The seed is one whose hours hold every event type, refunds, damage reports and
profile updates, so that rare payload fields vary; `sample_gaps` says when a change to the simulator
loses that.
"""

import multiprocessing
import os
import tempfile
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime, timedelta

import polars as pl

from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gdpr.keys import all_keys
from mobility_lake.gdpr.sealing import opened_rows
from mobility_lake.gold.marts import MARTS, MARTS_BY_NAME, Mart
from mobility_lake.lineage.detect import Deps, Target, column_deps
from mobility_lake.lineage.perturb import SHIFT
from mobility_lake.partitions import hours_in
from mobility_lake.settings import START_FORMAT, load_settings
from mobility_lake.silver.pipeline import materialize_hour, placed_rows, reference_data
from mobility_lake.silver.tables import SILVER_BY_NAME, SILVER_TABLES
from mobility_lake.silver.transforms import LINEAGE, build_silver
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake

START = datetime(2026, 3, 10, 16, tzinfo=UTC)  # a Tuesday afternoon
HOURS = 2
VEHICLES = 100
SEED = 15  # one whose hours pass `sample_gaps`
TELEMETRY_INTERVAL_S = 300  # fewer readings: the probe needs variety, not volume
# A silver row is the event (source, id) and comes from one bronze row (landing file, record number).
ORIGIN = tuple(c for c in LINEAGE if c != "ingested_at")
SILVER_IDENTITIES = (("event_source", "event_id"), ORIGIN)
PAYLOAD_COLUMNS = ("data", "data_struct")  # bronze: JSON text, or a Parquet struct (`STRUCT_PAYLOADS`)
Lineage = dict[str, dict[str, list[list[str]]]]


def probed_lineage(workers: int | None = None) -> Lineage:
    """{asset: {column: [[upstream asset, column], ...]}} for every silver table and gold mart."""
    workers = workers or min(os.cpu_count() or 1, len(SILVER_TABLES) + len(MARTS))
    context = multiprocessing.get_context("spawn")  # polars' thread pool does not survive fork
    with (
        tempfile.TemporaryDirectory(prefix="lineage-probe-") as root,
        ProcessPoolExecutor(workers, mp_context=context) as pool,
    ):
        lake = Lake(
            load_settings({"MOBILITY_LAKE_ROOT": root, "MOBILITY_LAKE_START": START.strftime(START_FORMAT)})
        )
        hours = hours_in(START, START + timedelta(hours=HOURS))
        simulate(lake, START, HOURS, vehicles=VEHICLES, seed=SEED, telemetry_interval_s=TELEMETRY_INTERVAL_S)
        for topic in TOPICS:
            ingest_hours(lake, topic.bronze_table, hours)
        jobs: list[Future] = []
        bronze: dict[str, pl.DataFrame] = {}
        keys = dict(all_keys(lake).select("key_id", "key").iter_rows())
        for table in SILVER_TABLES:
            upstream = f"bronze/{table.bronze_table}"
            # opened: a perturbation moves clear values, as the pipeline sees them once opened
            placed = pl.concat([placed_rows(lake, table, h, START).collect() for h in hours])
            bronze[upstream] = (
                opened_rows(placed.with_columns(pl.lit(None, pl.String).alias("raw")), keys)
                .drop("raw")
                .sort("arrival_hour", "landing_file", "record_number", nulls_last=True)
            )
            jobs.append(pool.submit(probe_one, "silver", table.name, {upstream: bronze[upstream]}, keys))
            for hour in hours:
                materialize_hour(lake, table, hour, START, reference_data())
        silver = {
            f"silver/{t.name}": lake.read("silver", t.name).sort(SILVER_IDENTITIES[0]) for t in SILVER_TABLES
        }
        if gaps := sample_gaps(silver, bronze):
            raise RuntimeError(
                f"the probe's sample lacks {', '.join(gaps)}: choose another SEED in {__name__}"
            )
        for mart in MARTS:
            inputs = {f"silver/{name}": silver[f"silver/{name}"] for name in mart.reads}
            jobs.append(pool.submit(probe_one, "gold", mart.name, inputs))
        return dict(job.result() for job in jobs)


def probe_one(
    layer: str, name: str, inputs: dict[str, pl.DataFrame], keys: dict[str, bytes] | None = None
) -> tuple[str, dict[str, list[list[str]]]]:
    """One table's lineage, run in a worker process: (asset, {column: [[upstream asset, column]]});
    silver opens sealed values with `keys` (key_id -> key)."""
    target = (
        silver_target(name, inputs, keys or {})
        if layer == "silver"
        else gold_target(MARTS_BY_NAME[name], inputs)
    )
    return target.asset, as_json(column_deps(target))


def silver_target(name: str, inputs: dict[str, pl.DataFrame], keys: dict[str, bytes]) -> Target:
    """`build_silver` over the bronze rows placed in the probe's hours: the hour argument only names the
    quarantine partition, so one call over both hours builds what two hourly calls build."""
    table = SILVER_BY_NAME[name]
    ((upstream, _),) = inputs.items()

    def run(frames: dict[str, pl.LazyFrame]) -> pl.DataFrame:
        found = lambda ids: {i: keys[i] for i in ids if i in keys}  # noqa: E731
        return build_silver(
            frames[upstream].collect(), table, START, START, reference_data(), keys=found
        ).silver

    return Target(f"silver/{name}", inputs, run, SILVER_IDENTITIES, grouped=False, origin=ORIGIN)


class _Frames:
    """A stand-in for `Lake` that serves in-memory silver frames to `silver_window`."""

    def __init__(self, frames: dict[str, pl.LazyFrame]):
        self.frames = frames

    def scan(self, layer: str, table: str) -> pl.LazyFrame:
        return self.frames[f"{layer}/{table}"]


def gold_target(mart: Mart, inputs: dict[str, pl.DataFrame]) -> Target:
    """`Mart.build` over the partition holding the probe's hours (hourly: those hours) and the one SHIFT
    later, so that rows a perturbation moves in time land in a partition that is built."""
    windows = [_partition(mart, START), _partition(mart, START + SHIFT)]

    def run(frames: dict[str, pl.LazyFrame]) -> pl.DataFrame:
        lake = _Frames(frames)
        return pl.concat([mart.build(lake, start, end) for start, end in windows])  # type: ignore[arg-type]

    return Target(f"gold/{mart.name}", inputs, run, (tuple(mart.module.KEY),), grouped=True)


def _partition(mart: Mart, moment: datetime) -> tuple[datetime, datetime]:
    if mart.cadence == "hourly":
        return moment, moment + timedelta(hours=HOURS)
    start = moment.replace(hour=0)
    start -= timedelta(days=start.weekday() if mart.cadence == "weekly" else 0)
    return start, start + mart.step


def sample_gaps(silver: dict[str, pl.DataFrame], bronze: dict[str, pl.DataFrame]) -> list[str]:
    """What the sample lacks for every path of the code to run: a silver row of every event type, both
    values of every boolean field, and payloads both as JSON text and as Parquet structs (telemetry arrives
    as JSON text only in the legacy gateway's hours)."""
    gaps = []
    for table in SILVER_TABLES:
        frame = silver[f"silver/{table.name}"]
        gaps += [f"a {t} event" for t in table.full_types if t not in frame["event_type"]]
        booleans = [c for c, dtype in frame.schema.items() if dtype == pl.Boolean]
        gaps += [f"both values of {table.name}.{c}" for c in booleans if frame[c].drop_nulls().n_unique() < 2]
    for name, frame in bronze.items():
        payload = [c for c in PAYLOAD_COLUMNS if c in frame.columns]
        gaps += [f"a value in {name}.{c}" for c in payload if frame[c].null_count() == frame.height]
    return gaps


def as_json(deps: Deps) -> dict[str, list[list[str]]]:
    return {column: [list(dep) for dep in sorted(found)] for column, found in sorted(deps.items())}
