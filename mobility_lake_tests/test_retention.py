"""Retention per layer (CONTRACT §7) over hours that span more than bronze's 90 days, driven by `--now`."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pyrage
import pytest

from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.cli import main
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gold.assets import gold_assets
from mobility_lake.gold.marts import MARTS
from mobility_lake.lake_lock import acquire, release
from mobility_lake.orchestration.jobs import gold_partitions
from mobility_lake.orchestration.resources import LakeResource
from mobility_lake.orchestration.retention_run import retain, retention_job, retention_schedule
from mobility_lake.settings import load_settings
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

OLD = datetime(2026, 1, 5, 10, tzinfo=UTC)  # two hours here ...
RECENT = OLD + timedelta(days=100)  # ... and two here
HOURS = [OLD, OLD + timedelta(hours=1), RECENT, RECENT + timedelta(hours=1)]
FIRST = OLD - timedelta(days=1)
GOLD = ("demand_by_zone_hour", "vehicle_utilization_daily")
DAY = timedelta(days=1)


def build(lake: Lake) -> None:
    for start in (OLD, RECENT):
        simulate(lake, start, 2, vehicles=10, seed=3, defects=DefectShares(malformed=0.05, out_of_range=0.03))
    bronze_and_silver(lake, HOURS, FIRST)
    for mart in (m for m in MARTS if m.name in GOLD):
        for hour in HOURS:
            start = hour if mart.cadence == "hourly" else hour.replace(hour=0)
            rows = mart.build(lake, start, start + mart.step)
            lake.replace_where(
                "gold", mart.name, rows, mart.rows_of(start), partition_by=list(mart.partition_by)
            )


def silver_hour(lake: Lake, hour: datetime) -> None:
    for table in SILVER_TABLES:
        materialize_hour(lake, table, hour, FIRST, reference_data())


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    lake = Lake(load_settings())
    build(lake)
    return lake


def retention(capsys, *args: str) -> tuple[int, str]:
    code = main(["retention", *args])
    return code, capsys.readouterr().out


def versions(lake: Lake) -> dict[str, int]:
    found = {}
    for layer in ("bronze", "archive", "silver", "quarantine", "gold"):
        for path in sorted(Path(lake.root, layer).glob("*")):
            found[f"{layer}.{path.name}"] = lake.delta_table(layer, path.name).version()
    return found


def landed(lake: Lake, layer: str, table: str) -> pl.DataFrame:
    frame = lake.read(layer, table)
    return frame.select("landing_file", "record_number", "arrival_hour") if frame.height else frame


def data_files(lake: Lake, layer: str, partition: str) -> list[Path]:
    """Parquet files on disk under every table of `layer` in the partition directory `partition`."""
    return [p for p in Path(lake.root, layer).glob(f"*/{partition}/*.parquet")]


def test_retention_moves_old_bronze_to_the_archive_and_deletes_old_partitions(lake, capsys):
    old_day, recent_day = OLD.date().isoformat(), RECENT.date().isoformat()
    bronze_before = {t.bronze_table: landed(lake, "bronze", t.bronze_table) for t in TOPICS}
    silver_before = {t.name: lake.read("silver", t.name) for t in SILVER_TABLES}
    assert lake.read("quarantine", "vehicle_telemetry").filter(pl.col("partition_hour") < RECENT).height > 0
    now = RECENT + timedelta(hours=3)  # the OLD hours are 100 days old: past bronze's 90

    # a dry run says what would move and changes nothing
    before = versions(lake)
    code, out = retention(capsys, "--now", now.strftime("%Y-%m-%dT%H:%M"), "--dry-run")
    assert code == 0 and "dry run" in out and "would move" in out and old_day in out
    assert versions(lake) == before and not Path(lake.root, "archive").exists()

    # bronze's old hours move: in the archive, not in bronze, not one row more or less
    code, out = retention(capsys, "--now", now.strftime("%Y-%m-%dT%H:%M"))
    assert code == 0 and "archived" in out
    for topic in TOPICS:
        name = topic.bronze_table
        bronze, archive = landed(lake, "bronze", name), landed(lake, "archive", name)
        assert archive.height == bronze_before[name].filter(pl.col("arrival_hour") < RECENT).height > 0
        assert bronze["arrival_hour"].min() >= RECENT
        assert pl.concat([bronze, archive]).sort(pl.all()).equals(bronze_before[name].sort(pl.all()))
    assert data_files(lake, "bronze", f"arrival_date={old_day}") == []
    archived = data_files(lake, "archive", f"arrival_date={old_day}")
    assert archived and all(
        pq.ParquetFile(p).metadata.row_group(0).column(0).compression == "ZSTD" for p in archived
    )
    assert all(t.height for t in silver_before.values())  # silver and gold are far from theirs

    # a second pass changes nothing
    before = versions(lake)
    code, out = retention(capsys, "--now", now.strftime("%Y-%m-%dT%H:%M"))
    assert code == 0 and "nothing is past its retention" in out and versions(lake) == before

    # an archived hour is not ingested again, and its silver hour is rebuilt from the archive
    for topic in TOPICS:
        again = ingest_hours(lake, topic.bronze_table, [OLD])
        assert again.files_added == 0 and again.files_already_ingested > 0
    silver_hour(lake, OLD)
    for table in SILVER_TABLES:
        again = lake.read("silver", table.name)
        assert again.sort("event_source", "event_id").equals(
            silver_before[table.name].sort("event_source", "event_id")
        )

    # two years on: silver and quarantine of the OLD day are deleted, from the table and from disk
    # (the re-run above left replaced files of that day, which go too); gold stays for five years
    later = OLD + timedelta(days=740)
    code, out = retention(capsys, "--now", later.strftime("%Y-%m-%dT%H:%M"))
    assert code == 0
    for table in SILVER_TABLES:
        assert lake.read("silver", table.name)["date"].min() == RECENT.date()
        assert lake.read("quarantine", table.name).filter(pl.col("partition_hour") < RECENT).height == 0
    assert data_files(lake, "silver", f"date={old_day}") == []
    assert data_files(lake, "quarantine", f"partition_date={old_day}") == []
    assert data_files(lake, "silver", f"date={recent_day}")
    for name in GOLD:
        assert lake.read("gold", name).filter(pl.col("date") == OLD.date()).height > 0

    # five years on: the OLD day's gold partitions go, the RECENT ones stay
    latest = OLD + timedelta(days=1830)
    code, out = retention(capsys, "--now", latest.strftime("%Y-%m-%dT%H:%M"))
    assert code == 0 and "gold.demand_by_zone_hour: deleted" in out
    for name in GOLD:
        days = set(lake.read("gold", name)["date"].to_list())
        assert OLD.date() not in days and RECENT.date() in days
        assert data_files(lake, "gold", f"date={old_day}") == []
    before = versions(lake)
    assert "nothing is past its retention" in retention(capsys, "--now", latest.strftime("%Y-%m-%dT%H:%M"))[1]
    assert versions(lake) == before


def test_audit_days_past_their_retention_are_deleted(lake, capsys, monkeypatch):
    monkeypatch.setenv("MOBILITY_LAKE_ROLE", "admin")
    assert main(["query", "select count(*) from gold.demand_by_zone_hour"]) == 0
    first = lake.read("audit", "query_log")
    assert first.height == 1
    files_before = data_files(lake, "audit", f"date={first['date'][0]}")
    monkeypatch.setenv("MOBILITY_LAKE_RETENTION_DAYS", "audit=1")
    now = first["time"][0].replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    code, out = retention(capsys, "--now", now.strftime("%Y-%m-%dT%H:%M"))
    assert code == 0 and "audit.query_log: deleted 1 row(s)" in out
    log = lake.read("audit", "query_log")
    assert log["action"].to_list() == ["retention"]  # the pass itself, recorded after it ran
    assert files_before and not any(p.exists() for p in files_before)


def test_hours_a_run_in_progress_covers_are_left_alone(lake, capsys):
    instance = dg.DagsterInstance.ephemeral()
    instance.create_run_for_job(
        retention_job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": OLD.strftime("%Y-%m-%d-%H:%M")},
    )
    report = retain(lake, instance, RECENT + timedelta(days=200), False, lambda _: None)
    assert report.held_back == OLD and report.changes == []
    assert lake.delta_table("archive", "weather") is None
    assert lake.read("bronze", "weather")["arrival_hour"].min() == OLD


def test_retention_waits_for_no_one_but_refuses_while_the_lake_is_held(lake, capsys):
    acquire(lake, "erasure-held-by-a-test")
    try:
        code = main(["retention", "--now", "2027-01-01T00:00"])
        err = capsys.readouterr().err
        assert code == 1 and "erasure-held-by-a-test holds the lake" in err and err.count("\n") == 1
    finally:
        release(lake, "erasure-held-by-a-test")
    assert lake.delta_table("archive", "weather") is None


def test_the_daily_schedule_runs_the_same_retention_as_of_its_tick(lake):
    tick = RECENT + timedelta(hours=3)
    request = retention_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    result = retention_job.execute_in_process(
        run_config=request.run_config,
        resources={"lake": LakeResource(root=lake.root, lateness_hours=72)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    archived = sum(lake.read("archive", t.bronze_table).height for t in TOPICS)
    assert archived > 0 and lake.read("bronze", "weather")["arrival_hour"].min() >= RECENT
    observed = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert observed and lake.read("audit", "query_log")["action"].to_list() == ["retention"]


def test_bronze_keeps_its_rows_when_the_archive_cannot_be_written(lake, capsys):
    """Never deletes bronze that is not in the archive: a file where the archive table should be makes
    its write fail, and the command says so in one line."""
    Path(lake.root, "archive").mkdir()
    Path(lake.root, "archive", "weather").write_text("not a table")
    before = landed(lake, "bronze", "weather")
    code = main(["retention", "--now", (RECENT + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("error: mobility-lake retention: archive.weather: writing")
    assert landed(lake, "bronze", "weather").sort(pl.all()).equals(before.sort(pl.all()))
    assert before.filter(pl.col("arrival_hour") < RECENT).height > 0


def test_an_export_still_finds_a_subjects_archived_events(lake, capsys, tmp_path):
    """Archived bronze is still data the lake holds about a subject."""
    old_users = lake.read("silver", "booking_events").filter(pl.col("event_time") < RECENT)["user_id"]
    user = old_users.drop_nulls().mode().sort()[0]
    retention(capsys, "--now", (RECENT + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    assert lake.read("bronze", "domain_events")["arrival_hour"].min() >= RECENT
    identity = pyrage.x25519.Identity.generate()
    out = tmp_path / "export.age"
    args = ["gdpr", "export", "--user-id", user, "--recipient", str(identity.to_public()), "--out", str(out)]
    assert main(args) == 0
    records = json.loads(pyrage.decrypt(out.read_bytes(), [identity]))["records"]
    old_events = set(
        lake.read("silver", "booking_events").filter(
            (pl.col("user_id") == user) & (pl.col("event_time") < RECENT)
        )["event_id"]
    )
    exported = {r["event_id"] for r in records if r["layer"] == "bronze"}
    assert old_events and old_events <= exported


def test_gold_keeps_a_partition_whose_silver_is_past_its_retention(lake, capsys, monkeypatch):
    """Gold keeps five years, silver two: re-running an old gold partition must not rebuild it from the
    nothing silver holds for it then."""
    monkeypatch.setenv("MOBILITY_LAKE_RETENTION_DAYS", "silver=60")
    today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert retention(capsys, "--now", today.strftime("%Y-%m-%dT%H:%M"))[0] == 0
    assert lake.read("silver", "booking_events").height == 0
    demand = lake.read("gold", "demand_by_zone_hour").sort(pl.all())
    assert demand.filter(pl.col("date") == OLD.date()).height > 0
    settings = load_settings()
    asset = next(a for a in gold_assets(gold_partitions(settings)) if a.key.path[-1] == "demand_by_zone_hour")
    result = dg.materialize(
        [asset],
        partition_key=OLD.strftime("%Y-%m-%d-%H:%M"),
        resources={"lake": LakeResource.from_settings(settings)},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    metadata = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    assert metadata["kept_past_silver_retention"].value > 0 and metadata["rows_written"].value == 0
    assert lake.read("gold", "demand_by_zone_hour").sort(pl.all()).equals(demand)


@pytest.mark.s3
def test_roles_audit_and_retention_on_s3(s3_env, tmp_path, monkeypatch, capsys):
    """The closed engine reads S3-backed tables; the audit log, the archive and the removal of files work
    against a real S3 server."""
    for name, value in {**s3_env, "DAGSTER_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    lake = Lake(load_settings())
    assert lake.settings.is_s3
    build(lake)
    stored = lake.read("silver", "app_events")["email"].drop_nulls()
    assert stored.len() > 0
    assert (
        main(
            [
                "query",
                "--role",
                "ml_engineer",
                "--format",
                "json",
                "select email from silver.app_events where email is not null",
            ]
        )
        == 0
    )
    assert set(json.loads(capsys.readouterr().out)[i]["email"] for i in range(stored.len())) == {"[masked]"}
    assert main(["query", "--role", "analyst", "select * from silver.app_events"]) == 1
    assert (
        main(
            [
                "query",
                "--role",
                "admin",
                f"select * from read_parquet('{lake.root}/silver/app_events/*/*.parquet')",
            ]
        )
        == 1
    )
    capsys.readouterr()
    outcomes = lake.read("audit", "query_log").sort("time")["outcome"].to_list()
    assert outcomes == ["ok", "denied", "refused"]

    before = {t.bronze_table: landed(lake, "bronze", t.bronze_table) for t in TOPICS}
    old_day = OLD.date().isoformat()
    old_files = [f.key for f in lake.list_files("bronze") if f"/arrival_date={old_day}/" in f.key]
    assert old_files
    code, out = retention(capsys, "--now", (RECENT + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    assert code == 0 and "archived" in out
    for topic in TOPICS:
        name = topic.bronze_table
        both = pl.concat([landed(lake, "bronze", name), landed(lake, "archive", name)])
        assert both.sort(pl.all()).equals(before[name].sort(pl.all()))
    assert not [f.key for f in lake.list_files("bronze") if f"/arrival_date={old_day}/" in f.key]
    assert [f.key for f in lake.list_files("archive") if f"/arrival_date={old_day}/" in f.key]
    assert (
        "nothing is past its retention"
        in retention(capsys, "--now", (RECENT + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))[1]
    )
