"""Composes the lake's Dagster definitions from settings; nothing else lives here."""

import dagster as dg

from mobility_lake.bronze.assets import bronze_assets, landing_specs
from mobility_lake.partitions import hourly_partitions
from mobility_lake.resources import LakeResource
from mobility_lake.sensors import landing_sensor
from mobility_lake.settings import Settings, load_settings

BRONZE_JOB = "bronze_hourly"


def build_definitions(settings: Settings) -> dg.Definitions:
    hourly = hourly_partitions(settings)
    return dg.Definitions(
        assets=[*landing_specs(), *bronze_assets(hourly)],
        jobs=[dg.define_asset_job(BRONZE_JOB, selection=dg.AssetSelection.groups("bronze"))],
        sensors=[landing_sensor(hourly)],
        resources={"lake": LakeResource.from_settings(settings)},
    )


defs = build_definitions(load_settings())
