from pathlib import Path

import pytest

from mobility_lake.settings import PROJECT_ROOT, SettingsError, dagster_home, load_settings

S3_ENV = {
    "MOBILITY_LAKE_ROOT": "s3://lake/prefix",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:8333",
    "AWS_ACCESS_KEY_ID": "key",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_ALLOW_HTTP": "true",
}


def test_defaults_need_no_variable():
    settings = load_settings({})
    assert settings.root == str(PROJECT_ROOT / "data" / "lake")
    assert settings.start_key == "2025-01-01-00:00"
    assert settings.lateness_hours == 72
    assert settings.s3 is None
    assert (settings.max_quarantine_share, settings.quarantine_min_rows) == (0.05, 200)


def test_role_user_and_retention_defaults_and_overrides(monkeypatch):
    monkeypatch.setenv("USER", "jdoe")
    monkeypatch.setenv("LOGNAME", "jdoe")
    defaults = load_settings({})
    assert (defaults.role, defaults.user) == ("analyst", "jdoe")
    assert defaults.retention == {"bronze": 90, "silver": 730, "gold": 1825, "audit": 2555}
    chosen = load_settings(
        {
            "MOBILITY_LAKE_ROLE": "operations",
            "MOBILITY_LAKE_USER": "ops.bot",
            "MOBILITY_LAKE_RETENTION_DAYS": " silver=400 , bronze=30",
        }
    )
    assert (chosen.role, chosen.user) == ("operations", "ops.bot")
    assert chosen.retention == {"bronze": 30, "silver": 400, "gold": 1825, "audit": 2555}
    assert defaults.vacuum_retention_days == 30
    assert load_settings({"MOBILITY_LAKE_VACUUM_RETENTION_DAYS": "7"}).vacuum_retention_days == 7


def test_quarantine_thresholds_are_read_from_their_variables():
    settings = load_settings(
        {"MOBILITY_LAKE_MAX_QUARANTINE_SHARE": "0.2", "MOBILITY_LAKE_QUARANTINE_MIN_ROWS": "0"}
    )
    assert (settings.max_quarantine_share, settings.quarantine_min_rows) == (0.2, 0)


def test_s3_root_reads_the_aws_variables():
    settings = load_settings(S3_ENV)
    assert settings.is_s3 and settings.root == "s3://lake/prefix"
    assert settings.s3.endpoint_url == "http://127.0.0.1:8333"
    assert settings.s3.access_key_id == "key" and settings.s3.allow_http


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"MOBILITY_LAKE_ROOT": ""}, "MOBILITY_LAKE_ROOT"),
        ({"MOBILITY_LAKE_ROOT": "gs://bucket/x"}, "MOBILITY_LAKE_ROOT"),
        ({"MOBILITY_LAKE_ROOT": "s3://"}, "MOBILITY_LAKE_ROOT"),
        ({"MOBILITY_LAKE_START": "2025-01-01"}, "YYYY-MM-DD-HH:MM"),
        ({"MOBILITY_LAKE_START": "2025-01-01-00:30"}, "whole hour"),
        ({"MOBILITY_LAKE_LATENESS_HOURS": "soon"}, "MOBILITY_LAKE_LATENESS_HOURS"),
        ({"MOBILITY_LAKE_LATENESS_HOURS": "-1"}, "0 to 8760"),
        ({"MOBILITY_LAKE_MAX_QUARANTINE_SHARE": "5%"}, "MOBILITY_LAKE_MAX_QUARANTINE_SHARE.*from 0 to 1"),
        ({"MOBILITY_LAKE_MAX_QUARANTINE_SHARE": "1.5"}, "MOBILITY_LAKE_MAX_QUARANTINE_SHARE.*from 0 to 1"),
        ({"MOBILITY_LAKE_QUARANTINE_MIN_ROWS": "-3"}, "MOBILITY_LAKE_QUARANTINE_MIN_ROWS.*>= 0"),
        ({"MOBILITY_LAKE_QUARANTINE_MIN_ROWS": "many"}, "MOBILITY_LAKE_QUARANTINE_MIN_ROWS"),
        ({**S3_ENV, "AWS_SECRET_ACCESS_KEY": ""}, "AWS_SECRET_ACCESS_KEY"),
        ({**S3_ENV, "AWS_ACCESS_KEY_ID": ""}, "AWS_ACCESS_KEY_ID"),
        ({**S3_ENV, "AWS_ALLOW_HTTP": "maybe"}, "expected true or false"),
        ({**S3_ENV, "AWS_ALLOW_HTTP": "false"}, "AWS_ALLOW_HTTP"),
        ({**S3_ENV, "AWS_ENDPOINT_URL": "localhost:8333"}, "AWS_ENDPOINT_URL"),
        (
            {"MOBILITY_LAKE_ROLE": "root"},
            "MOBILITY_LAKE_ROLE is 'root': expected one of data_scientist, .*admin",
        ),
        ({"MOBILITY_LAKE_ROLE": "Admin"}, "MOBILITY_LAKE_ROLE"),
        ({"MOBILITY_LAKE_USER": " "}, "MOBILITY_LAKE_USER.*1 to 128 printable"),
        ({"MOBILITY_LAKE_USER": "a\tb"}, "MOBILITY_LAKE_USER"),
        ({"MOBILITY_LAKE_RETENTION_DAYS": "bronze=ninety"}, "MOBILITY_LAKE_RETENTION_DAYS.*layer=days pairs"),
        (
            {"MOBILITY_LAKE_RETENTION_DAYS": "platinum=3"},
            "MOBILITY_LAKE_RETENTION_DAYS.*bronze, silver, gold, audit",
        ),
        ({"MOBILITY_LAKE_RETENTION_DAYS": "bronze=0"}, "MOBILITY_LAKE_RETENTION_DAYS"),
        ({"MOBILITY_LAKE_RETENTION_DAYS": "gold=9,gold=10"}, "MOBILITY_LAKE_RETENTION_DAYS"),
        ({"MOBILITY_LAKE_RETENTION_DAYS": ""}, "MOBILITY_LAKE_RETENTION_DAYS"),
        ({"MOBILITY_LAKE_VACUUM_RETENTION_DAYS": "6"}, "MOBILITY_LAKE_VACUUM_RETENTION_DAYS.*from 7"),
        ({"MOBILITY_LAKE_VACUUM_RETENTION_DAYS": "a month"}, "MOBILITY_LAKE_VACUUM_RETENTION_DAYS.*days"),
    ],
)
def test_bad_settings_fail_naming_the_variable_and_accepted_values(env, names):
    with pytest.raises(SettingsError, match=names):
        load_settings(env)


def test_credentials_never_default_to_empty_strings():
    settings = load_settings({"MOBILITY_LAKE_ROOT": "s3://lake/p"})
    assert settings.s3.access_key_id is None and settings.s3.secret_access_key is None


def test_dagster_home_defaults_under_the_project_and_rejects_relative_paths(tmp_path):
    assert dagster_home({"DAGSTER_HOME": str(tmp_path / "home")}) == tmp_path / "home"
    assert (tmp_path / "home").is_dir()
    with pytest.raises(SettingsError, match="DAGSTER_HOME"):
        dagster_home({"DAGSTER_HOME": "relative/home"})
    assert dagster_home({}) == Path(PROJECT_ROOT) / "data" / "dagster_home"
