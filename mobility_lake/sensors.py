"""The landing sensor: lists the landing zone, and asks for bronze runs of the arrival hours with new files."""

import hashlib

import dagster as dg

from mobility_lake.arrivals import Cursor, hour_ranges, new_files
from mobility_lake.landing import LANDING_PREFIX
from mobility_lake.partitions import HOUR, hour_key
from mobility_lake.resources import LakeResource

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def landing_sensor(partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_sensor",
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=dg.AssetSelection.groups("bronze"),
        description="Requests bronze runs for exactly the arrival hours that received new landing files.",
    )
    def _sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.SensorResult:
        listing = list(lake.lake().list_files(LANDING_PREFIX))
        fresh, cursor = new_files(listing, Cursor.parse(context.cursor))
        requests = []
        outside = 0
        for hours in hour_ranges(fresh):
            first, last = hour_key(hours.start), hour_key(hours.end - HOUR)
            if not (partitions_def.has_partition_key(first) and partitions_def.has_partition_key(last)):
                outside += 1
                continue
            run_key = hashlib.sha256(
                "\n".join(f.key for f in fresh if hours.start <= f.hour < hours.end).encode()
            ).hexdigest()[:32]
            tags = {RANGE_START_TAG: first, RANGE_END_TAG: last} if first != last else {}
            requests.append(
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=[dg.AssetKey(["bronze", t]) for t in hours.tables],
                    partition_key=first if first == last else None,
                    tags=tags,
                )
            )
        if outside:
            context.log.warning(f"{outside} range(s) of new files lie outside the partitions; run them by hand")
        context.log.info(f"{len(listing)} landing files listed, {len(fresh)} new, {len(requests)} run(s) requested")
        return dg.SensorResult(run_requests=requests, cursor=cursor.serialize())

    return _sensor
