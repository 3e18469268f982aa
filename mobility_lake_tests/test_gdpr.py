"""GDPR end to end (issue 13, CONTRACT §7): a subject's data exported and decrypted, then erased from every
file of the lake and the Dagster home, with nothing else changed and nothing brought back by a re-run.

The lake is simulated and materialized through the real jobs (in this process, on a persistent instance in
DAGSTER_HOME); every file is then searched by this module's own reader, not by the scan under test.
"""

import contextlib
import gzip
import hashlib
import io
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import orjson
import polars as pl
import pyrage
import pytest

from mobility_lake.cli import _materialize, main
from mobility_lake.definitions import build_definitions
from mobility_lake.landing import landing_key
from mobility_lake.orchestration.erasure_run import JOB, REQUEST_TAG
from mobility_lake.orchestration.runs import persistent_instance
from mobility_lake.settings import load_settings
from mobility_lake.simulate import simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.in_process import in_process_runs

H = datetime(2026, 3, 10, 8, tzinfo=UTC)
HOURS = 2
EMAIL, PHONE = "anna.erase@example.org", "+49 30 5550101"
OTHER_EMAIL, OTHER_PHONE = "ben.keep@example.org", "+49 40 5550202"
SUBJECT_TABLES = {"bronze": ("domain_events", "payment_events", "app_events")}


def profile_event(number: int, user_id: str, email: str, phone: str) -> dict:
    return {
        "specversion": "1.0",
        "id": f"gdpr-test-{number}",
        "source": "//customer-service",
        "type": "com.mobilitycorp.customer.profile_updated.v1",
        "time": "2026-03-10T08:30:00Z",
        "subject": user_id,
        "datacontenttype": "application/json",
        "data": {
            "user_id": user_id,
            "email": email,
            "phone": phone,
            "locale": "de-DE",
            "marketing_opt_in": True,
        },
    }


def landed_events(lake: Lake, prefix: str) -> Iterator[dict]:
    """The readable events of the JSON-lines landing files under `prefix`."""
    for info in lake.list_files(prefix):
        payload = lake.read_bytes(info.key)
        if info.key.endswith(".gz"):
            payload = gzip.decompress(payload)
        elif not info.key.endswith(".jsonl"):
            continue
        for line in payload.splitlines():
            with contextlib.suppress(orjson.JSONDecodeError):
                event = orjson.loads(line)
                if isinstance(event, dict) and isinstance(event.get("data"), dict):
                    yield event


def most_active_users(lake: Lake) -> list[str]:
    """Users of the simulated bookings, most events first (read from the landing files)."""
    counts: dict[str, int] = {}
    for event in landed_events(lake, "landing/domain.events"):
        user = event["data"].get("user_id")
        counts[user] = counts.get(user, 0) + 1
    return sorted((u for u in counts if isinstance(u, str)), key=lambda u: (-counts[u], u))


def materialize(settings) -> None:
    instance = persistent_instance()
    defs = build_definitions(settings)
    _materialize(
        settings, H, H + timedelta(hours=HOURS), instance, runs=lambda: in_process_runs(defs, instance)
    )


