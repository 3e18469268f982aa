"""Column descriptions: the lineage the open-source UI shows. Every column of every asset says what it means
and where it comes from, its sources named as `layer/table.column` exactly as the lineage model has them."""

import dagster as dg
import polars as pl
import pytest

from mobility_lake.columns import table_schema
from mobility_lake.definitions import build_definitions
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.gdpr.sealing import mask
from mobility_lake.gold.marts import MARTS
from mobility_lake.lineage.model import table_deps
from mobility_lake.settings import load_settings
from mobility_lake.silver.assets import silver_key
from mobility_lake.silver.meanings import silver_meanings
from mobility_lake.silver.tables import SILVER_BY_NAME
from mobility_lake.silver.transforms import silver_columns

SOURCES = ". From: "


@pytest.fixture(scope="module")
def specs() -> dict[dg.AssetKey, dg.AssetSpec]:
    """Every asset that is a table: the maintenance asset is a pass over the tables, with no columns."""
    found = build_definitions(load_settings({})).resolve_all_asset_specs()
    return {spec.key: spec for spec in found if spec.key.path[0] != "maintenance"}


def described(spec: dg.AssetSpec) -> dict[str, str]:
    return {c.name: c.description or "" for c in spec.metadata["dagster/column_schema"].columns}


def named_sources(description: str) -> set[str]:
    _, found, sources = description.rpartition(SOURCES)
    return set(sources.split(", ")) if found else set()


def test_every_column_of_every_asset_has_a_description(specs):
    layers = {key.path[0] for key in specs}
    undescribed = [
        f"{key.to_user_string()}.{column}"
        for key, spec in specs.items()
        for column, description in described(spec).items()
        if not description.strip()
    ]
    assert layers == {"landing", "bronze", "silver", "gold", "audit"}
    assert not undescribed, f"columns without a description: {undescribed}"


def test_descriptions_name_exactly_the_upstream_columns_of_the_lineage_model(specs):
    wrong = []
    for key, spec in specs.items():
        if key.path[0] == "landing":
            continue
        deps = table_deps(key.to_user_string()) or {}
        for column, description in described(spec).items():
            expected = {f"{asset}.{name}" for asset, name in deps.get(column, [])}
            if named_sources(description) != expected:
                wrong.append(f"{key.to_user_string()}.{column}")
    assert not wrong, f"descriptions whose sources differ from the lineage model: {wrong}"


def test_landing_assets_are_named_for_their_bronze_table_and_keep_their_topic(specs):
    landing = {key for key in specs if key.path[0] == "landing"}
    assert landing == {dg.AssetKey(["landing", t.bronze_table]) for t in TOPICS}
    for topic in TOPICS:
        spec = specs[dg.AssetKey(["landing", topic.bronze_table])]
        assert spec.metadata["topic"] == topic.name
        assert f"`{topic.name}`" in (spec.description or "")
        assert all(d.endswith(f"From: Kafka topic {topic.name}") for d in described(spec).values())
        bronze = specs[dg.AssetKey(["bronze", topic.bronze_table])]
        assert [dep.asset_key for dep in bronze.deps] == [spec.key]


def test_booking_events_says_it_reads_domain_events(specs):
    description = specs[dg.AssetKey(["silver", "booking_events"])].description or ""
    assert "bronze/domain_events" in description and "domain.events" in description


def test_a_silver_column_without_a_meaning_fails_naming_it():
    table = SILVER_BY_NAME["booking_events"]
    columns = silver_columns(table) | {"surge_factor": pl.Float64()}
    with pytest.raises(ValueError, match=r"no meaning for silver/booking_events\.surge_factor:"):
        table_schema(silver_key(table), columns, silver_meanings(table))


def test_gold_columns_from_no_silver_column_are_set_from_the_partition():
    """What their description says of them ("Set from the partition being built")."""
    for mart in MARTS:
        deps = table_deps(f"gold/{mart.name}") or {}
        unfed = {column for column in mart.module.COLUMNS if not deps.get(column)}
        hourly = ("hour",) if mart.cadence == "hourly" else ()  # an hourly partition is a (date, hour)
        assert unfed <= {*mart.partition_by, *hourly}, mart.name


def test_masked_columns_describe_the_masking_silver_does(specs):
    app_events = described(specs[dg.AssetKey(["silver", "app_events"])])
    key = bytes(32)
    masked = mask(key, "email", "anna.k@example.com"), mask(key, "phone", "+49 30 1234567")
    assert all(len(m) == 24 and int(m, 16) >= 0 for m in masked)
    assert mask(key, "email", " Anna.K@Example.com") == masked[0]
    assert mask(bytes([1]) * 32, "email", "anna.k@example.com") != masked[0]
    assert "24 hex digits of an HMAC" in app_events["email"] and "24 hex digits" in app_events["phone"]
    assert "not masked" in app_events["user_id"]


def test_payload_fields_say_which_event_types_carry_them(specs):
    bookings = described(specs[dg.AssetKey(["silver", "booking_events"])])
    assert "only in booking.completed.v1 events" in bookings["fare_amount"]
    assert "only in booking.created.v1 events; null when not given" in bookings["promo_code"]
    assert "only in" not in bookings["booking_id"]
