"""The `mobility-lake` command: simulate landing files, materialize hour ranges, query tables, run the demo,
and answer a subject's GDPR requests (export, erase, verify).

A bad argument or setting exits with status 2 and one line that says what was expected.
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mobility_lake.events.catalogue import LANDING_SUFFIXES, TOPICS, TOPICS_BY_NAME
from mobility_lake.orchestration.runs import RunFailed, bronze_due
from mobility_lake.preflight import check_root
from mobility_lake.settings import SettingsError, load_settings
from mobility_lake.simulate.layout import LANDING_FORMATS

TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H")
DEMO_HOURS = 3
DEMO_VEHICLES = 150
DEMO_FORMATS = {"payment.events": "avro"}  # one topic as a schema-registry topic lands: Avro containers
MIN_USER_ID = 6


class Refusal(Exception):
    """The command was understood but is not allowed (a role's access, a closed query engine): exit 1."""


class UsageError(Exception):
    """A bad command-line argument; the message is the one line the user sees."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message}")


def iso_hour(text: str) -> datetime:
    """A UTC whole hour such as 2026-03-10T08:00 (a trailing Z or +00:00 is accepted)."""
    cleaned = text.strip().removesuffix("Z").removesuffix("+00:00")
    for fmt in TIME_FORMATS:
        try:
            value = datetime.strptime(cleaned, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        if value.minute or value.second:
            break
        return value
    raise argparse.ArgumentTypeError(f"'{text}' is not a UTC whole hour: expected e.g. 2026-03-10T08:00")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number >= 0")
    return value


def landing_format(text: str) -> tuple[str, str]:
    """`avro` (every topic) or `TOPIC=avro` (one topic), of any landing format."""
    topic, _, form = text.rpartition("=")
    topics = [t.name for t in TOPICS]
    if form not in LANDING_FORMATS or (topic and topic not in topics):
        raise argparse.ArgumentTypeError(
            f"'{text}' is not FORMAT or TOPIC=FORMAT: formats {', '.join(LANDING_FORMATS)}; "
            f"topics {', '.join(topics)}"
        )
    return topic, form


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mobility-lake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sim = commands.add_parser("simulate", help="write realistic landing files for N hours from T")
    sim.add_argument("--start", type=iso_hour, required=True, help="first hour, e.g. 2026-03-10T08:00 (UTC)")
    sim.add_argument("--hours", type=positive_int, required=True)
    sim.add_argument("--vehicles", type=positive_int, default=200)
    sim.add_argument("--seed", type=non_negative_int, default=7)
    sim.add_argument(
        "--format",
        dest="formats",
        type=landing_format,
        action="append",
        default=[],
        metavar="[TOPIC=]FORMAT",
        help="write every topic's files (or one topic's) in FORMAT, e.g. avro or veh.events.raw=avro; repeatable",
    )
    mat = commands.add_parser("materialize", help="run the lake's assets for the hours in [start, end)")
    mat.add_argument("--start", type=iso_hour, required=True)
    mat.add_argument("--end", type=iso_hour, required=True)
    query = commands.add_parser("query", help="run SQL over the lake's tables, named layer.table")
    query.add_argument("sql")
    query.add_argument(
        "--role", type=role, help="the role to query as (default: MOBILITY_LAKE_ROLE, else analyst)"
    )
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument(
        "--as-of", type=as_of_arg, help="read every table as of a version (12) or a time (2026-03-10T08:00)"
    )
    history = commands.add_parser("history", help="list a table's versions: operation, time, row changes")
    history.add_argument("table", type=table_name, help="layer.table, e.g. silver.vehicle_telemetry")
    history.add_argument("--limit", type=positive_int, default=50, help="the most recent N versions (50)")
    commands.add_parser(
        "demo", help="simulate a few hours of a small fleet, materialize them, print a summary"
    )
    lineage = commands.add_parser(
        "lineage", help="print where each column of a table comes from, down to the landing topics"
    )
    lineage.add_argument("table", help="layer.table, e.g. gold.demand_by_zone_hour")
    lineage.add_argument("--column", help="only this column")
    retention = commands.add_parser(
        "retention",
        help="archive and delete what is past each layer's retention (MOBILITY_LAKE_RETENTION_DAYS)",
    )
    retention.add_argument("--now", type=iso_hour, help="apply retention as of this hour (default: now)")
    retention.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    maintain = commands.add_parser(
        "maintain", help="compact, Z-order, vacuum and checkpoint the lake's tables, as a Dagster run"
    )
    maintain.add_argument("--table", type=table_name, help="only this table, layer.table (default: all)")
    maintain.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    maintain.add_argument(
        "--now", type=iso_hour, help="judge closed partitions as of this hour (default: now)"
    )
    replay = commands.add_parser(
        "replay", help="write the archived events of arrival hours [start, end) as CloudEvents JSON lines"
    )
    replay.add_argument("--topic", required=True, help="the Kafka topic, e.g. veh.events.raw")
    replay.add_argument("--start", type=iso_hour, required=True, help="first arrival hour (UTC)")
    replay.add_argument("--end", type=iso_hour, required=True, help="arrival hour after the last")
    replay.add_argument(
        "--out", required=True, help="directory to write DIR/{topic}/year=…/hour=…/ files into"
    )
    gdpr = commands.add_parser("gdpr", help="export or erase one subject's data, or verify an erasure")
    requests = gdpr.add_subparsers(dest="gdpr_command", required=True, parser_class=_Parser)
    export = requests.add_parser("export", help="write every record about U, encrypted to an age recipient")
    export.add_argument("--user-id", type=user_id, required=True)
    export.add_argument("--recipient", required=True, help="the requester's age X25519 public key (age1...)")
    export.add_argument("--out", required=True, help="file to write the encrypted document to")
    erase = requests.add_parser("erase", help="erase U from every table, version, log and landing file")
    erase.add_argument("--user-id", type=user_id, required=True)
    verify = requests.add_parser("verify", help="scan every file of the lake and Dagster home for U")
    verify.add_argument("--user-id", type=user_id, required=True)
    verify.add_argument("--email", action="append", default=[], help="also look for this e-mail")
    verify.add_argument("--phone", action="append", default=[], help="also look for this phone number")
    return parser


def role(text: str) -> str:
    from mobility_lake.governance.policy import ROLES

    if text not in ROLES:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a role: expected one of {', '.join(ROLES)}")
    return text


def as_of_arg(text: str):
    from mobility_lake.history import TimeTravelError, parse_as_of

    try:
        return parse_as_of(text)
    except TimeTravelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def table_name(text: str) -> str:
    from mobility_lake.maintenance import targets

    names = [t.name for t in targets()]
    if text not in names:
        raise argparse.ArgumentTypeError(f"'{text[:60]}' is not a table: expected one of {', '.join(names)}")
    return text


def user_id(text: str) -> str:
    """A subject's user_id as the lake holds it: text without control characters, long enough that
    searching every file for it cannot hit unrelated short values (`1` is in almost every file)."""
    if len(text.strip()) < MIN_USER_ID or any(ord(c) < 32 for c in text):
        raise argparse.ArgumentTypeError(
            f"'{text[:20].encode('unicode_escape').decode()}' is not a user id to search the lake for: expected at least {MIN_USER_ID} characters "
            "without control characters"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        settings = load_settings()
        if getattr(args, "end", None) is not None and args.end <= args.start:
            raise UsageError(f"mobility-lake {args.command}: --end must be after --start")
        if args.command != "lineage":  # every other command reads or writes the lake
            writes = not (
                (args.command == "gdpr" and args.gdpr_command == "verify")
                or (args.command in ("retention", "maintain") and args.dry_run)
                or args.command == "history"
            )  # a query writes the audit log
            check_root(settings, writes=writes)
        return COMMANDS[args.command](args, settings)
    except (UsageError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RunFailed, Refusal) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_simulate(args: argparse.Namespace, settings) -> int:
    from mobility_lake.simulate import simulate
    from mobility_lake.storage import Lake

    formats: dict[str, str] = {}
    for topic, form in args.formats:  # a later flag wins: `--format avro --format weather=jsonl`
        formats |= {topic: form} if topic else {t.name: form for t in TOPICS}
    summary = simulate(
        Lake(settings), args.start, args.hours, vehicles=args.vehicles, seed=args.seed, formats=formats
    )
    print(
        f"simulated {args.hours} hour(s) from {args.start:%Y-%m-%dT%H:%M}: {summary.files} files, "
        f"{summary.lines} lines ({summary.events} events) in {summary.seconds:.1f} s under {settings.root}/landing"
    )
    return 0


def cmd_materialize(args: argparse.Namespace, settings) -> int:
    _materialize(settings, args.start, args.end)
    return 0


def _materialize(settings, start: datetime, end: datetime, instance=None, runs=None) -> None:
    """`materialize`, printing a line per run; `instance` and `runs` default to the persistent instance
    and runs launched in the code location."""
    from mobility_lake.orchestration.jobs import BRONZE_JOB, SILVER_JOB
    from mobility_lake.orchestration.runs import ChunkResult, materialize, persistent_instance

    if start < settings.start:
        raise UsageError(
            f"mobility-lake materialize: --start {start:%Y-%m-%dT%H:%M} is before MOBILITY_LAKE_START "
            f"({settings.start:%Y-%m-%dT%H:%M})"
        )

    def total(chunk: ChunkResult, name: str) -> int:
        return sum(int(f.get(name, 0)) for parts in chunk.metadata.values() for f in parts.values())

    def report(chunk: ChunkResult) -> None:
        if chunk.job == BRONZE_JOB:
            done = f"{total(chunk, 'files_added')} new file(s), {total(chunk, 'rows_added')} row(s)"
            if skipped := total(chunk, "files_skipped"):
                done += f", {skipped} file(s) skipped (not {', '.join(LANDING_SUFFIXES)})"
        elif chunk.job == SILVER_JOB:
            done = (
                f"{total(chunk, 'silver_rows')} silver row(s), {total(chunk, 'quarantined_rows')} quarantined"
            )
        else:
            done = ", ".join(
                f"{key.split('/')[-1]} {sum(int(f.get('rows_written', 0)) for f in parts.values())} row(s)"
                for key, parts in chunk.metadata.items()
            )
        print(
            f"  {chunk.job} {chunk.start:%Y-%m-%dT%H:%M} .. {chunk.end:%Y-%m-%dT%H:%M}: {done} in "
            f"{chunk.seconds:.1f} s (run {chunk.run_id})",
            flush=True,
        )
        for check in chunk.failed_checks:
            print(f"  check failed: {check}", flush=True)
        if chunk.job == BRONZE_JOB and (late := bronze_due([chunk], settings)).rows_too_late:
            first, last = min(late.late_hours), max(late.late_hours) + timedelta(hours=1)
            print(
                f"  {late.rows_too_late} event(s) arrived more than {settings.lateness_hours} h after their hour "
                f"and stay in bronze; place them with: mobility-lake materialize --start {first:%Y-%m-%dT%H:%M} "
                f"--end {last:%Y-%m-%dT%H:%M}",
                flush=True,
            )

    instance = instance or persistent_instance()
    print(f"materializing {start:%Y-%m-%dT%H:%M} .. {end:%Y-%m-%dT%H:%M} into {settings.root}", flush=True)
    materialize(settings, start, end, instance, report, runs=runs)


def cmd_query(args: argparse.Namespace, settings) -> int:
    from mobility_lake.query import AccessDenied, QueryError, render, run_query
    from mobility_lake.storage import Lake

    lake = Lake(settings)
    try:
        frame = run_query(lake, args.sql, args.role or settings.role, settings.user, args.as_of)
    except AccessDenied as exc:
        raise Refusal(f"mobility-lake query: {exc}") from None
    except QueryError as exc:
        raise UsageError(f"mobility-lake query: {exc}") from None
    print(render(frame, args.format), end="" if args.format != "table" else "\n")
    return 0


def cmd_demo(args: argparse.Namespace, settings) -> int:
    from mobility_lake.simulate import simulate
    from mobility_lake.storage import Lake
    from mobility_lake.summary import lake_summary

    began = time.monotonic()
    lake = Lake(settings)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = max(end - timedelta(hours=DEMO_HOURS), settings.start)
    hours = int((end - start) / timedelta(hours=1))
    if hours < 1:
        raise UsageError(
            f"mobility-lake demo: MOBILITY_LAKE_START ({settings.start_key}) leaves no complete hour before now"
        )
    summary = simulate(lake, start, hours, vehicles=DEMO_VEHICLES, seed=7, formats=DEMO_FORMATS)
    print(
        f"simulated the last {hours} complete hours ({start:%Y-%m-%dT%H:%M} .. {end:%Y-%m-%dT%H:%M} UTC) of "
        f"{DEMO_VEHICLES} vehicles: {summary.files} files, {summary.lines} lines "
        f"({', '.join(f'{topic} as {form}' for topic, form in DEMO_FORMATS.items())})"
    )
    _materialize(settings, start, end)
    print(lake_summary(lake))
    print(f"demo finished in {time.monotonic() - began:.0f} s")
    print(f"open the UI: {ui_command()}, then {UI_URL}")
    return 0


def cmd_lineage(args: argparse.Namespace, settings) -> int:
    from mobility_lake.lineage import lineage_chain

    try:
        lines = lineage_chain(args.table, args.column)
    except ValueError as exc:
        raise UsageError(f"mobility-lake lineage: {exc}") from None
    print("\n".join(lines))
    return 0


def cmd_gdpr(args: argparse.Namespace, settings) -> int:
    from mobility_lake.storage import Lake

    lake = Lake(settings)
    return {"export": gdpr_export, "erase": gdpr_erase, "verify": gdpr_verify}[args.gdpr_command](args, lake)


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def gdpr_export(args: argparse.Namespace, lake) -> int:
    import uuid

    from mobility_lake.gdpr.export import RecipientError, count_line, encrypted, export_document, recipient
    from mobility_lake.governance.audit import salted_subject

    try:
        to = recipient(args.recipient)
    except RecipientError as exc:
        raise UsageError(f"mobility-lake gdpr export: {exc}") from None
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"mobility-lake gdpr export: --out {out}: no such directory {out.parent}")
    request_id = f"export-{uuid.uuid4()}"
    salt, digest = salted_subject(args.user_id)
    document, counts = export_document(lake, args.user_id, progress)
    scratch = out.with_name(f".{out.name}.writing")
    scratch.write_bytes(encrypted(document, to))
    scratch.replace(out)
    _audit_request(lake, "gdpr_export", request_id, digest, "ok", rows=sum(counts.values()))
    print(
        f"exported {count_line(counts)} to {out}, encrypted to {args.recipient.strip()[:16]}…; "
        f"audited as {request_id}, subject sha256 salt {salt}"
    )
    return 0


def _audit_request(lake, action: str, request_id: str, digest: str, outcome: str, **more) -> None:
    """A GDPR request's row in the audit log: the subject only as a salted hash."""
    from mobility_lake.governance import audit

    settings = lake.settings
    audit.record(
        lake,
        audit.Entry(
            settings.user,
            settings.role,
            action,
            outcome,
            subject_sha256=digest,
            request_id=request_id,
            **more,
        ),
    )


def gdpr_erase(args: argparse.Namespace, lake) -> int:
    import json
    import uuid

    from mobility_lake.governance.audit import salted_subject
    from mobility_lake.lake_lock import LakeLocked
    from mobility_lake.orchestration.erasure_run import run_erasure
    from mobility_lake.settings import dagster_home

    request_id = f"erasure-{uuid.uuid4()}"
    salt, digest = salted_subject(args.user_id)
    began = datetime.now(UTC)
    progress(f"request {request_id}")
    try:
        run_id, erasure = run_erasure(lake, dagster_home(), args.user_id, request_id, progress)
    except RuntimeError as exc:  # LakeLocked: refused; otherwise the run failed
        outcome = "refused" if isinstance(exc, LakeLocked) else "failed"
        _audit_request(lake, "gdpr_erase", request_id, digest, outcome, reason=type(exc).__name__)
        print(f"error: mobility-lake gdpr erase: {exc}", file=sys.stderr)
        return 1
    clean = erasure.verification is not None and not erasure.verification.findings
    _audit_request(
        lake, "gdpr_erase", request_id, digest, "ok" if clean else "failed",
        reason=None if clean else "verification found the subject",
    )  # fmt: skip
    receipt = {
        "request_id": request_id,
        "time": began.isoformat(timespec="seconds"),
        "subject": {"salt": salt, "sha256": digest},
        "dagster_run_id": run_id,
        **erasure.as_dict(),
    }
    print(json.dumps(receipt, indent=2))
    return 0 if clean else 1


def gdpr_verify(args: argparse.Namespace, lake) -> int:
    import json

    from mobility_lake.gdpr.holdings import identifiers_of
    from mobility_lake.gdpr.scan import Identifiers, scan
    from mobility_lake.settings import dagster_home

    known = identifiers_of(lake, args.user_id).by_kind
    identifiers = Identifiers(
        {**known, "email": known["email"] | set(args.email), "phone": known["phone"] | set(args.phone)}
    )
    report = scan(lake, dagster_home(), identifiers, progress)
    print(json.dumps(report.as_dict(), indent=2))
    return 0 if not report.findings else 1


UI_URL = "http://127.0.0.1:3000"


def ui_command() -> str:
    """The command that opens this instance's UI on the same lake (run from the project directory)."""
    from mobility_lake.settings import dagster_home

    return f"DAGSTER_HOME={dagster_home()} .venv/bin/dagster dev -w workspace.yaml"


def cmd_retention(args: argparse.Namespace, settings) -> int:
    from mobility_lake.governance.retention import RetentionError
    from mobility_lake.lake_lock import LakeLocked
    from mobility_lake.orchestration.retention_run import retain
    from mobility_lake.orchestration.runs import persistent_instance
    from mobility_lake.storage import Lake

    now = args.now or datetime.now(UTC)
    try:
        with persistent_instance() as instance:
            report = retain(Lake(settings), instance, now, args.dry_run, progress)
    except (LakeLocked, RetentionError) as exc:
        raise Refusal(f"mobility-lake retention: {exc}") from None
    print("\n".join(report.lines()))
    return 0


def cmd_maintain(args: argparse.Namespace, settings) -> int:
    """A dry run reads the tables here and changes nothing; a pass runs as the `maintenance` job, so the
    UI shows it with the daily ones."""
    import dagster as dg

    from mobility_lake.orchestration import maintenance_run as run
    from mobility_lake.orchestration.runs import (
        code_server,
        launch,
        persistent_instance,
        recorded,
        run_config,
        wait,
    )

    now = args.now or datetime.now(UTC)
    with persistent_instance() as instance:
        if args.dry_run:
            from mobility_lake.maintenance import maintain
            from mobility_lake.storage import Lake

            outcomes = maintain(Lake(settings), now, run.busy_from(instance), args.table, True, progress)
            print("dry run, nothing changed; a pass would leave:")
            print("\n".join(o.line() for o in outcomes))
            return 0
        config = {
            **run_config(settings),
            "ops": {run.OP: {"config": {"now": now.isoformat(), "table": args.table}}},
        }
        with code_server() as workspace:
            run_id = launch(workspace, run.JOB, {}, config)
            progress(f"maintenance run {run_id} launched")
            ended = wait(instance, run_id, progress)
        if ended.status != dg.DagsterRunStatus.SUCCESS:
            raise RunFailed(f"maintenance run {run_id} ended {ended.status.value}: open it in the UI")
        metadata, _ = recorded(instance, run_id)
    print(metadata[run.KEY.to_user_string()][None][run.REPORT])
    return 0


def cmd_replay(args: argparse.Namespace, settings) -> int:
    import uuid

    from mobility_lake.governance import audit
    from mobility_lake.replay import ReplayError, replay
    from mobility_lake.storage import Lake

    lake = Lake(settings)
    try:
        done = replay(lake, args.topic, args.start, args.end, Path(args.out), progress)
    except ReplayError as exc:
        raise UsageError(f"mobility-lake replay: {exc}") from None
    table = f"bronze.{TOPICS_BY_NAME[args.topic].bronze_table}"
    audit.record(  # the files hold personal data in clear: who wrote them out is on record
        lake,
        audit.Entry(
            settings.user, settings.role, "replay", "ok", tables=(table,), rows=done.events,
            request_id=f"replay-{uuid.uuid4()}",
        ),
    )  # fmt: skip
    print(
        f"replayed {args.topic} {args.start:%Y-%m-%dT%H:%M} .. {args.end:%Y-%m-%dT%H:%M} into {args.out}: "
        f"{done.files} file(s), {done.events} event(s), {done.unparsed_lines} unparsed line(s) as they landed, "
        f"{done.not_events} file-level record(s) not written"
    )
    return 0


def cmd_history(args: argparse.Namespace, settings) -> int:
    from mobility_lake.history import TimeTravelError, render, versions
    from mobility_lake.storage import Lake

    try:
        found = versions(Lake(settings), *args.table.split("."), args.limit)
    except TimeTravelError as exc:
        raise UsageError(f"mobility-lake history: {exc}") from None
    print(render(found))
    return 0


COMMANDS = {
    "simulate": cmd_simulate,
    "materialize": cmd_materialize,
    "query": cmd_query,
    "demo": cmd_demo,
    "lineage": cmd_lineage,
    "gdpr": cmd_gdpr,
    "retention": cmd_retention,
    "maintain": cmd_maintain,
    "history": cmd_history,
    "replay": cmd_replay,
}


if __name__ == "__main__":
    sys.exit(main())
