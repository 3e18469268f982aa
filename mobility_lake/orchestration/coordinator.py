"""The run coordinator of the project's Dagster instance: the daemon's run queue when a daemon runs.

Every run, from the UI, a sensor, a backfill or `mobility-lake materialize`, is submitted to it. With a
daemon running, runs wait in its queue, under its concurrency limits (`run_queue` settings in
dagster.yaml). With none, nothing would ever take them from the queue, so the run is launched at once, as
Dagster's default coordinator does: the CLI then works on a machine where only the lake and an instance
directory exist. A run without the `mobility-lake/work` tag its job would give (Dagster's asset job) gets
it from its assets first, so the queue's limits by kind of work hold for every run.
"""

import time

import dagster as dg

from mobility_lake.orchestration.jobs import WORK_TAG, work_of_assets, work_tags

QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
HEARTBEAT_TOLERANCE_SECONDS = 90  # the daemon beats every 30 s


def daemon_running(instance: dg.DagsterInstance) -> bool:
    """Whether a daemon took runs from the queue within the last heartbeats."""
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return beat is not None and time.time() - beat.timestamp < HEARTBEAT_TOLERANCE_SECONDS


class LakeRunCoordinator(dg.QueuedRunCoordinator):
    """Queues runs for the daemon when one is running; launches them at once otherwise."""

    def submit_run(self, context) -> dg.DagsterRun:
        run = context.dagster_run
        assets = {
            *(run.asset_selection or ()),
            *(check.asset_key for check in run.asset_check_selection or ()),
        }
        work = None if WORK_TAG in run.tags else work_of_assets(frozenset(assets))
        if work is not None:  # before it is queued: the queue limits runs by this tag
            self._instance.add_run_tags(run.run_id, work_tags(work))
        if daemon_running(self._instance):
            return super().submit_run(context)
        if run.status == dg.DagsterRunStatus.NOT_STARTED:
            self._instance.launch_run(run.run_id, context.workspace)
        return self._instance.get_run_by_id(run.run_id)
