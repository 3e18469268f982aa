"""A lake built by the pipeline's core functions, without Dagster runs: for tests about what reads tables."""

from datetime import datetime

from mobility_lake.bronze.ingest import ingest_hours
from mobility_lake.events.catalogue import TOPICS
from mobility_lake.silver.pipeline import materialize_hour, reference_data
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.storage import Lake


def bronze_and_silver(lake: Lake, hours: list[datetime], first_hour: datetime) -> None:
    """Ingest every topic's landed `hours` into bronze, then build each silver table's hours."""
    for topic in TOPICS:
        ingest_hours(lake, topic.bronze_table, hours)
    reference = reference_data()
    for hour in hours:
        for table in SILVER_TABLES:
            materialize_hour(lake, table, hour, first_hour, reference)
