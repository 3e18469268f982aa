"""Peer engines for the pipeline benchmark: the project's telemetry hour, bronze to gold, done by others.

Every peer reads the same landing Parquet and writes the same three stages as zstd Parquet under a work
directory, applying the project's silver rules in the project's order, so its time and memory compare
with the project's on equal work:

- bronze: every landing row and column, plus `landing_file` (file name), `record_number` (1-based within
  the file) and `event_hour`;
- silver: redelivered copies removed (first by landing_file, record_number), each row checked against the
  rules of `silver/validate.py` and `silver/rules.py` (the first failing rule wins; failures go to
  quarantine), the payload flattened, zone and battery status added;
- gold: fleet per zone, vehicle type and hour, and battery per vehicle and day.

Zones are an equi-join on a 0.001-degree grid that `zone_grid` builds once with the project's exact
point-in-polygon code: a point takes the zone of its cell's centre. All peers share that approximation,
which differs from the project only for points near a zone's edge. The arrival-hour rules of the envelope
(`time_in_future`, `before_first_partition`) are left out: a peer knows no arrival hour.

The duckdb and spark peers run the same SQL; the pandas peer applies the same rule table.

    python benchmarks/peers.py ENGINE LANDING_DIR WORK_DIR GRID_PATH   # prints the counts as JSON
"""

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobility_lake.events.catalogue import (
    SPEC_VERSION,
    TELEMETRY,
    TYPE_PREFIX,
    VEHICLE_STATUSES,
    VEHICLE_TYPES,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from pyspark.sql import DataFrame

EVENT_TYPE = TYPE_PREFIX + "vehicle.telemetry.v1"
FIELDS = tuple(TELEMETRY)
FLOAT_FIELDS = tuple(name for name, dtype in TELEMETRY.items() if dtype.is_float())
CELLS_PER_DEGREE = 1000
# Character classes, not \d: Spark SQL string literals drop a backslash. RFC 3339 as parse_event_time
# reads it: `T`, `t` or a space between date and time, `Z`, `z` or a +HH:MM offset.
RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
VEHICLE_ID = r"^[A-Z]{2}[0-9]{6}$"  # rules.VEHICLE_ID, ^[A-Z]{2}\d{6}$
BATTERY_STATUS = ((10, "critical"), (30, "low"), (70, "medium"))  # below each bound; "good" above
GOLD = ("fleet_per_hour", "vehicle_battery_daily")


@dataclass(frozen=True)
class Rule:
    """A silver rule as the project names it; a row fails it when `column` passes `test` (with `arg`).

    Tests: null, blank (null or only spaces), differs (null or not `arg`), empty (""), not_finite (NaN or
    infinite), unmatched (not the regex `arg`), not_in (not one of `arg`), outside (`arg` = low, high or
    None, both inclusive).
    """

    name: str
    reason: str
    column: str
    test: str
    arg: object = None


CHECKS: dict[str, tuple[str, object, str, str]] = {  # field -> test, arg, project check name, reason
    "vehicle_id": ("unmatched", VEHICLE_ID, r"str_matches('^[A-Z]{2}\d{6}$')", "invalid_format"),
    "vehicle_type": ("not_in", VEHICLE_TYPES, "isin", "not_allowed"),
    "city": ("empty", None, "str_length(1, None)", "empty_value"),
    "latitude": ("outside", (-90, 90), "in_range(-90, 90)", "out_of_range"),
    "longitude": ("outside", (-180, 180), "in_range(-180, 180)", "out_of_range"),
    "battery_level": ("outside", (0, 100), "in_range(0, 100)", "out_of_range"),
    "speed_kmh": ("outside", (0, None), "greater_than_or_equal_to(0)", "out_of_range"),
    "odometer_km": ("outside", (0, None), "greater_than_or_equal_to(0)", "out_of_range"),
    "status": ("not_in", VEHICLE_STATUSES, "isin", "not_allowed"),
}


def _field_rules(field: str) -> list[Rule]:
    rules = [Rule(f"payload.{field}.not_nullable", "missing_field", field, "null")]
    if field in CHECKS:
        test, arg, check, reason = CHECKS[field]
        rules.append(Rule(f"payload.{field}.{check}", reason, field, test, arg))
    return rules


# The project's order: envelope, then unreadable floats, then each field's checks in contract order.
RULES: tuple[Rule, ...] = (
    Rule("envelope.specversion", "unsupported_specversion", "specversion", "differs", SPEC_VERSION),
    Rule("envelope.id", "missing_id", "id", "blank"),
    Rule("envelope.source", "missing_source", "source", "blank"),
    Rule("envelope.type", "missing_type", "type", "blank"),
    Rule("envelope.type", "unknown_type", "type", "differs", EVENT_TYPE),
    Rule("envelope.time", "missing_time", "time", "blank"),
    Rule("envelope.time", "invalid_time", "event_time", "null"),
    Rule("envelope.data", "missing_data", "data", "null"),
    *(Rule(f"payload.{field}.type", "invalid_type", field, "not_finite") for field in FLOAT_FIELDS),
    *(rule for field in FIELDS for rule in _field_rules(field)),
)
RULE_ROWS = [(number, rule.name, rule.reason) for number, rule in enumerate(RULES, 1)]


def zone_grid(path: str) -> None:
    """Write (cell_lat, cell_lon, zone_id, zone_name) of every 0.001-degree cell whose centre lies in a
    zone's box and in a zone, located with the project's own `assign_zones` at the cell centre."""
    import numpy as np
    import polars as pl

    from mobility_lake.silver.zones import assign_zones, load_zones

    zones = load_zones()
    cells = []
    for box in zones.boxes:
        min_lon, min_lat, max_lon, max_lat = (float(v) * CELLS_PER_DEGREE - 0.5 for v in box)
        lat = np.arange(math.floor(min_lat), math.ceil(max_lat) + 1)  # a cell more each side, then exact
        lon = np.arange(math.floor(min_lon), math.ceil(max_lon) + 1)
        grid = pl.DataFrame({"cell_lat": np.repeat(lat, len(lon)), "cell_lon": np.tile(lon, len(lat))})
        centre_lat = (pl.col("cell_lat") + 0.5) / CELLS_PER_DEGREE
        centre_lon = (pl.col("cell_lon") + 0.5) / CELLS_PER_DEGREE
        cells.append(
            grid.with_columns(centre_lat.alias("lat"), centre_lon.alias("lon")).filter(
                pl.col("lat").is_between(box[1], box[3]), pl.col("lon").is_between(box[0], box[2])
            )
        )
    centres = pl.concat(cells).unique(["cell_lat", "cell_lon"]).sort("cell_lat", "cell_lon")
    located = assign_zones(centres, "lat", "lon", zones).drop_nulls("zone_id")
    located.select("cell_lat", "cell_lon", "zone_id", "zone_name").write_parquet(path)


# --- SQL shared by duckdb and spark: tables bronze, zone_grid, rules (RULE_ROWS), judged, silver ---------


def _literal(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _sql_condition(rule: Rule) -> str:
    column, arg = rule.column, rule.arg
    match rule.test:
        case "null":
            return f"{column} IS NULL"
        case "blank":
            return f"{column} IS NULL OR trim({column}) = ''"
        case "differs":
            return f"{column} IS NULL OR {column} <> {_literal(arg)}"
        case "empty":
            return f"{column} = ''"
        case "not_finite":
            return f"isnan({column}) OR abs({column}) = CAST('Infinity' AS DOUBLE)"
        case "unmatched":
            return f"NOT regexp_like({column}, {_literal(arg)})"
        case "not_in":
            return f"{column} NOT IN ({', '.join(map(_literal, arg))})"
        case "outside":
            low, high = arg
            return f"{column} < {low}" + ("" if high is None else f" OR {column} > {high}")
    raise ValueError(f"unknown test {rule.test!r}")


def _event_time_sql(column: str, timestamp: str) -> str:
    """RFC 3339 text to a UTC timestamp, null otherwise (the session time zone is UTC)."""
    return f"CASE WHEN regexp_like({column}, '{RFC3339}') THEN try_cast(upper({column}) AS {timestamp}) END"


ENVELOPE = ("event_id", "event_source", "event_type", "event_time", "event_subject")
LINEAGE = ("landing_file", "record_number")
JUDGED_COLUMNS = (*ENVELOPE, *FIELDS, *LINEAGE, "rule_no")
SILVER_COLUMNS = (*ENVELOPE, *FIELDS, "zone_id", "zone_name", "battery_status", "date", "hour", *LINEAGE)
QUARANTINE_COLUMNS = (*ENVELOPE[:4], "rule", "reason", *LINEAGE)


def _judged_sql(timestamp: str) -> str:
    """Bronze without redelivered copies, flattened, each row with its first failing rule (null: none)."""
    payload = ", ".join(f"data.{field} AS {field}" for field in FIELDS)
    cases = " ".join(f"WHEN {_sql_condition(rule)} THEN {number}" for number, rule in enumerate(RULES, 1))
    return f"""
        SELECT {", ".join(JUDGED_COLUMNS)} FROM (
            SELECT id AS event_id, source AS event_source, type AS event_type, event_time,
                subject AS event_subject, {", ".join(FIELDS)}, landing_file, record_number,
                CASE {cases} END AS rule_no,
                row_number() OVER (PARTITION BY source, id ORDER BY landing_file, record_number) AS copy_number
            FROM (SELECT *, {_event_time_sql("time", timestamp)} AS event_time, {payload} FROM bronze)
        )
        WHERE copy_number = 1 OR event_source IS NULL OR event_id IS NULL
    """


def _cell(column: str) -> str:
    return f"CAST(floor(j.{column} * {CELLS_PER_DEGREE}) AS BIGINT)"


_BATTERY_CASES = " ".join(f"WHEN j.battery_level < {bound} THEN '{name}'" for bound, name in BATTERY_STATUS)
SILVER_SQL = f"""
    SELECT j.event_id, j.event_source, j.event_type, j.event_time, j.event_subject,
        {", ".join(f"j.{field}" for field in FIELDS)}, g.zone_id, g.zone_name,
        CASE {_BATTERY_CASES} ELSE 'good' END AS battery_status,
        CAST(j.event_time AS DATE) AS date, CAST(hour(j.event_time) AS TINYINT) AS hour,
        j.landing_file, j.record_number
    FROM judged AS j LEFT JOIN zone_grid AS g
        ON g.cell_lat = {_cell("latitude")} AND g.cell_lon = {_cell("longitude")}
    WHERE j.rule_no IS NULL
"""
QUARANTINE_SQL = """
    SELECT j.event_id, j.event_source, j.event_type, j.event_time, r.rule, r.reason,
        j.landing_file, j.record_number
    FROM judged AS j JOIN rules AS r ON r.rule_no = j.rule_no
"""
# As gold's fleet_per_hour, rows outside every zone are left out of the zone figures.
GOLD_SQL = {
    "fleet_per_hour": """
        SELECT zone_id, vehicle_type, date, hour,
            count(DISTINCT CASE WHEN status = 'available' THEN vehicle_id END) AS available_vehicles,
            avg(battery_level) AS avg_battery_level
        FROM silver WHERE zone_id IS NOT NULL
        GROUP BY zone_id, vehicle_type, date, hour
    """,
    "vehicle_battery_daily": f"""
        SELECT vehicle_id, date, count(*) AS readings, min(battery_level) AS min_battery_level,
            avg(battery_level) AS avg_battery_level, max(battery_level) AS max_battery_level,
            count(CASE WHEN battery_level < {BATTERY_STATUS[0][0]} THEN 1 END) AS readings_below_10
        FROM silver GROUP BY vehicle_id, date
    """,
}


# --- engines ----------------------------------------------------------------------------------------------


def _floor(landing_dir: str, work_dir: str, grid_path: str) -> dict[str, int]:
    """The least any engine can do: read the landing files and write them back."""
    import polars as pl

    out = Path(work_dir, "floor")
    out.mkdir(parents=True, exist_ok=True)
    pl.scan_parquet(f"{landing_dir}/**/*.parquet", hive_partitioning=False).sink_parquet(
        out / "landing.parquet", compression="zstd"
    )
    return {"rows": pl.scan_parquet(out / "landing.parquet").select(pl.len()).collect().item()}


def _duckdb(landing_dir: str, work_dir: str, grid_path: str) -> dict[str, int]:
    """DuckDB in SQL, each stage a COPY; held to 8 GB and 2 threads, spilling under the work dir."""
    import duckdb

    work = Path(work_dir)
    for stage in ("bronze", "silver", "quarantine", "gold"):
        (work / stage).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""
        SET memory_limit = '8GB'; SET threads = 2; SET temp_directory = '{work / "duckdb-tmp"}';
        SET TimeZone = 'UTC'; SET preserve_insertion_order = false;
        CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p);
        CREATE TABLE rules (rule_no INTEGER, rule VARCHAR, reason VARCHAR);
    """)  # row order of the outputs carries nothing: dedupe orders by landing_file, record_number
    con.executemany("INSERT INTO rules VALUES (?, ?, ?)", RULE_ROWS)

    def copy(query: str, path: Path) -> int:
        return con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)").fetchone()[0]

    rows = copy(
        f"""SELECT * EXCLUDE (filename, file_row_number), parse_filename(filename) AS landing_file,
            file_row_number + 1 AS record_number,
            date_trunc('hour', {_event_time_sql("time", "TIMESTAMPTZ")}) AS event_hour
        FROM read_parquet('{landing_dir}/**/*.parquet', filename = true, file_row_number = true,
            hive_partitioning = false)""",
        work / "bronze/bronze.parquet",
    )
    con.execute(f"""
        CREATE VIEW bronze AS SELECT * FROM read_parquet('{work}/bronze/*.parquet');
        CREATE VIEW zone_grid AS SELECT * FROM read_parquet('{grid_path}');
        CREATE TEMP TABLE judged AS {_judged_sql("TIMESTAMPTZ")};
    """)  # judged feeds both silver and quarantine: computed once
    silver_rows = copy(SILVER_SQL, work / "silver/silver.parquet")
    quarantine_rows = copy(QUARANTINE_SQL, work / "quarantine/quarantine.parquet")
    con.execute(
        f"DROP TABLE judged; CREATE VIEW silver AS SELECT * FROM read_parquet('{work}/silver/*.parquet')"
    )
    for name in GOLD:
        copy(GOLD_SQL[name], work / f"gold/{name}.parquet")
    con.close()
    return {"rows": rows, "silver_rows": silver_rows, "quarantine_rows": quarantine_rows}


def _spark(landing_dir: str, work_dir: str, grid_path: str) -> dict[str, int]:
    """Spark local[2] with an 8 GB driver, running the same SQL as duckdb."""
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("peers")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "16")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    work = Path(work_dir)

    def write(frame: "DataFrame", stage: str, files: int | None = None) -> int:
        (frame if files is None else frame.coalesce(files)).write.mode("overwrite").parquet(str(work / stage))
        return spark.read.parquet(str(work / stage)).count()  # from the Parquet footers

    try:
        # recursiveFileLookup: the year=/month=/... folders are not partition columns. `_metadata.row_index`
        # (Spark >= 3.5) is the row's 0-based position in its file, however the file is split into tasks.
        landing = (
            spark.read.option("recursiveFileLookup", "true")
            .option("pathGlobFilter", "*.parquet")
            .parquet(landing_dir)
        )
        bronze = landing.select(
            "*",
            F.col("_metadata.file_name").alias("landing_file"),
            (F.col("_metadata.row_index") + 1).alias("record_number"),
            F.expr(f"date_trunc('hour', {_event_time_sql('time', 'TIMESTAMP')})").alias("event_hour"),
        )
        rows = write(bronze, "bronze")
        spark.read.parquet(str(work / "bronze")).createOrReplaceTempView("bronze")
        spark.read.parquet(grid_path).createOrReplaceTempView("zone_grid")
        spark.createDataFrame(RULE_ROWS, "rule_no INT, rule STRING, reason STRING").createOrReplaceTempView(
            "rules"
        )
        judged = spark.sql(_judged_sql("TIMESTAMP")).persist(StorageLevel.MEMORY_AND_DISK)
        judged.createOrReplaceTempView("judged")  # feeds both silver and quarantine: computed once
        silver_rows = write(spark.sql(SILVER_SQL), "silver")
        quarantine_rows = write(spark.sql(QUARANTINE_SQL), "quarantine", files=1)
        judged.unpersist()
        spark.read.parquet(str(work / "silver")).createOrReplaceTempView("silver")
        for name in GOLD:
            write(spark.sql(GOLD_SQL[name]), f"gold/{name}", files=1)
    finally:
        spark.stop()
    return {"rows": rows, "silver_rows": silver_rows, "quarantine_rows": quarantine_rows}


def _pandas_condition(frame: "pd.DataFrame", rule: Rule) -> "np.ndarray":
    import numpy as np

    column, arg = frame[rule.column], rule.arg
    match rule.test:
        case "null":
            hit = column.isna()
        case "blank":
            hit = column.isna() | column.str.strip(" ").eq("")
        case "differs":
            hit = column.ne(arg).fillna(True)
        case "empty":
            hit = column.eq("")
        case "not_finite":
            return ~np.isfinite(column.to_numpy("float64", na_value=0.0))
        case "unmatched":
            hit = ~column.str.fullmatch(arg)
        case "not_in":
            hit = ~column.isin(arg)
        case "outside":
            low, high = arg
            hit = column.lt(low) if high is None else column.lt(low) | column.gt(high)
        case _:
            raise ValueError(f"unknown test {rule.test!r}")
    return hit.to_numpy(dtype=bool, na_value=False)


def _pandas_event_time(time: "pd.Series") -> "pd.Series":
    """RFC 3339 text to a UTC timestamp, NaT otherwise."""
    import pandas as pd

    rfc3339 = time.str.fullmatch(RFC3339).fillna(False).astype(bool)
    parsed = pd.to_datetime(time.str.upper().where(rfc3339), format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.as_unit("us")


def _pandas(landing_dir: str, work_dir: str, grid_path: str) -> dict[str, int]:
    """pandas on Arrow-backed columns: the payload stays an Arrow struct instead of Python dicts."""
    work = Path(work_dir)
    for stage in ("bronze", "silver", "quarantine", "gold"):
        (work / stage).mkdir(parents=True, exist_ok=True)
    rows = _pandas_bronze(landing_dir, work / "bronze/bronze.parquet")
    silver_rows, quarantine_rows = _pandas_silver(
        work / "bronze/bronze.parquet", grid_path, work / "silver/silver.parquet", work / "quarantine"
    )
    _pandas_gold(work / "silver/silver.parquet", work / "gold")
    return {"rows": rows, "silver_rows": silver_rows, "quarantine_rows": quarantine_rows}


def _pandas_bronze(landing_dir: str, path: Path) -> int:
    """Landing files in name order, as the record numbers and dedupe order need them."""
    import numpy as np
    import pandas as pd

    files = []
    for landing in sorted(Path(landing_dir).rglob("*.parquet")):
        frame = pd.read_parquet(landing, dtype_backend="pyarrow")
        frame["landing_file"] = landing.name
        frame["record_number"] = pd.array(np.arange(1, len(frame) + 1), dtype="int64[pyarrow]")
        files.append(frame)
    bronze = pd.concat(files, ignore_index=True)
    bronze["event_hour"] = _pandas_event_time(bronze["time"]).dt.floor("h")
    bronze.to_parquet(path, compression="zstd", index=False)
    return len(bronze)


def _pandas_silver(bronze_path: Path, grid_path: str, path: Path, quarantine_dir: Path) -> tuple[int, int]:
    """Silver and quarantine rows written; the frames of each step are dropped as soon as used."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    bronze = pd.read_parquet(bronze_path, dtype_backend="pyarrow")
    bronze = bronze.sort_values(list(LINEAGE), kind="stable")
    copies = bronze.duplicated(["source", "id"]) & bronze["source"].notna() & bronze["id"].notna()
    kept = bronze.loc[~copies.to_numpy()].reset_index(drop=True)
    del bronze
    kept = pd.concat([kept, kept["data"].struct.explode()], axis=1)
    kept["event_time"] = _pandas_event_time(kept["time"])
    rule_no = np.select([_pandas_condition(kept, rule) for rule in RULES], range(1, len(RULES) + 1), 0)
    names = {"id": "event_id", "source": "event_source", "type": "event_type", "subject": "event_subject"}
    judged = kept.rename(columns=names)[[*ENVELOPE, *FIELDS, *LINEAGE]]
    del kept

    failed = rule_no > 0
    rules = pd.DataFrame(RULE_ROWS, columns=["rule_no", "rule", "reason"])
    quarantine = judged.loc[failed].assign(rule_no=rule_no[failed]).merge(rules, on="rule_no")
    quarantine[list(QUARANTINE_COLUMNS)].to_parquet(
        quarantine_dir / "quarantine.parquet", compression="zstd", index=False
    )

    silver = judged.loc[~failed]
    del judged
    cells = {
        f"cell_{short}": np.floor(silver[column].to_numpy("float64") * CELLS_PER_DEGREE).astype("int64")
        for short, column in (("lat", "latitude"), ("lon", "longitude"))
    }
    grid = pd.read_parquet(grid_path, dtype_backend="pyarrow").astype(
        {"cell_lat": "int64", "cell_lon": "int64"}
    )
    silver = silver.assign(**cells).merge(grid, on=["cell_lat", "cell_lon"], how="left")
    level = silver["battery_level"].to_numpy("float64")
    status = np.select(
        [level < bound for bound, _ in BATTERY_STATUS], [name for _, name in BATTERY_STATUS], "good"
    )
    silver["battery_status"] = pd.array(status, dtype=pd.ArrowDtype(pa.string()))
    event_time = silver["event_time"].astype(pd.ArrowDtype(pa.timestamp("us", tz="UTC")))
    silver["date"] = event_time.astype(pd.ArrowDtype(pa.date32()))
    silver["hour"] = event_time.dt.hour.astype("int8[pyarrow]")
    silver[list(SILVER_COLUMNS)].to_parquet(path, compression="zstd", index=False)
    return len(silver), len(quarantine)


def _pandas_gold(silver_path: Path, gold_dir: Path) -> None:
    """The gold marts of GOLD_SQL from silver as written."""
    import pandas as pd

    silver = pd.read_parquet(silver_path, dtype_backend="pyarrow")
    zoned = silver.loc[silver["zone_id"].notna()]
    fleet = (
        zoned.assign(available=zoned["vehicle_id"].where(zoned["status"] == "available"))
        .groupby(["zone_id", "vehicle_type", "date", "hour"], observed=True)
        .agg(available_vehicles=("available", "nunique"), avg_battery_level=("battery_level", "mean"))
        .reset_index()
    )
    vehicles = (
        silver.assign(below_10=silver["battery_level"] < BATTERY_STATUS[0][0])
        .groupby(["vehicle_id", "date"], observed=True)
        .agg(
            readings=("battery_level", "size"),
            min_battery_level=("battery_level", "min"),
            avg_battery_level=("battery_level", "mean"),
            max_battery_level=("battery_level", "max"),
            readings_below_10=("below_10", "sum"),
        )
        .reset_index()
    )
    for name, frame in zip(GOLD, (fleet, vehicles), strict=True):
        frame.to_parquet(gold_dir / f"{name}.parquet", compression="zstd", index=False)


ENGINES: dict[str, Callable[[str, str, str], dict[str, int]]] = {
    "floor": _floor,
    "duckdb": _duckdb,
    "spark": _spark,
    "pandas": _pandas,
}


def run_engine(engine: str, landing_dir: str, work_dir: str, grid_path: str) -> dict[str, int]:
    """Run one peer over the landing files under `landing_dir`, writing its stages under `work_dir`.

    Returns the input rows and, except for floor, the silver and quarantine rows written.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    return ENGINES[engine](landing_dir, work_dir, grid_path)


def main() -> None:
    if len(sys.argv) != 5:
        raise SystemExit(f"usage: {sys.argv[0]} ENGINE LANDING_DIR WORK_DIR GRID_PATH")
    print(json.dumps(run_engine(*sys.argv[1:])))


if __name__ == "__main__":
    main()
