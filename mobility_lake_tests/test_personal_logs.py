"""No personal data in any Delta log (issue 13): after a materialize, no commit or checkpoint of any table
holds a subject's user_id, e-mail or phone, whose statistics would outlive every rewrite of the files."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
from deltalake import DeltaTable

from mobility_lake.cli import _materialize
from mobility_lake.definitions import build_definitions
from mobility_lake.personal import MAX_STATS_COLUMNS, STATS_COLUMNS_PROPERTY
from mobility_lake.settings import load_settings
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import in_process_runs
from mobility_lake_tests.test_gdpr import landed_events

H = datetime(2026, 3, 10, 8, tzinfo=UTC)


def personal_values(lake: Lake) -> set[str]:
    """Every user_id, e-mail and phone of the landed events (bronze holds them sealed)."""
    return {
        str(event["data"][k])
        for event in landed_events(lake, "landing")
        for k in ("user_id", "email", "phone")
        if event["data"].get(k)
    }


def log_texts(root) -> dict[str, str]:
    """Every file of every table's log as text: commits as they are, checkpoints decoded."""
    texts = {}
    for path in root.glob("*/*/_delta_log/*"):
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            texts[str(path)] = frame.select(pl.all().cast(pl.String, strict=False)).write_ndjson()
        elif path.suffix == ".json":
            texts[str(path)] = path.read_text()
    return texts


def test_no_log_or_checkpoint_holds_a_subjects_data(tmp_path):
    settings = load_settings({"MOBILITY_LAKE_ROOT": str(tmp_path), "MOBILITY_LAKE_START": "2026-03-01-00:00"})
    lake = Lake(settings)
    simulate(lake, H, 2, vehicles=40, seed=11)
    with dg.instance_for_test() as instance:
        defs = build_definitions(settings)
        _materialize(
            settings, H, H + timedelta(hours=2), instance, runs=lambda: in_process_runs(defs, instance)
        )
    tables = sorted({p.parent.parent for p in tmp_path.glob("*/*/_delta_log/*.json")})
    for table in tables:
        DeltaTable(str(table)).create_checkpoint()

    values = personal_values(lake)
    assert len(values) > 20, "the simulated hours hold too few subjects to test"
    assert lake.read("silver", "app_events")["user_id"].is_in(list(values)).any()
    texts = log_texts(tmp_path)
    found = sorted(
        {(path.split("/")[-4], value) for path, text in texts.items() for value in values if value in text}
    )
    assert found == []

    for table in tables:
        configuration = DeltaTable(str(table)).metadata().configuration
        listed = configuration[STATS_COLUMNS_PROPERTY].split(",")
        assert 0 < len(listed) <= MAX_STATS_COLUMNS
        assert not {"user_id", "email", "phone", "data", "raw"} & set(listed), table
