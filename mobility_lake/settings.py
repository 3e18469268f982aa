"""Settings of CONTRACT §1, read once from the environment and validated at start-up.

Every failure names the variable and the accepted values, so a misconfigured deployment stops before it
touches the lake. Credentials are never defaulted to empty strings: unset stays unset.
"""

import getpass
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = "data/lake"
DEFAULT_START = "2025-01-01-00:00"
DEFAULT_LATENESS_HOURS = 72
DEFAULT_MAX_QUARANTINE_SHARE = 0.05
DEFAULT_QUARANTINE_MIN_ROWS = 200
DEFAULT_ROLE = "analyst"
RETENTION_LAYERS = ("bronze", "silver", "gold", "audit")
DEFAULT_RETENTION_DAYS = "bronze=90,silver=730,gold=1825,audit=2555"
DEFAULT_VACUUM_RETENTION_DAYS = 30
MIN_VACUUM_RETENTION_DAYS = 7
START_FORMAT = "%Y-%m-%d-%H:%M"
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another; the message names the variable."""


@dataclass(frozen=True)
class S3Credentials:
    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None
    region: str | None
    allow_http: bool


@dataclass(frozen=True)
class Settings:
    root: str
    start: datetime
    lateness_hours: int
    s3: S3Credentials | None
    max_quarantine_share: float = DEFAULT_MAX_QUARANTINE_SHARE
    quarantine_min_rows: int = DEFAULT_QUARANTINE_MIN_ROWS
    role: str = DEFAULT_ROLE
    user: str = "unknown"
    retention_days: tuple[tuple[str, int], ...] = (
        ("bronze", 90),
        ("silver", 730),
        ("gold", 1825),
        ("audit", 2555),
    )
    vacuum_retention_days: int = DEFAULT_VACUUM_RETENTION_DAYS

    @property
    def retention(self) -> dict[str, int]:
        """Days each layer keeps (bronze: before it moves to the archive)."""
        return dict(self.retention_days)

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    @property
    def start_key(self) -> str:
        return self.start.strftime(START_FORMAT)


def parse_root(value: str) -> str:
    """A local directory (made absolute against the project root) or `s3://bucket[/prefix]`."""
    value = value.strip()
    if not value:
        raise SettingsError("MOBILITY_LAKE_ROOT is empty: expected a local directory or s3://bucket/prefix")
    if "://" in value:
        scheme, rest = value.split("://", 1)
        if scheme != "s3":
            raise SettingsError(
                f"MOBILITY_LAKE_ROOT has scheme '{scheme}://': expected a local directory or s3://bucket/prefix"
            )
        bucket = rest.split("/", 1)[0]
        if not _BUCKET.match(bucket):
            raise SettingsError(
                "MOBILITY_LAKE_ROOT names no valid bucket: expected s3://bucket/prefix "
                "(bucket: 3-63 lowercase letters, digits, '.' or '-')"
            )
        return "s3://" + rest.rstrip("/")
    path = Path(value)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return str(path)


def parse_start(value: str) -> datetime:
    """The first hourly partition, `YYYY-MM-DD-HH:MM` UTC, on a whole hour."""
    try:
        start = datetime.strptime(value.strip(), START_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SettingsError(
            f"MOBILITY_LAKE_START is '{value}': expected a UTC hour as YYYY-MM-DD-HH:MM, e.g. 2025-01-01-00:00"
        ) from None
    if start.minute:
        raise SettingsError(f"MOBILITY_LAKE_START is '{value}': expected a whole hour (minutes 00)")
    return start


def parse_number(
    name: str, value: str, kind: type[int] | type[float], low: float, high: float, expected: str
):
    """A whole number (`kind` int) or a number in [low, high]; the error names the variable and `expected`."""
    try:
        number = kind(value.strip())
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise SettingsError(f"{name} is '{value}': expected {expected}")
    return number


def parse_lateness(value: str) -> int:
    """Hours an event may be late and still be placed automatically."""
    return parse_number(
        "MOBILITY_LAKE_LATENESS_HOURS", value, int, 0, 8760, "a whole number of hours from 0 to 8760"
    )


def parse_share(value: str) -> float:
    """The share of an hour's rows that may be quarantined."""
    return parse_number(
        "MOBILITY_LAKE_MAX_QUARANTINE_SHARE", value, float, 0.0, 1.0, "a number from 0 to 1, e.g. 0.05"
    )


def parse_min_rows(value: str) -> int:
    """Bronze rows an hour needs before the share rule judges it."""
    return parse_number(
        "MOBILITY_LAKE_QUARANTINE_MIN_ROWS",
        value,
        int,
        0,
        float("inf"),
        "a whole number of rows >= 0, e.g. 200",
    )


def parse_role(value: str, name: str = "MOBILITY_LAKE_ROLE") -> str:
    """One of the roles of CONTRACT §7."""
    from mobility_lake.governance.policy import ROLES

    role = value.strip()
    if role not in ROLES:
        raise SettingsError(f"{name} is '{value}': expected one of {', '.join(ROLES)}")
    return role


def parse_user(value: str | None) -> str:
    """Who queries, for the audit log: the setting, else the login; a name of printable characters."""
    if value is None:
        try:
            value = getpass.getuser()
        except (KeyError, OSError):
            value = "unknown"
    user = value.strip()
    if not user or len(user) > 128 or not user.isprintable():
        raise SettingsError(
            "MOBILITY_LAKE_USER is not a usable name: expected 1 to 128 printable characters, e.g. jane.doe"
        )
    return user


