"""Runs of the code location's jobs inside the test process, for tests of what runs leave behind (the
package itself only launches runs through the code location, `orchestration/runs.py`)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import dagster as dg

from mobility_lake.orchestration.runs import RunOnce, range_tags


def run_in_process(
    defs: dg.Definitions,
    job: str,
    start: datetime,
    end: datetime,
    instance: dg.DagsterInstance,
    **resources: dict,
) -> dg.ExecuteInProcessResult:
    """One run of `job` over [start, end); `resources` override resource config, e.g. quality_policy={...}."""
    job_def = defs.resolve_job_def(job)
    return job_def.execute_in_process(
        instance=instance,
        tags=range_tags(job_def.partitions_def, start, end),
        run_config={"resources": {name: {"config": config} for name, config in resources.items()}},
        raise_on_error=False,
    )


@contextmanager
def in_process_runs(defs: dg.Definitions, instance: dg.DagsterInstance) -> Iterator[RunOnce]:
    """Runs for `materialize` made in this process: the same plan, the same assets, no process start-up.
    One at a time: in-process execution is not made to run in several threads at once."""
    one_at_a_time = threading.Lock()

    def run_once(
        job: str, partitions_def: dg.TimeWindowPartitionsDefinition, start: datetime, end: datetime
    ) -> tuple[str, dg.DagsterRunStatus]:
        with one_at_a_time:
            result = run_in_process(defs, job, start, end, instance)
        return result.run_id, instance.get_run_by_id(result.run_id).status

    yield run_once
