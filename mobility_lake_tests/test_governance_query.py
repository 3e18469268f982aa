"""Roles, masking, the closed query engine and the audit log (CONTRACT §7), through `mobility-lake query`.

The expected access below is CONTRACT §7's table written out again, not read from the policy module, so a
policy that drifts from the contract fails here.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from mobility_lake.cli import main
from mobility_lake.gold.marts import MARTS
from mobility_lake.governance.iam import iam_policy
from mobility_lake.governance.retention import archive_bronze
from mobility_lake.governance.statements import Statement
from mobility_lake.query import QueryError, _execute
from mobility_lake.settings import load_settings
from mobility_lake.silver.tables import SILVER_TABLES
from mobility_lake.simulate import DefectShares, simulate
from mobility_lake.storage import Lake
from mobility_lake_tests.core_lake import bronze_and_silver

START = datetime(2026, 3, 10, 6, tzinfo=UTC)
ROLES = ("data_scientist", "ml_engineer", "analyst", "operations", "admin")
# CONTRACT §7: True = every table of the layer, False = none, a set = those tables.
CONTRACT = {
    "data_scientist": {"bronze": False, "silver": True, "gold": True},
    "ml_engineer": {"bronze": False, "silver": True, "gold": True},
    "analyst": {"bronze": False, "silver": False, "gold": True},
    "operations": {"bronze": False, "silver": {"vehicle_telemetry", "booking_events"}, "gold": True},
    "admin": {"bronze": True, "silver": True, "gold": True},
}
ADMIN_ONLY = {"quarantine": "vehicle_telemetry", "audit": "query_log", "archive": "weather"}


def allowed(role: str, layer: str, table: str) -> bool:
    if layer in ADMIN_ONLY:
        return role == "admin"
    grant = CONTRACT[role][layer]
    return grant if isinstance(grant, bool) else table in grant


def cells() -> list[tuple[str, str, str]]:
    """Every cell of the table (one table a layer; each silver table where the grant names tables)."""
    found = []
    for role in ROLES:
        for layer in ("bronze", "silver", "gold"):
            tables = (
                [t.name for t in SILVER_TABLES]
                if layer == "silver" and isinstance(CONTRACT[role]["silver"], set)
                else [
                    {
                        "bronze": "vehicle_telemetry",
                        "silver": "booking_events",
                        "gold": "demand_by_zone_hour",
                    }[layer]
                ]
            )
            found += [(role, layer, table) for table in tables]
        found += [(role, layer, table) for layer, table in ADMIN_ONLY.items()]
    return found


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("lake")
    lake = Lake(load_settings({"MOBILITY_LAKE_ROOT": str(root)}))
    simulate(lake, START, 1, vehicles=12, seed=5, defects=DefectShares(malformed=0.05, out_of_range=0.03))
    bronze_and_silver(lake, [START], START - timedelta(days=1))
    demand = next(m for m in MARTS if m.name == "demand_by_zone_hour")
    rows = demand.build(lake, START, START + timedelta(hours=1))
    lake.replace_where(
        "gold", demand.name, rows, demand.rows_of(START), partition_by=list(demand.partition_by)
    )
    archive_bronze(lake, "weather", START + timedelta(hours=1), False, lambda _: None)
    assert lake.read("quarantine", "vehicle_telemetry").height > 0
    return lake


@pytest.fixture
def cli(lake, monkeypatch, capsys):
    monkeypatch.setenv("MOBILITY_LAKE_ROOT", lake.root)
    monkeypatch.setenv("MOBILITY_LAKE_USER", "tester")

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["query", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def last_audit(lake: Lake) -> dict:
    return lake.read("audit", "query_log").sort("time").row(-1, named=True)


@pytest.mark.parametrize(("role", "layer", "table"), cells())
def test_each_cell_of_the_role_table(lake, cli, role, layer, table):
    sql = f"select count(*) as n from {layer}.{table}"
    code, out, err = cli("--role", role, "--format", "csv", sql)
    entry = last_audit(lake)
    assert (entry["user"], entry["role"], entry["tables"]) == ("tester", role, [f"{layer}.{table}"])
    if allowed(role, layer, table):
        assert code == 0, err
        own_row = 1 if layer == "audit" else 0  # the query's own audit row is written after it ran
        assert int(out.splitlines()[1]) == lake.read(layer, table).height - own_row
        assert (entry["outcome"], entry["rows"]) == ("ok", 1)
    else:
        assert code == 1 and out == ""
        assert err.count("\n") == 1 and f"role {role} may not read {layer}.{table}" in err
        assert (entry["outcome"], entry["reason"], entry["rows"]) == (
            "denied",
            f"denied: {layer}.{table}",
            None,
        )


def test_the_role_defaults_to_the_setting_then_analyst(lake, cli, monkeypatch):
    code, _, err = cli("select count(*) from silver.weather")
    assert code == 1 and "role analyst may not read silver.weather" in err
    monkeypatch.setenv("MOBILITY_LAKE_ROLE", "ml_engineer")
    assert cli("select count(*) from silver.weather")[0] == 0
    assert last_audit(lake)["role"] == "ml_engineer"


def test_a_denied_table_anywhere_in_the_statement_denies_it(lake, cli):
    """A subquery, a CTE or a join reading bronze is found in the parse tree, not by a pattern."""
    for sql in (
        "with b as (select * from bronze.app_events) select count(*) from b",
        "select (select count(*) from bronze.app_events) as n",
        "select * from gold.demand_by_zone_hour d join bronze.app_events a on true limit 1",
        "select 1 as n union all select count(*) from BRONZE.APP_EVENTS",
    ):
        code, out, err = cli("--role", "data_scientist", sql)
        assert code == 1 and out == "" and "may not read bronze.app_events" in err, sql


@pytest.mark.parametrize("role", ["data_scientist", "ml_engineer", "admin"])
@pytest.mark.parametrize("column", ["email", "phone"])
def test_email_and_phone_are_masked_for_every_role_but_admin(lake, cli, role, column):
    stored = lake.read("silver", "app_events")[column].drop_nulls().to_list()
    assert stored
    code, out, err = cli(
        "--role",
        role,
        "--format",
        "json",
        f"select {column} from silver.app_events where {column} is not null",
    )
    assert code == 0, err
    shown = pl.read_json(out.encode())[column].to_list()
    assert sorted(shown) == (sorted(stored) if role == "admin" else ["[masked]"] * len(stored))
    # the mask is applied before the query sees the column: a filter on the stored value finds nothing
    code, out, _ = cli(
        "--role",
        role,
        "--format",
        "csv",
        f"select count(*) from silver.app_events where {column} = '{stored[0]}'",
    )
    assert int(out.splitlines()[1]) == (stored.count(stored[0]) if role == "admin" else 0)


def refused_statements(root: str, tmp: Path) -> list[tuple[str, str]]:
    return [
        ("select * from read_csv('/etc/passwd')", "file_read"),
        (f"select count(*) from read_parquet('{root}/silver/weather/*/*.parquet')", "file_read"),
        ("select * from glob('/etc/*')", "file_read"),
        ("select * from '/etc/passwd'", "unknown_table"),
        (f"copy (select * from gold.demand_by_zone_hour) to '{tmp}/out.csv'", "file_write"),
        (f"attach '{tmp}/other.duckdb' as other", "attach"),
        ("install httpfs", "extension"),
        ("load httpfs", "extension"),
        ("select 1; select count(*) from gold.demand_by_zone_hour", "multiple_statements"),
        ("create table gold.copy as select * from gold.demand_by_zone_hour", "ddl"),
        ("drop table gold.demand_by_zone_hour", "ddl"),
        ("insert into gold.demand_by_zone_hour select * from gold.demand_by_zone_hour", "dml"),
        ("update gold.demand_by_zone_hour set booking_count = 0", "dml"),
        ("delete from gold.demand_by_zone_hour", "dml"),
        ("set enable_external_access = true", "setting"),
        ("select * from _hidden", "unknown_table"),
    ]


@pytest.mark.parametrize("index", range(16))
def test_each_refused_statement_kind_is_one_line_exit_1_and_audited(lake, cli, tmp_path, index):
    sql, kind = refused_statements(lake.root, tmp_path)[index]
    gold_before = lake.read("gold", "demand_by_zone_hour")
    code, out, err = cli("--role", "admin", sql)
    assert code == 1 and out == "", sql
    assert err.count("\n") == 1 and "refused" in err
    entry = last_audit(lake)
    assert (entry["outcome"], entry["reason"], entry["role"]) == ("refused", kind, "admin")
    assert lake.read("gold", "demand_by_zone_hour").equals(gold_before)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('/etc/passwd')",
        "select * from read_text('/etc/hostname')",
        "copy (select 1) to '{tmp}/out.csv'",
        "attach '{tmp}/other.duckdb' as other",
        "install httpfs",
        "set enable_external_access = true",
    ],
)
def test_the_engine_itself_is_closed_when_a_statement_passes_the_parser(tmp_path, sql):
    """The second wall: DuckDB with external access off and its configuration locked."""
    text = sql.format(tmp=tmp_path)
    with pytest.raises(QueryError, match="Permission Error|Invalid Input Error"):
        _execute(Statement(text, (), text), {}, masked=True)
    assert list(tmp_path.iterdir()) == []


def test_the_audit_log_holds_no_personal_value_from_any_statement(lake, cli):
    admin_view = lake.read("silver", "app_events").drop_nulls("email").row(0, named=True)
    user, mask = admin_view["user_id"], admin_view["email"]
    typed = "jane.doe@example.org"
    statements = [
        f"select count(*) from silver.app_events where user_id = '{user}' or email = '{mask}'",
        f"select user_id as \"{typed}\" from silver.app_events where user_id = '{user}'",
        f"select 1 as n -- looking for {typed}\nfrom gold.demand_by_zone_hour",
        f'with "{user}" as (select * from silver.app_events) select count(*) from "{user}"',
        f"select * from silver.app_events where user_id = '{user}'; select '{typed}'",
        f"select {user.replace('-', '_')} from silver.app_events",
        f"call my_function('{typed}')",
    ]
    for role in ("admin", "data_scientist", "analyst"):
        for sql in statements:
            cli("--role", role, sql)
    log = lake.read("audit", "query_log")
    assert log.height >= len(statements) * 3
    texts = [str(row) for row in log.iter_rows()]
    files = [p.read_bytes() for p in Path(lake.root, "audit").rglob("*") if p.is_file()]
    for value in (user, mask, typed, user.replace("-", "_")):
        assert not any(value in text for text in texts), value
        assert not any(value.encode() in payload for payload in files), value
    assert set(log["outcome"]) >= {"ok", "denied", "refused", "failed"}


def test_storage_policies_follow_the_same_table():
    """Each role's IAM policy reads exactly the prefixes its cells allow, never keys/ or landing/."""
    for role in ROLES:
        policy = iam_policy(role, "s3://bucket/prod")
        readable = policy["Statement"][1]["Resource"]
        listed = policy["Statement"][0]["Condition"]["StringLike"]["s3:prefix"]
        assert [r.removeprefix("arn:aws:s3:::bucket/") for r in readable] == listed
        for role_, layer, table in cells():
            if role_ != role:
                continue
            path = f"prod/{layer}/{table}/_delta_log/00000000000000000000.json"
            assert any(path.startswith(p.removesuffix("*")) for p in listed) == allowed(role, layer, table)
        assert not any(p.startswith(("prod/keys", "prod/landing", "prod/_locks")) for p in listed)


def test_the_policy_shown_in_the_docs_is_the_one_generated():
    text = (Path(__file__).parents[1] / "docs" / "governance.md").read_text()
    shown = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    assert shown == iam_policy("operations", "s3://mobility-lake/prod")
