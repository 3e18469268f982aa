"""Composes the lake's Dagster definitions from settings; nothing else lives here."""

import dagster as dg

from mobility_lake.bronze.assets import bronze_assets, landing_specs
from mobility_lake.partitions import hourly_partitions
from mobility_lake.resources import LakeResource, QualityPolicy
from mobility_lake.sensors import landing_sensor, silver_sensor
from mobility_lake.settings import Settings, load_settings
from mobility_lake.silver.assets import silver_assets

BRONZE_JOB = "bronze_hourly"
SILVER_JOB = "silver_hourly"


def build_definitions(settings: Settings, quality: QualityPolicy | None = None) -> dg.Definitions:
    hourly = hourly_partitions(settings)
    return dg.Definitions(
        assets=[*landing_specs(), *bronze_assets(hourly), *silver_assets(hourly)],
        jobs=[
            dg.define_asset_job(BRONZE_JOB, selection=dg.AssetSelection.groups("bronze")),
            dg.define_asset_job(SILVER_JOB, selection=dg.AssetSelection.groups("silver")),
        ],
        sensors=[landing_sensor(hourly), silver_sensor(hourly, settings.lateness_hours)],
        resources={
            "lake": LakeResource.from_settings(settings),
            "quality_policy": quality or QualityPolicy(),
        },
    )


defs = build_definitions(load_settings())