def build_lake(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[Lake, str, str]:
    """A materialized lake whose two most active users also updated their profile (U's with a broken line
    that names them too): (lake, U, V)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    lake = Lake(settings)
    simulate(lake, H, HOURS, vehicles=40, seed=11)
    user, other = most_active_users(lake)[:2]
    lines = [
        orjson.dumps(profile_event(1, user, EMAIL, PHONE)),
        orjson.dumps(profile_event(2, other, OTHER_EMAIL, OTHER_PHONE)),
        b'{"id": "gdpr-test-3", "data": {"user_id": "' + user.encode() + b'", "email": "' + EMAIL.encode(),
    ]
    lake.write_bytes(landing_key("customers.app_events", H, "gdpr-test.jsonl"), b"\n".join(lines) + b"\n")
    materialize(settings)
    return lake, user, other


def every_file(lake: Lake, home: Path) -> Iterator[tuple[str, bytes]]:
    for info in lake.list_files(""):
        yield f"lake:{info.key}", lake.read_bytes(info.key)
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        yield f"home:{path.relative_to(home)}", path.read_bytes()


def readable_texts(name: str, payload: bytes) -> list[bytes]:
    """The file as bytes, and as its format stores text: gzip decompressed, Parquet decoded to JSON lines."""
    texts = [payload]
    if name.endswith(".gz"):
        texts.append(gzip.decompress(payload))
    if name.endswith(".parquet"):
        frame = pl.read_parquet(io.BytesIO(payload))
        texts.append(
            frame.drop([c for c, t in frame.schema.items() if t == pl.Binary]).write_ndjson().encode()
        )
    return texts


def places_holding(lake: Lake, home: Path, values: set[str]) -> list[str]:
    needles = [v.encode() for v in values] + [json.dumps(v)[1:-1].encode() for v in values]
    return [
        name
        for name, payload in every_file(lake, home)
        if any(n in text for text in readable_texts(name, payload) for n in needles)
    ]


def table(lake: Lake, layer: str, name: str) -> pl.DataFrame:
    return lake.read(layer, name)


def rows_of(lake: Lake, user: str) -> dict[str, list[dict]]:
    """A subject's rows in silver and gold, sorted, as dicts."""
    found = {}
    for layer, name in [("silver", "booking_events"), ("silver", "payment_events"), ("silver", "app_events"),
                        ("gold", "customer_journey_events")]:  # fmt: skip
        frame = table(lake, layer, name).filter(pl.col("user_id") == user)
        found[f"{layer}.{name}"] = frame.sort(frame.columns).to_dicts()
    return found


def bronze_rows_of_key(lake: Lake, keys: set[str]) -> dict[str, list[dict]]:
    return {
        name: table(lake, "bronze", name)
        .filter(pl.col("subject_key").is_in(list(keys)))
        .sort("landing_file", "record_number")
        .to_dicts()
        for name in SUBJECT_TABLES["bronze"]
    }


def key_ids(lake: Lake, user: str) -> set[str]:
    return set(table(lake, "keys", "subject_keys").filter(pl.col("user_id") == user)["key_id"].to_list())


def export(user: str, tmp_path: Path, capsys) -> tuple[dict, str]:
    identity = pyrage.x25519.Identity.generate()
    out = tmp_path / f"export-{time.monotonic_ns()}.age"
    assert (
        main(
            ["gdpr", "export", "--user-id", user, "--recipient", str(identity.to_public()), "--out", str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    return json.loads(pyrage.decrypt(out.read_bytes(), [identity])), printed


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def gold_aggregates(lake: Lake) -> dict[str, pl.DataFrame]:
    names = (
        "demand_by_zone_hour",
        "vehicle_utilization_daily",
        "revenue_by_vehicle_type_daily",
        "battery_health_metrics_weekly",
    )
    return {n: (f := table(lake, "gold", n)).sort(f.columns) for n in names}


def check_end_to_end(lake: Lake, user: str, other: str, home: Path, tmp_path: Path, capsys) -> None:
    # -- export: decrypted with the requester's identity, it holds exactly what a direct read finds
    document, printed = export(user, tmp_path, capsys)
    assert user not in printed and EMAIL not in printed and "record(s)" in printed
    assert document["user_id"] == user and document["generated_at"]
    records = document["records"]
    bronze_ids = {r["event_id"] for r in records if r["layer"] == "bronze"}
    landed = {e["id"] for e in landed_events(lake, "landing") if e["data"].get("user_id") == user}
    assert bronze_ids >= landed and len(landed) > 3
    profile = next(r for r in records if r["layer"] == "bronze" and r["event_id"] == "gdpr-test-1")
    assert profile["data"]["email"] == EMAIL and profile["data"]["phone"] == PHONE and profile["event_source"]
    assert any(r["layer"] == "bronze" and r.get("raw") and EMAIL in r["raw"] for r in records), (
        "the broken line"
    )
    direct = rows_of(lake, user)
    for name, rows in direct.items():
        layer, table_name = name.split(".")
        assert len([r for r in records if r["layer"] == layer and r["table"] == table_name]) == len(rows), (
            name
        )
    assert direct["silver.booking_events"] and direct["gold.customer_journey_events"]
    for record in records:
        data = record.get("data")
        assert record.get("user_id", user) == user and (
            not isinstance(data, dict) or data.get("user_id") in (user, None)
        )
    assert other not in json.dumps(records) and OTHER_EMAIL not in json.dumps(records)

    # -- what must not change, and what the subject's data looks like before
    masks = {r[c] for r in direct["silver.app_events"] for c in ("email", "phone") if r.get(c)}
    assert masks and EMAIL not in masks
    before_counts = {f"{layer}.{t}": table(lake, layer, t).height for layer in ("bronze", "silver") for t in ("domain_events", "payment_events", "app_events", "vehicle_telemetry", "weather", "booking_events") if lake.delta_table(layer, t)}  # fmt: skip
    before_gold = gold_aggregates(lake)
    other_rows, other_bronze = rows_of(lake, other), bronze_rows_of_key(lake, key_ids(lake, other))
    other_export, _ = export(other, tmp_path, capsys)
    journeys = table(lake, "gold", "customer_journey_events")
    assert places_holding(lake, home, {user, EMAIL, PHONE, *masks}), "the search finds the subject before"

    # -- erase
    code, out, err = run_cli(["gdpr", "erase", "--user-id", user], capsys)
    receipt = json.loads(out)
    assert code == 0, err
    assert user not in out and EMAIL not in out and user not in err
    assert receipt["verification"]["clean"] and receipt["verification"]["files_scanned"] > 50
    assert receipt["subject"]["sha256"] and receipt["tables"]["keys/subject_keys"]["rows_removed"] == 1
    assert receipt["tables"]["gold/customer_journey_events"]["rows_removed"] == len(
        direct["gold.customer_journey_events"]
    )
    assert places_holding(lake, home, {user, EMAIL, PHONE, *masks}) == []

    # nothing else changed
    after_counts = {name: table(lake, *name.split(".")).height for name in before_counts}
    assert after_counts == before_counts
    assert all(gold_aggregates(lake)[n].equals(f) for n, f in before_gold.items())
    assert (
        table(lake, "gold", "customer_journey_events")
        .sort(journeys.columns)
        .equals(journeys.filter(pl.col("user_id") != user).sort(journeys.columns))
    )
    assert rows_of(lake, other) == other_rows
    assert bronze_rows_of_key(lake, key_ids(lake, other)) == other_bronze
    assert {k: v for k, v in export(other, tmp_path, capsys)[0].items() if k != "generated_at"} == {
        k: v for k, v in other_export.items() if k != "generated_at"
    }
    anonymous = table(lake, "silver", "booking_events").filter(
        pl.col("event_id").is_in([r["event_id"] for r in direct["silver.booking_events"]])
    )
    assert anonymous.height == len(direct["silver.booking_events"])
    assert (
        anonymous["user_id"].null_count() == anonymous.height
        and anonymous["latitude"].null_count() == anonymous.height
    )

    # the audit log: the export and the erasure, the subject only as the receipts' salted hashes
    audit_log = table(lake, "audit", "query_log")
    request, salt = re.search(r"audited as (export-\S+), subject sha256 salt ([0-9a-f]+)", printed).groups()
    for request_id, action, salt_of in (
        (request, "gdpr_export", salt),
        (receipt["request_id"], "gdpr_erase", receipt["subject"]["salt"]),
    ):
        entry = audit_log.filter(pl.col("request_id") == request_id).to_dicts()
        assert [(e["action"], e["outcome"]) for e in entry] == [(action, "ok")]
        assert entry[0]["subject_sha256"] == hashlib.sha256(f"{salt_of}{user}".encode()).hexdigest()
    assert (
        receipt["subject"]["sha256"]
        == hashlib.sha256(f"{receipt['subject']['salt']}{user}".encode()).hexdigest()
    )

    # the run in the UI: named by its request id, nothing of the subject in config or tags
    run = persistent_instance().get_runs(dg.RunsFilter(job_name=JOB))[0]
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags[REQUEST_TAG] == receipt["request_id"]
    assert user not in json.dumps(run.run_config) + json.dumps(dict(run.tags))

    # -- nothing brings the subject back: re-run every hour, then export and search again
    materialize(load_settings())
    assert places_holding(lake, home, {user, EMAIL, PHONE, *masks}) == []
    again, _ = export(user, tmp_path, capsys)
    assert again["records"] == []
    code, out, _ = run_cli(["gdpr", "verify", "--user-id", user, "--email", EMAIL, "--phone", PHONE], capsys)
    assert code == 0 and json.loads(out)["clean"]


def test_export_erase_and_verify_on_a_local_lake(tmp_path, monkeypatch, capsys):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        "MOBILITY_LAKE_ROOT": str(tmp_path / "lake"),
        "DAGSTER_HOME": str(home),
        "MOBILITY_LAKE_START": "2026-03-01-00:00",
    }
    lake, user, other = build_lake(env, monkeypatch)
    check_end_to_end(lake, user, other, home, tmp_path, capsys)


@pytest.mark.s3
def test_export_erase_and_verify_on_s3(s3_env, tmp_path, monkeypatch, capsys):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**s3_env, "DAGSTER_HOME": str(home), "MOBILITY_LAKE_START": "2026-03-01-00:00"}
    lake, user, other = build_lake(env, monkeypatch)
    assert lake.settings.is_s3
    check_end_to_end(lake, user, other, home, tmp_path, capsys)
