"""Composes the lake's Dagster definitions from settings; nothing else lives here."""

import dagster as dg

from mobility_lake.bronze.assets import bronze_assets, landing_specs
from mobility_lake.gold.assets import gold_assets
from mobility_lake.gold.marts import MARTS
from mobility_lake.governance.assets import audit_query_log
from mobility_lake.orchestration.automation import gold_automation_sensor
from mobility_lake.orchestration.follow_sensors import demand_sensor, silver_sensor
from mobility_lake.orchestration.jobs import (
    BRONZE_JOB,
    GOLD_JOBS,
    JOB_WORK,
    SILVER_JOB,
    gold_partitions,
    work_tags,
)
from mobility_lake.orchestration.landing_sensor import landing_sensor, utc_now
from mobility_lake.orchestration.maintenance_run import delta_tables, maintenance_job, maintenance_schedule
from mobility_lake.orchestration.resources import LakeResource, QualityPolicy
from mobility_lake.orchestration.retention_run import retention_job, retention_schedule
from mobility_lake.partitions import hourly_partitions
from mobility_lake.settings import Settings, load_settings
from mobility_lake.silver.assets import silver_assets

JOB_ASSETS = {
    BRONZE_JOB: dg.AssetSelection.groups("bronze"),
    SILVER_JOB: dg.AssetSelection.groups("silver"),
    **{
        job: dg.AssetSelection.assets(*[["gold", m.name] for m in MARTS if m.cadence == cadence])
        for cadence, job in GOLD_JOBS.items()
    },
}


def build_definitions(settings: Settings, clock=utc_now) -> dg.Definitions:
    hourly = hourly_partitions(settings)
    assets = [
        *landing_specs(),
        *bronze_assets(hourly),
        *silver_assets(hourly),
        *gold_assets(gold_partitions(settings)),
        audit_query_log,
        delta_tables,
    ]
    keys_by_job = {
        job: sorted(selection.resolve([a for a in assets if isinstance(a, dg.AssetsDefinition)]))
        for job, selection in JOB_ASSETS.items()
    }
    return dg.Definitions(
        assets=assets,
        jobs=[
            *(
                dg.define_asset_job(job, selection=selection, tags=work_tags(JOB_WORK[job]))
                for job, selection in JOB_ASSETS.items()
            ),
            retention_job,
            maintenance_job,
        ],
        schedules=[retention_schedule, maintenance_schedule],
        sensors=[
            landing_sensor(hourly, settings.lateness_hours, keys_by_job, clock),
            silver_sensor(hourly, settings.lateness_hours, keys_by_job, clock),
            demand_sensor(settings.lateness_hours, keys_by_job, clock),
            gold_automation_sensor(),
        ],
        resources={
            "lake": LakeResource.from_settings(settings),
            "quality_policy": QualityPolicy.from_settings(settings),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions(load_settings())
