"""The deployment layouts load: each instance config of deploy/ (and the embedded one) is built into a Dagster
instance, validated against Dagster's config schema, with its storage on the session's PostgreSQL server,
and its run queue keeps the hourly runs going while a backfill runs."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from mobility_lake.definitions import defs
from mobility_lake.orchestration.coordinator import LakeRunCoordinator
from mobility_lake.orchestration.jobs import WORK_TAG
from mobility_lake.orchestration.runs import INSTANCE_CONFIG, PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: test, user: {token: test}}]
contexts: [{name: test, context: {cluster: test, user: test}}]
current-context: test
"""


def test_every_job_names_the_work_it_queues_as():
    """The queue limits match runs by this tag: a job without it would escape them."""
    jobs = [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    untagged = {job.name for job in jobs if WORK_TAG not in job.tags}
    assert not untagged
    assert {job.tags[WORK_TAG] for job in jobs if WORK_TAG in job.tags} == {
        "bronze", "silver", "gold", "maintenance", "retention",
    }  # fmt: skip


def helm_instance(values: dict, kubeconfig: Path) -> dict:
    """The instance config Dagster's Helm chart renders from `values` (templates/configmap-instance.yaml),
    for the parts deploy/k8s/values.yaml sets; in-cluster config replaced by a kubeconfig file for the test."""
    pg = values["postgresql"]
    storage = {"postgres_db": {
        "username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"], "port": pg["service"]["port"],
        "params": pg["postgresqlParams"], "scheme": pg["postgresqlScheme"],
    }}  # fmt: skip
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher = {
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
        "job_namespace": "mobility-lake",
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": "mobility-lake-dagster",
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"}]
        + [entry["name"] for entry in k8s["envConfigMaps"]],
        "env_secrets": [entry["name"] for entry in k8s["envSecrets"]],
        "resources": k8s["resources"],
        "labels": k8s["labels"],
    }
    coordinator = values["dagsterDaemon"]["runCoordinator"]["config"]["customRunCoordinator"]
    logs = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    retries = values["dagsterDaemon"]["runRetries"]
    return {
        **{kind: {"module": f"dagster_postgres.{module}", "class": cls, "config": storage}
           for kind, module, cls in [("run_storage", "run_storage", "PostgresRunStorage"),
                                     ("event_log_storage", "event_log", "PostgresEventLogStorage"),
                                     ("schedule_storage", "schedule_storage", "PostgresScheduleStorage")]},
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": launcher},
        "run_coordinator": coordinator,
        "compute_logs": {"module": "dagster_aws.s3.compute_log_manager", "class": "S3ComputeLogManager",
                         "config": {"bucket": logs["bucket"], "prefix": logs["prefix"],
                                    "skip_empty_files": logs["skipEmptyFiles"]}},
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"],
                        "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"]},
        "telemetry": values["telemetry"],
    }  # fmt: skip


LAYOUTS = {
    "embedded": ("DefaultRunLauncher", "LocalComputeLogManager", "SqliteRunStorage"),
    "postgres": ("DefaultRunLauncher", "LocalComputeLogManager", "PostgresRunStorage"),
    "ecs": ("EcsRunLauncher", "S3ComputeLogManager", "PostgresRunStorage"),
    "k8s": ("K8sRunLauncher", "S3ComputeLogManager", "PostgresRunStorage"),
}


@pytest.fixture
def instance_of(tmp_path: Path, monkeypatch, postgres_env: dict[str, str]):
    """Builds the instance of a layout the way its processes would: DAGSTER_HOME holding its dagster.yaml."""

    def build(layout: str) -> dg.DagsterInstance:
        home = tmp_path / layout
        home.mkdir()
        if layout == "embedded":
            config = yaml.safe_load(INSTANCE_CONFIG.read_text())
        elif layout == "k8s":
            (tmp_path / "kubeconfig").write_text(KUBECONFIG)
            values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
            config = helm_instance(values, tmp_path / "kubeconfig")
            # What the chart sets in the daemon's and the webserver's pods.
            monkeypatch.setenv("DAGSTER_K8S_INSTANCE_CONFIG_MAP", "mobility-lake-dagster-instance")
            monkeypatch.setenv("DAGSTER_K8S_PG_PASSWORD_SECRET", values["global"]["postgresqlSecretName"])
            monkeypatch.setenv("DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP", "mobility-lake-dagster-pipeline-env")
            # The chart names the database server; the test's stands in for it.
            config["run_storage"]["config"]["postgres_db"].update(
                hostname=postgres_env["DAGSTER_PG_HOST"], port=int(postgres_env["DAGSTER_PG_PORT"]),
                db_name=postgres_env["DAGSTER_PG_DB"], username=postgres_env["DAGSTER_PG_USER"],
            )  # fmt: skip
            for kind in ("event_log_storage", "schedule_storage"):
                config[kind]["config"] = config["run_storage"]["config"]
        else:
            config = yaml.safe_load((DEPLOY / layout / "dagster.yaml").read_text())
        (home / "dagster.yaml").write_text(yaml.safe_dump(config))
        for name, value in postgres_env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DAGSTER_LOG_BUCKET", "mobility-lake-logs")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        return dg.DagsterInstance.from_config(str(home))

    return build


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_builds_its_instance_with_queue_limits(instance_of, layout):
    launcher, logs, storage = LAYOUTS[layout]
    with instance_of(layout) as instance:
        assert type(instance.run_launcher).__name__ == launcher
        assert type(instance.compute_log_manager).__name__ == logs
        assert type(instance.run_storage).__name__ == storage
        assert isinstance(instance.run_coordinator, LakeRunCoordinator)
        queue = instance.run_coordinator.get_run_queue_config()
        limits = {
            (limit["key"], limit.get("value")): limit["limit"] for limit in queue.tag_concurrency_limits
        }
        # A backfill never holds every slot, so the sensors' hourly runs always find one.
        assert limits[("dagster/backfill", None)] < queue.max_concurrent_runs
        assert 1 <= limits[(WORK_TAG, "silver")] <= queue.max_concurrent_runs
        assert limits[(WORK_TAG, "maintenance")] == 1
        assert limits[(WORK_TAG, "retention")] == 1
        assert instance.run_retries_enabled


@dg.asset
def probe() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


def test_a_postgres_instance_keeps_runs_for_the_next_process(instance_of):
    """Runs, their events and their tags outlive the process that wrote them: the webserver, the daemon and
    each run's process share one history."""
    with instance_of("postgres") as instance:
        run_id = dg.materialize([probe], instance=instance, tags={WORK_TAG: "silver"}).run_id
    with dg.DagsterInstance.get() as again:
        run = again.get_run_by_id(run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags[WORK_TAG] == "silver"
        assert again.get_latest_materialization_event(dg.AssetKey("probe")).run_id == run_id
