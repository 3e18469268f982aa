"""The Dagster side of the lake: resources, per-partition reports, retries, sensors, automation and runs."""
