import http.server
import subprocess
import sys
import threading

import pytest

from mobility_lake.cli import main
from mobility_lake.settings import load_settings
from mobility_lake.storage import Lake


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "--start", "yesterday", "--hours", "2"], "expected e.g. 2026-03-10T08:00"),
        (["simulate", "--start", "2026-03-10T08:30", "--hours", "2"], "not a UTC whole hour"),
        (["simulate", "--start", "2026-03-10T08:00", "--hours", "0"], "positive whole number"),
        (["simulate", "--start", "2026-03-10T08:00", "--hours", "2", "--seed", "-3"], "whole number >= 0"),
        (["simulate", "--hours", "2"], "--start"),
        (
            ["simulate", "--start", "2026-03-10T08:00", "--hours", "1", "--format", "xml"],
            "is not FORMAT or TOPIC=FORMAT",
        ),
        (
            ["simulate", "--start", "2026-03-10T08:00", "--hours", "1", "--format", "kafka=avro"],
            "topics veh.events.raw",
        ),
        (["materialize", "--start", "2026-03-10T08:00", "--end", "2026-03-10T08:00"], "--end must be after"),
        (
            ["materialize", "--start", "2024-03-10T08:00", "--end", "2024-03-10T09:00"],
            "before MOBILITY_LAKE_START",
        ),
        (["teleport"], "invalid choice"),
        (["gdpr", "erase", "--user-id", "u-1"], "expected at least 6 characters"),
        (["gdpr", "verify", "--user-id", "u-000\n12"], "without control characters"),
        (["gdpr", "export", "--user-id", "u-000123", "--out", "x.age"], "--recipient"),
        (
            ["gdpr", "export", "--user-id", "u-000123", "--recipient", "age1nope", "--out", "x.age"],
            "is not an age X25519 recipient",
        ),
        (["gdpr", "forget", "--user-id", "u-000123"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, expected, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1


def test_a_bad_setting_exits_2_naming_the_variable(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "mobility_lake.cli",
            "simulate",
            "--start",
            "2026-03-10T08:00",
            "--hours",
            "1",
        ],
        env={"MOBILITY_LAKE_LATENESS_HOURS": "lots", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().startswith("error: MOBILITY_LAKE_LATENESS_HOURS is 'lots'")
    assert completed.stderr.count("\n") == 1


def run_cli(args: list[str], env: dict[str, str], home) -> subprocess.CompletedProcess:
    """The command as a user runs it: no AWS files of the machine's user, nothing inherited but PATH."""
    return subprocess.run(
        [sys.executable, "-m", "mobility_lake.cli", *args],
        env={"PATH": "", "HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


QUERY = ["query", "select 1"]
MATERIALIZE = ["materialize", "--start", "2026-03-10T08:00", "--end", "2026-03-10T09:00"]


@pytest.mark.parametrize(
    ("command", "setting", "expected"),
    [
        (MATERIALIZE, "root is a file", "MOBILITY_LAKE_ROOT is '{file}': a file, expected a directory"),
        (QUERY, "root is a file", "MOBILITY_LAKE_ROOT is '{file}': a file, expected a directory"),
        (QUERY, "root under a file", "MOBILITY_LAKE_ROOT is '{file}/lake': a parent is a file"),
        (QUERY, "root not writable", "MOBILITY_LAKE_ROOT is '/sys/lake': not a writable directory"),
        (MATERIALIZE, "home is a file", "DAGSTER_HOME is '{file}': a file, expected a directory"),
    ],
)
def test_an_unusable_root_or_home_exits_2_with_one_line(tmp_path, command, setting, expected):
    """Issue 12, finding 6: these printed 190-230 lines of traceback and exited 1."""
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    env = {"MOBILITY_LAKE_ROOT": str(tmp_path / "lake"), "DAGSTER_HOME": str(tmp_path / "home")}
    env |= {
        "root is a file": {"MOBILITY_LAKE_ROOT": str(file)},
        "root under a file": {"MOBILITY_LAKE_ROOT": str(file / "lake")},
        "root not writable": {"MOBILITY_LAKE_ROOT": "/sys/lake"},  # refused even to root
        "home is a file": {"DAGSTER_HOME": str(file)},
    }[setting]
    completed = run_cli(command, env, tmp_path)
    assert completed.returncode == 2, completed.stderr[-2000:]
    assert completed.stderr.startswith("error: " + expected.format(file=file))
    assert completed.stderr.count("\n") == 1


def test_an_s3_root_without_credentials_exits_2_at_once(tmp_path):
    completed = run_cli(QUERY, {"MOBILITY_LAKE_ROOT": "s3://no-such-lake/x"}, tmp_path)
    assert completed.returncode == 2
    assert completed.stderr.startswith("error: MOBILITY_LAKE_ROOT is an s3:// root but no AWS credentials")
    assert completed.stderr.count("\n") == 1


def test_an_unreachable_s3_store_exits_2_naming_the_endpoint(tmp_path):
    env = {
        "MOBILITY_LAKE_ROOT": "s3://lake/x",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens on the discard port
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    completed = run_cli(QUERY, env, tmp_path)
    assert completed.returncode == 2
    assert "http://127.0.0.1:9 cannot be reached" in completed.stderr and completed.stderr.count("\n") == 1


@pytest.mark.s3
def test_a_missing_bucket_and_wrong_keys_exit_2(s3_env, tmp_path):
    missing = {**s3_env, "MOBILITY_LAKE_ROOT": "s3://no-such-bucket/x"}
    completed = run_cli(QUERY, missing, tmp_path)
    assert completed.returncode == 2
    assert "bucket 'no-such-bucket' does not exist" in completed.stderr
    wrong = {**s3_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    completed = run_cli(QUERY, wrong, tmp_path)
    assert completed.returncode == 2
    assert "refused access to bucket" in completed.stderr and completed.stderr.count("\n") == 1
    assert "not-the-secret" not in completed.stderr


SIMULATE = ["simulate", "--start", "2026-03-10T08:00", "--hours", "1", "--vehicles", "2"]


@pytest.mark.s3
def test_a_store_with_conditional_writes_passes_and_keeps_no_probe(s3_env, tmp_path):
    completed = run_cli(SIMULATE, s3_env, tmp_path)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lake = Lake(load_settings(s3_env))
    assert [f.key for f in lake.list_files("_mobility_lake")] == []  # the probe object is deleted
    assert any(lake.list_files("landing"))


class Overwriting(http.server.BaseHTTPRequestHandler):
    """A store that answers every request and ignores If-None-Match: it overwrites what it is told not to."""

    def do_HEAD(self):  # noqa: N802 (the handler protocol's name)
        self.send_response(200)
        self.end_headers()

    def do_PUT(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("ETag", '"1"')
        self.end_headers()

    def do_DELETE(self):  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_store_without_conditional_writes_is_refused_for_writing_commands(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Overwriting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "MOBILITY_LAKE_ROOT": "s3://lake/x",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    try:
        completed = run_cli(SIMULATE, env, tmp_path)
    finally:
        server.shutdown()
    assert completed.returncode == 2
    assert "overwrote an object written with If-None-Match: *" in completed.stderr
    assert completed.stderr.count("\n") == 1
