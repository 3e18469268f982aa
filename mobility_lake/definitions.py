"""Composes the lake's Dagster definitions from settings; nothing else lives here."""

from datetime import timedelta

import dagster as dg

from mobility_lake.automation import gold_automation_sensor
from mobility_lake.bronze.assets import bronze_assets, landing_specs
from mobility_lake.gold.assets import gold_assets
from mobility_lake.gold.marts import MARTS
from mobility_lake.partitions import (
    daily_partitions,
    gold_hourly_partitions,
    hourly_partitions,
    weekly_partitions,
)
from mobility_lake.resources import LakeResource, QualityPolicy
from mobility_lake.sensors import landing_sensor, silver_sensor
from mobility_lake.settings import Settings, load_settings
from mobility_lake.silver.assets import silver_assets

BRONZE_JOB = "bronze_hourly"
SILVER_JOB = "silver_hourly"
GOLD_JOBS = {"hourly": "gold_hourly", "daily": "gold_daily", "weekly": "gold_weekly"}


def build_definitions(settings: Settings, quality: QualityPolicy | None = None) -> dg.Definitions:
    hourly = hourly_partitions(settings)
    gold_partitions = {
        "hourly": gold_hourly_partitions(settings),
        "daily": daily_partitions(settings),
        "weekly": weekly_partitions(settings),
    }
    gold_jobs = [
        dg.define_asset_job(
            job,
            selection=dg.AssetSelection.assets(*[["gold", m.name] for m in MARTS if m.cadence == cadence]),
        )
        for cadence, job in GOLD_JOBS.items()
    ]
    return dg.Definitions(
        assets=[
            *landing_specs(),
            *bronze_assets(hourly),
            *silver_assets(hourly),
            *gold_assets(gold_partitions, timedelta(hours=settings.lateness_hours)),
        ],
        jobs=[
            dg.define_asset_job(BRONZE_JOB, selection=dg.AssetSelection.groups("bronze")),
            dg.define_asset_job(SILVER_JOB, selection=dg.AssetSelection.groups("silver")),
            *gold_jobs,
        ],
        sensors=[
            landing_sensor(hourly),
            silver_sensor(hourly, settings.lateness_hours),
            gold_automation_sensor(),
        ],
        resources={
            "lake": LakeResource.from_settings(settings),
            "quality_policy": quality or QualityPolicy(),
        },
    )


defs = build_definitions(load_settings())
