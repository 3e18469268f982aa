"""An erasure as a Dagster run: listed in the UI under job `gdpr_erasure` with its request id, its counts
as metadata, and nothing of the subject in its config, tags or logs (the subject reaches the step in
memory, never through the instance).

The run holds the lake's erasure lock (`lake_lock.py`) and refuses to start while another run is in
progress, so no writer is active while files are replaced and deleted.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from mobility_lake.gdpr.erasure import Erasure, erase_subject
from mobility_lake.lake_lock import LakeLocked, acquire, release
from mobility_lake.orchestration.runs import persistent_instance
from mobility_lake.storage import Lake

JOB = "gdpr_erasure"
REQUEST_TAG = "mobility-lake/gdpr-request"
IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


@dg.logger
def quiet(_: dg.InitLoggerContext) -> logging.Logger:
    """The run's events go to the instance (the UI) only: the command prints its own progress."""
    silent = logging.getLogger("mobility_lake.erasure_run")
    silent.propagate = False
    silent.handlers = [logging.NullHandler()]
    return silent


def run_erasure(
    lake: Lake, dagster_home: Path, user_id: str, request_id: str, say: Callable[[str], None]
) -> tuple[str, Erasure]:
    """Erase `user_id` in a recorded run; (run id, what was done). LakeLocked when the lake is busy."""
    outcome: dict[str, Erasure] = {}

    @dg.op(name="erase_subject", config_schema={"request_id": str})
    def erase_step(context: dg.OpExecutionContext) -> dg.Output:
        died = acquire(lake, request_id)
        try:
            if died is not None:  # its run never ended: the instance would count it as in progress forever
                for run in context.instance.get_runs(
                    dg.RunsFilter(tags={REQUEST_TAG: died.get("request_id", "")})
                ):
                    context.instance.report_run_failed(run)
                context.log.info(f"took over from erasure {died.get('request_id')}, whose process had died")
            busy = [
                r.run_id
                for r in context.instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS))
                if r.run_id != context.run_id
            ]
            if busy:
                raise LakeLocked(
                    f"{len(busy)} run(s) in progress (first {busy[0]}): an erasure waits for writers to finish"
                )

            def tell(message: str) -> None:
                context.log.info(message)
                say(message)

            try:
                erasure = erase_subject(lake, dagster_home, user_id, tell)
            except Exception as exc:  # its message may quote a value of the subject's: never logged
                raise RuntimeError(
                    f"the erasure stopped ({type(exc).__name__}; details withheld, they may quote personal "
                    "data); run it again to complete it"
                ) from None
        finally:
            release(lake, request_id)
        outcome["erasure"] = erasure
        verification = erasure.verification
        return dg.Output(
            None,
            metadata={
                "request_id": request_id,
                "tables_changed": dg.MetadataValue.json(erasure.as_dict()["tables"]),
                "landing_files_scrubbed": erasure.landing_files_scrubbed,
                "files_scanned": verification.files if verification else 0,
                "places_still_holding_the_subject": len(verification.findings) if verification else -1,
            },
        )

    @dg.job(
        name=JOB,
        description="Erase one subject (GDPR); the subject is known only by the request id.",
        logger_defs={"quiet": quiet},
    )
    def erasure_job() -> None:
        erase_step()

    result = erasure_job.execute_in_process(
        run_config={
            "ops": {"erase_subject": {"config": {"request_id": request_id}}},
            "loggers": {"quiet": {}},
        },
        instance=persistent_instance(),
        tags={REQUEST_TAG: request_id},
        raise_on_error=False,
    )
    if "erasure" not in outcome:
        raise _failure(result)
    return result.run_id, outcome["erasure"]


def _failure(result: dg.ExecuteInProcessResult) -> Exception:
    """The step's own error (not Dagster's wrapper of it), as the exception the command reports."""
    failure = next((e for e in result.all_events if e.is_step_failure), None)
    error = failure.step_failure_data.error if failure is not None else None
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return RuntimeError("the erasure run failed")
    message = error.message.strip().splitlines()[0].removeprefix(f"{error.cls_name}: ")
    return LakeLocked(message) if error.cls_name == "LakeLocked" else RuntimeError(message)
