#!/usr/bin/env python3
"""Set-up and entry point for a fresh clone; needs only python3 and pip.

    python3 dev.py demo      set up .venv from the lock file, then run `mobility-lake demo`
    python3 dev.py test      set up .venv from the lock file, then run the test suite
    python3 dev.py ARGS...   set up, then run `mobility-lake ARGS...`

Set-up creates .venv, installs the pinned uv into it with pip, and syncs the environment exactly to
uv.lock (the dependency lock file). It is skipped when the lock has not changed since the last sync.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
UV_VERSION = "0.13.8"


def run(*cmd: str | Path, env: dict[str, str] | None = None) -> None:
    completed = subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env)
    if completed.returncode:
        sys.exit(f"set-up step failed ({completed.returncode}): {' '.join(map(str, cmd))}")


def ensure_environment() -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        print("creating .venv", flush=True)
        run(sys.executable, "-m", "venv", VENV)
    uv = VENV / "bin" / "uv"
    if not uv.exists():
        if subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode:
            run(python, "-m", "ensurepip", "--upgrade")
        run(python, "-m", "pip", "install", "--quiet", f"uv=={UV_VERSION}")
    digest = hashlib.sha256(
        (ROOT / "uv.lock").read_bytes() + (ROOT / "pyproject.toml").read_bytes()
    ).hexdigest()
    stamp = VENV / ".synced-lock"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print("installing the locked dependencies into .venv", flush=True)
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PROJECT_ENVIRONMENT": str(VENV)}
    env.setdefault("UV_SYSTEM_CERTS", "1")
    run(uv, "sync", "--locked", "--python", python, env=env)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    ensure_environment()
    bin_dir = VENV / "bin"
    if argv[0] == "test":
        cmd = [bin_dir / "pytest", *argv[1:]]
    else:
        cmd = [bin_dir / "mobility-lake", *argv]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
