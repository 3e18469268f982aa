"""The lake lock: an erasure or a retention pass changes the lake while no run writes to it.

The holder creates `_locks/erasure.json` (create-if-absent: `O_EXCL` locally, `If-None-Match: *` on S3),
then looks at the Dagster runs in progress (an erasure refuses to start beside any; retention leaves the
hours they cover alone); a run, once started, waits at its first write for the lock to go. Whichever of the
two comes second sees the other. A lock left by a process that died (same host, process gone) is taken over
by the next holder; an erasure then completes the dead one's work. The file keeps its first name, so a lake
locked by an older release is still seen as locked.
"""

import errno
import json
import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mobility_lake.storage import Lake

LOCK_KEY = "_locks/erasure.json"
WAIT_SECONDS = 5.0
MAX_WAIT_SECONDS = 6 * 3600


class LakeLocked(RuntimeError):
    """Another erasure or retention pass holds the lake, or a run is writing to it."""


def holder(lake: Lake) -> dict | None:
    """The lock's content (request id, host, pid, since), or None when the lake is not locked."""
    try:
        return json.loads(lake.read_bytes(LOCK_KEY))
    except FileNotFoundError:
        return None


def acquire(lake: Lake, request_id: str) -> dict | None:
    """Take the lock for `request_id`, or take over one whose process died (returning what it held);
    LakeLocked otherwise."""
    mine = json.dumps(
        {"request_id": request_id, "host": socket.gethostname(), "pid": os.getpid(),
         "since": datetime.now(UTC).isoformat(timespec="seconds")}
    ).encode()  # fmt: skip
    if _create(lake, mine):
        return None
    found = holder(lake)
    if found is not None and not _dead(found):
        raise LakeLocked(
            f"{found.get('request_id')} holds the lake since {found.get('since')} "
            f"(process {found.get('pid')} on {found.get('host')}); try again when it has finished"
        )
    if found is not None and str(found.get("request_id", "")).startswith("erasure-"):
        if not request_id.startswith("erasure-"):  # only an erasure completes an interrupted one
            raise LakeLocked(
                f"{found.get('request_id')} was interrupted and holds the lake: run the erasure again first"
            )
    lake.remove_file(LOCK_KEY)
    if not _create(lake, mine):
        raise LakeLocked("another erasure or retention pass took the lake at the same moment; try again")
    return found


def release(lake: Lake, request_id: str) -> None:
    found = holder(lake)
    if found is not None and found.get("request_id") == request_id:
        lake.remove_file(LOCK_KEY)


def wait_while_locked(lake: Lake, say: Callable[[str], None], max_wait: float = MAX_WAIT_SECONDS) -> None:
    """Return once nothing holds the lake; say once that the run waits, and give up after `max_wait`."""
    began = time.monotonic()
    told = False
    while (found := holder(lake)) is not None:
        if not told:
            say(f"waiting for {found.get('request_id')} to finish before writing")
            told = True
        if time.monotonic() - began > max_wait:
            raise LakeLocked(f"{found.get('request_id')} still holds the lake after {max_wait:.0f} s")
        time.sleep(WAIT_SECONDS)


def _create(lake: Lake, payload: bytes) -> bool:
    if lake.settings.is_s3:
        try:
            lake.fs.pipe_file(lake.path(LOCK_KEY), payload, mode="create")
            return True
        except OSError:
            if holder(lake) is None:
                raise
            return False
    path = lake.path(LOCK_KEY)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as out:
        out.write(payload)
    return True


def _dead(found: dict) -> bool:
    """Whether the lock's process is known to be gone: it ran on this host and no longer exists."""
    if found.get("host") != socket.gethostname() or not isinstance(found.get("pid"), int):
        return False
    try:
        os.kill(found["pid"], 0)
    except OSError as exc:
        return exc.errno == errno.ESRCH
    return False