def parse_retention(value: str) -> tuple[tuple[str, int], ...]:
    """`layer=days` pairs; layers not named keep their default, a layer named twice is a contradiction."""
    expected = (
        f"layer=days pairs separated by commas, layers {', '.join(RETENTION_LAYERS)}, days a whole number "
        f"from 1, e.g. {DEFAULT_RETENTION_DAYS}"
    )
    days = dict(pair.split("=") for pair in DEFAULT_RETENTION_DAYS.split(","))
    named: set[str] = set()
    for pair in value.split(","):
        layer, _, number = pair.strip().partition("=")
        layer = layer.strip()
        if layer not in RETENTION_LAYERS or layer in named or not number.strip().isdigit():
            raise SettingsError(f"MOBILITY_LAKE_RETENTION_DAYS is '{value}': expected {expected}")
        if int(number) < 1:
            raise SettingsError(f"MOBILITY_LAKE_RETENTION_DAYS is '{value}': expected {expected}")
        named.add(layer)
        days[layer] = number
    return tuple((layer, int(days[layer])) for layer in RETENTION_LAYERS)


def parse_vacuum_retention(value: str) -> int:
    """Days time travel reaches back: maintenance keeps every file and log entry a version of them needs."""
    return parse_number(
        "MOBILITY_LAKE_VACUUM_RETENTION_DAYS",
        value,
        int,
        MIN_VACUUM_RETENTION_DAYS,
        36500,
        f"a whole number of days from {MIN_VACUUM_RETENTION_DAYS}, e.g. {DEFAULT_VACUUM_RETENTION_DAYS}",
    )


def parse_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise SettingsError(f"{name} is '{value}': expected true or false")


def read_s3_credentials(env: dict[str, str]) -> S3Credentials:
    """The standard AWS variables; a key id without its secret (or the reverse) is a contradiction."""
    key_id = env.get("AWS_ACCESS_KEY_ID") or None
    secret = env.get("AWS_SECRET_ACCESS_KEY") or None
    if bool(key_id) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key_id else "AWS_ACCESS_KEY_ID"
        raise SettingsError(
            f"{missing} is unset while its pair is set: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or neither to use the default AWS credential chain"
        )
    endpoint = env.get("AWS_ENDPOINT_URL") or None
    if endpoint and not re.match(r"^https?://[^/\s]+", endpoint):
        raise SettingsError(f"AWS_ENDPOINT_URL is '{endpoint}': expected http://host:port or https://host")
    allow_http = parse_bool("AWS_ALLOW_HTTP", env["AWS_ALLOW_HTTP"]) if env.get("AWS_ALLOW_HTTP") else False
    if endpoint and endpoint.startswith("http://") and not allow_http:
        raise SettingsError(
            "AWS_ENDPOINT_URL is plain http:// but AWS_ALLOW_HTTP is not true: set AWS_ALLOW_HTTP=true or use https"
        )
    return S3Credentials(endpoint, key_id, secret, env.get("AWS_REGION") or None, allow_http)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate every setting; raises SettingsError naming the first bad variable."""
    env = dict(os.environ if env is None else env)
    root = parse_root(env.get("MOBILITY_LAKE_ROOT", DEFAULT_ROOT))
    start = parse_start(env.get("MOBILITY_LAKE_START", DEFAULT_START))
    lateness = parse_lateness(env.get("MOBILITY_LAKE_LATENESS_HOURS", str(DEFAULT_LATENESS_HOURS)))
    s3 = read_s3_credentials(env) if root.startswith("s3://") else None
    share = parse_share(env.get("MOBILITY_LAKE_MAX_QUARANTINE_SHARE", str(DEFAULT_MAX_QUARANTINE_SHARE)))
    min_rows = parse_min_rows(env.get("MOBILITY_LAKE_QUARANTINE_MIN_ROWS", str(DEFAULT_QUARANTINE_MIN_ROWS)))
    return Settings(
        root,
        start,
        lateness,
        s3,
        max_quarantine_share=share,
        quarantine_min_rows=min_rows,
        role=parse_role(env.get("MOBILITY_LAKE_ROLE", DEFAULT_ROLE)),
        user=parse_user(env.get("MOBILITY_LAKE_USER")),
        retention_days=parse_retention(env.get("MOBILITY_LAKE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
        vacuum_retention_days=parse_vacuum_retention(
            env.get("MOBILITY_LAKE_VACUUM_RETENTION_DAYS", str(DEFAULT_VACUUM_RETENTION_DAYS))
        ),
    )


def check_directory(path: Path, name: str) -> None:
    """`path` is, or can be made, a directory this process can write to."""
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name} is '{path}': a file, expected a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except (FileExistsError, NotADirectoryError):
        raise SettingsError(f"{name} is '{path}': a parent is a file, expected a directory") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SettingsError(f"{name} is '{path}': not a writable directory ({reason.lower()})") from None


def dagster_home(env: dict[str, str] | None = None) -> Path:
    """DAGSTER_HOME, or `data/dagster_home` under the project root when unset; created if missing."""
    env = os.environ if env is None else env
    value = env.get("DAGSTER_HOME") or str(PROJECT_ROOT / "data" / "dagster_home")
    path = Path(value)
    if not path.is_absolute():
        raise SettingsError(f"DAGSTER_HOME is '{value}': expected an absolute directory path")
    check_directory(path, "DAGSTER_HOME")
    return path
