"""``poshbridge audit``: renewal logs and certificate health, per host, for people and monitoring.

Exit codes follow the Nagios plugin convention, NOT the other commands' 0/1/2 meaning:
0 = every host OK, 1 = at least one WARN, 2 = at least one CRIT (also: a --log file that cannot be
read, or an inventory/target error), 3 = UNKNOWN (a host whose state could not be read, and nothing
worse). The verdicts come from the one health model (:mod:`poshbridge.health.model`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poshbridge.audit.capped import DEFAULT_MAX_FILE_SIZE, parse_size
from poshbridge.cli.common import INSECURE_HELP, add_shard_option, shard_line, wrote_line
from poshbridge.cli.plain import escape_markup as _markup_escape
from poshbridge.defaults import DEFAULT_CRIT_DAYS, DEFAULT_WARN_DAYS
from poshbridge.textsafe import safe_json_text, safe_text
from poshbridge.timefmt import format_minute, format_timestamp

if TYPE_CHECKING:
    from rich.console import Console

    from poshbridge.audit.transcript import RenewalResult, TranscriptFile
    from poshbridge.audit.verdict import HostVerdict

# The parser is built for every command (--help, --version): what only an audit needs (the health
# model, the transcript parser, rich) is imported in the functions that use it.

DEFAULT_PARALLEL = 10
DEFAULT_MAX_LOGS = 10

# one style per level of poshbridge.health.model.LEVELS (their names; the model is not imported here)
_LEVEL_STYLE = {"OK": "green", "WARN": "yellow", "UNKNOWN": "magenta", "CRIT": "bold red"}


def escape(text: str) -> str:
    """A value for a table cell or a message: control characters made visible, markup escaped."""
    return _markup_escape(safe_text(text))


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "audit",
        parents=[common],
        help="audit renewal logs and certificate health (exit 0/1/2 = OK/WARN/CRIT)",
        description=(
            "Read what each host's renewal runs left behind (transcripts, result files), Posh-ACME's "
            "certificate, the renewal task and the IIS binding, probe what the site serves, and give a "
            "verdict per host. With --log, audit local transcript/result files offline instead. "
            "Exit codes follow the Nagios convention: 0 OK, 1 WARN, 2 CRIT."
        ),
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="hosts, groups, patterns or 'all'")
    parser.add_argument(
        "--log",
        dest="logs",
        action="extend",
        nargs="+",
        metavar="FILE",
        default=[],
        help="audit local transcript (.txt) or result (.json) files offline; no inventory needed",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument(
        "--prometheus",
        metavar="FILE",
        help="write a node_exporter textfile (*.prom); '-' writes it to stdout instead of the table",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the fleet report: one self-contained HTML file (table, timeline, runs; works offline); "
        "'-' writes it to stdout",
    )
    parser.add_argument(
        "--warn-days",
        type=_non_negative,
        default=DEFAULT_WARN_DAYS,
        metavar="N",
        help=f"WARN when the certificate expires within N days (default {DEFAULT_WARN_DAYS})",
    )
    parser.add_argument(
        "--crit-days",
        type=_non_negative,
        default=DEFAULT_CRIT_DAYS,
        metavar="N",
        help=f"CRIT when the certificate expires within N days (default {DEFAULT_CRIT_DAYS})",
    )
    parser.add_argument(
        "--parallel",
        type=_positive,
        default=DEFAULT_PARALLEL,
        metavar="N",
        help=f"hosts audited at the same time (default {DEFAULT_PARALLEL})",
    )
    parser.add_argument(
        "--max-logs",
        type=_positive,
        default=DEFAULT_MAX_LOGS,
        metavar="N",
        help=f"newest renewal runs read per host (default {DEFAULT_MAX_LOGS})",
    )
    parser.add_argument(
        "--max-file-size",
        type=_size,
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="SIZE",
        help="read at most SIZE of each log file, local or remote (64M, 512K, 1G; default 64M); "
        "a file cut there is a WARN 'truncated at cap'",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help=INSECURE_HELP,
    )
    parser.add_argument(
        "--lang",
        choices=("en", "ja"),
        default="en",
        help="language of the CA's explanation of a failed run's ACME error (default en)",
    )
    add_shard_option(parser)
    parser.set_defaults(func=run)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def run(args: argparse.Namespace) -> int:
    from poshbridge.audit.verdict import CRIT, EXIT_CODES
    from poshbridge.output import make_console

    console = make_console()
    err = make_console(stderr=True)
    now = datetime.now(timezone.utc)
    if args.crit_days > args.warn_days:
        err.print("[red]error:[/] --crit-days must not be larger than --warn-days")
        return EXIT_CODES[CRIT]
    to_stdout = [name for name, on in (("--json", args.json), ("--prometheus -", args.prometheus == "-"),
                                        ("--html -", args.html == "-")) if on]  # fmt: skip
    if len(to_stdout) > 1:
        err.print(f"[red]error:[/] {' and '.join(to_stdout)} all write to stdout: choose one")
        return EXIT_CODES[CRIT]
    if args.logs:
        if args.targets:
            err.print("[red]error:[/] give either TARGETs (remote audit) or --log FILEs (offline), not both")
            return EXIT_CODES[CRIT]
        if args.shard is not None:
            err.print("[red]error:[/] --shard slices the hosts of a remote audit; it does not apply to --log")
            return EXIT_CODES[CRIT]
        return _run_offline(args, console, err, now)
    return _run_remote(args, console, err, now)


# ----- offline: --log FILE... ----------------------------------------------------------------------


def audit_log_files(
    paths: Sequence[str],
    *,
    now: datetime,
    warn_days: int,
    crit_days: int,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> tuple[list[dict[str, Any]], list[HostVerdict], list[str]]:
    """Parse local files, each streamed and read up to ``max_file_size`` bytes (a file cut there
    gets a "truncated at cap" WARN). Returns (per-file JSON, one verdict per transcript group,
    read errors)."""
    from poshbridge.audit.capped import RESULT_FILE_MAX, CappedReader, truncation_note
    from poshbridge.audit.logcheck import HEAD_SAMPLE, check_head, header_problem, json_problem
    from poshbridge.audit.transcript import pair_runs, parse_result_file, parse_transcript_stream
    from poshbridge.audit.verdict import HostFacts, evaluate

    transcripts: list[TranscriptFile] = []
    results: list[RenewalResult] = []
    files_json: list[dict[str, Any]] = []
    problems: list[str] = []
    truncated: dict[str, str] = {}  # source name -> the WARN reason
    verdicts: list[HostVerdict] = []
    for name in paths:
        path = Path(name)
        try:
            with path.open("rb") as handle:
                # a head sample first: an empty, binary or non-result JSON file is a finding of its own
                is_json = path.suffix.lower() == ".json"
                sample = min(RESULT_FILE_MAX if is_json else HEAD_SAMPLE, max_file_size)
                head = handle.read(sample + 1)
                problem = check_head(path.name, head, complete=len(head) <= sample)
                if problem is None and is_json:
                    result = parse_result_file(head, path.name) if len(head) <= RESULT_FILE_MAX else None
                    if result is not None:
                        results.append(result)
                        files_json.append({"file": name, "result": result.to_json(), "sessions": []})
                        continue
                    problem = json_problem(path.name, head, complete=len(head) <= RESULT_FILE_MAX)
                parsed = None
                if problem is None:
                    reader = CappedReader(handle, max_file_size, head=head)
                    parsed = parse_transcript_stream(reader, path.name)
                    problem = header_problem(path.name, parsed)
        except OSError as exc:
            problems.append(f"{name}: {exc.strerror or exc}")
            files_json.append({"file": name, "error": str(exc.strerror or exc), "sessions": []})
            continue
        if problem is not None or parsed is None:
            # not a usable log: a verdict of its own (WARN with the reason), never silently OK
            why = problem or f"{path.name}: not a usable renewal log"
            files_json.append({"file": name, "problem": why, "sessions": []})
            unusable = HostFacts(host=name, log_problems=[why])
            verdicts.append(evaluate(unusable, now=now, warn_days=warn_days, crit_days=crit_days))
            continue
        transcripts.append(parsed)
        entry = parsed.to_json()
        entry["file"] = name
        if reader.truncated:
            truncated[path.name] = truncation_note(name, max_file_size)
            entry["truncated_at"] = max_file_size
        files_json.append(entry)
    # One verdict per file: its own runs (a result file joins the transcript it names).
    runs = pair_runs(transcripts, results)
    by_source: dict[str, list[Any]] = {}
    for run in runs:
        by_source.setdefault(run.source, []).append(run)
    for source in truncated:
        by_source.setdefault(source, [])
    for source, source_runs in by_source.items():
        facts = HostFacts(host=source, order=_order_of(source_runs), runs=source_runs)
        if source in truncated:
            facts.collection_errors.append(truncated[source])
        verdicts.append(evaluate(facts, now=now, warn_days=warn_days, crit_days=crit_days))
    return files_json, verdicts, problems


def _order_of(runs: Sequence[Any]) -> str | None:
    for run in reversed(runs):
        if run.result is not None and run.result.order:
            return str(run.result.order)
        if run.session is not None and run.session.orders:
            return str(run.session.orders[-1])
    return None


def _run_offline(args: argparse.Namespace, console: Console, err: Console, now: datetime) -> int:
    import json

    from poshbridge.audit.verdict import CRIT, EXIT_CODES, worst_level

    files_json, verdicts, problems = audit_log_files(
        args.logs,
        now=now,
        warn_days=args.warn_days,
        crit_days=args.crit_days,
        max_file_size=args.max_file_size,
    )
    for problem in problems:
        err.print(f"[red]cannot read[/] {escape(problem)}")
    prometheus_failed = not _write_prometheus(args.prometheus, verdicts, now, err)
    prometheus_failed |= not write_html_report(args, verdicts, now, "--log files", {}, err)
    if args.json:
        doc = {
            "mode": "offline",
            "generated": format_timestamp(now),
            "files": files_json,
            "verdicts": [v.to_json(include_runs=False) for v in verdicts],
        }
        sys.stdout.write(safe_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")
    elif args.prometheus != "-" and args.html != "-":
        _render_sessions(console, files_json)
        render_findings(console, verdicts)
    level = worst_level([v.level for v in verdicts] + ([CRIT] if problems or prometheus_failed else []))
    return EXIT_CODES[level]


def write_html_report(
    args: argparse.Namespace,
    verdicts: Sequence[HostVerdict],
    now: datetime,
    inventory_name: str,
    groups: dict[str, list[str]],
    err: Console,
) -> bool:
    """``--html FILE``: the self-contained fleet report (poshbridge.report.html)."""
    path = getattr(args, "html", None)
    if not path:
        return True
    from poshbridge.report.html import render_fleet_report

    if inventory_name.endswith((".yaml", ".yml")):
        inventory_name = Path(inventory_name).name
    page = render_fleet_report(
        verdicts,
        generated=now,
        inventory_name=inventory_name,
        groups=groups,
        warn_days=args.warn_days,
        crit_days=args.crit_days,
        lang=str(args.lang),
    )
    if path == "-":  # stdout, like --prometheus -
        sys.stdout.write(page)
        sys.stdout.flush()
        return True
    try:
        Path(path).write_text(page, encoding="utf-8")
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write {escape(path)}: {escape(str(exc.strerror or exc))}")
        return False
    err.print(escape(wrote_line(path, f"HTML fleet report, {len(verdicts)} host(s)")), soft_wrap=True)
    return True


def _write_prometheus(path: str | None, verdicts: Sequence[HostVerdict], now: datetime, err: Console) -> bool:
    from poshbridge.audit.prometheus import render_textfile, write_textfile

    if not path:
        return True
    text = render_textfile(verdicts, now=now)
    if path == "-":  # stdout, like -o - elsewhere
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    try:
        write_textfile(path, text)
    except OSError as exc:
        err.print(f"[red]error:[/] cannot write {escape(path)}: {escape(str(exc.strerror or exc))}")
        return False
    err.print(escape(wrote_line(path, f"Prometheus textfile, {len(verdicts)} host(s)")), soft_wrap=True)
    return True


def _render_sessions(console: Console, files_json: Sequence[dict[str, Any]]) -> None:
    from rich.table import Table

    from poshbridge.audit.capped import truncation_note

    table = Table(title="Renewal transcripts", show_lines=False)
    for column in ("file", "#", "start", "end", "user", "machine", "PS", "outcome", "reason"):
        table.add_column(column, overflow="fold")
    for entry in files_json:
        if "error" in entry:
            table.add_row(
                escape(entry["file"]), "", "", "", "", "", "", "[red]unreadable[/]", escape(entry["error"])
            )
            continue
        if "problem" in entry:
            table.add_row(
                escape(entry["file"]),
                "",
                "",
                "",
                "",
                "",
                "",
                "[yellow]not a log[/]",
                escape(entry["problem"]),
            )
            continue
        if "result" in entry:
            result = entry["result"]
            table.add_row(
                escape(entry["file"]), "json", escape(result.get("started") or ""),
                escape(result.get("finished") or ""), "", escape(result.get("host") or ""), "",
                _outcome_text(result.get("outcome")),
                escape((result.get("error") or {}).get("message", "") if result.get("error") else ""),
            )  # fmt: skip
            continue
        for session in entry["sessions"]:
            machine = (session.get("machine") or "").split(" (", 1)[0]
            ps = " ".join(x for x in (session.get("ps_version"), session.get("edition")) if x)
            table.add_row(
                escape(entry["file"]), str(session["index"]), escape(session.get("start") or ""),
                escape(session.get("end") or ""), escape(session.get("user") or ""), escape(machine),
                escape(ps), _outcome_text(session["outcome"]), escape(session.get("outcome_reason") or ""),
            )  # fmt: skip
        if not entry["sessions"]:
            table.add_row(escape(entry["file"]), "", "", "", "", "", "", "no transcript", "")
        if entry.get("truncated_at"):
            note = truncation_note(entry["file"], entry["truncated_at"]).split(": ", 1)[1]
            table.add_row(escape(entry["file"]), "", "", "", "", "", "", "[yellow]WARN[/]", escape(note))
    console.print(table)


def _outcome_text(outcome: str | None) -> str:
    style = {"renewed": "green", "not-due": "green", "skipped": "yellow", "failed": "red"}.get(
        outcome or "", "yellow"
    )
    return f"[{style}]{escape(outcome or '')}[/]"


# ----- remote ---------------------------------------------------------------------------------------


def _run_remote(args: argparse.Namespace, console: Console, err: Console, now: datetime) -> int:
    import json

    from poshbridge import api
    from poshbridge.audit.verdict import CRIT, EXIT_CODES, UNKNOWN, worst_level
    from poshbridge.cli.common import inventory_base_dir, load_inventory_or_exit
    from poshbridge.inventory.shard import shard_hosts
    from poshbridge.inventory.targets import TargetError, select_hosts

    inventory = load_inventory_or_exit(args, err)
    try:
        hosts = select_hosts(inventory, list(args.targets) or ["all"])
    except TargetError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}")
        return EXIT_CODES[CRIT]
    selected = len(hosts)
    hosts = shard_hosts(hosts, args.shard)
    for host in hosts:  # an allowed insecure setting: said once per host (a refused one is the host's error)
        with contextlib.suppress(ValueError):
            for warning in api.transport_warnings(host, insecure=bool(args.insecure)):
                err.print(warning, markup=False)
    options = api.AuditOptions(
        insecure=bool(args.insecure),
        base_dir=inventory_base_dir(inventory),
        parallel=args.parallel,
        max_logs=args.max_logs,
        max_file_size=args.max_file_size,
        warn_days=args.warn_days,
        crit_days=args.crit_days,
        now=now,
        shard=args.shard,
    )
    audited = api.audit(hosts, options=options)
    verdicts = audited.verdicts
    prometheus_failed = not _write_prometheus(args.prometheus, verdicts, now, err)
    groups = {h.name: list(h.groups) for h in hosts}
    prometheus_failed |= not write_html_report(args, verdicts, now, inventory.source, groups, err)
    if args.json:
        doc = audited.to_json()
        sys.stdout.write(safe_json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")
    elif args.prometheus != "-" and args.html != "-":
        render_verdicts(console, verdicts)
        print_explanations(console, verdicts, str(args.lang))
        if args.shard is not None:
            console.print(escape(shard_line(args.shard, len(hosts), selected)), soft_wrap=True)
    level = worst_level([v.level for v in verdicts] + ([CRIT] if prometheus_failed else []))
    if args.shard is not None and not hosts:  # nothing was audited: no evidence for OK
        err.print(escape(f"{shard_line(args.shard, 0, selected)}: nothing audited (UNKNOWN)"), soft_wrap=True)
        level = worst_level([level, UNKNOWN])
    return EXIT_CODES[level]


def render_findings(console: Console, verdicts: Sequence[HostVerdict]) -> None:
    """Every finding of every verdict, with its fix."""
    for verdict in verdicts:
        for reason in verdict.reasons:
            console.print(
                f"{escape(verdict.host)}: [{_LEVEL_STYLE[reason.level]}]{reason.level}[/]"
                f" {escape(reason.code)}: {escape(reason.message)}"
            )
            if reason.fix:
                console.print(f"  fix: {escape(reason.fix)}")


def print_explanations(console: Console, verdicts: Sequence[HostVerdict], lang: str) -> None:
    """Under the table: each host's failed last run, with the CA's explanation and the fix."""
    from poshbridge.audit.explain import explain_run

    for verdict in verdicts:
        explained = explain_run(verdict.host, verdict.runs[-1], lang) if verdict.runs else None
        if explained is not None:
            for line in explained.lines(lang):
                console.print(line, markup=False, soft_wrap=True)


def render_verdicts(console: Console, verdicts: Sequence[HostVerdict]) -> None:
    from poshbridge.audit.verdict import CRIT, OK, UNKNOWN, WARN
    from poshbridge.cli.tables import render_records

    # a host name is never broken across lines; too wide a table folds into one block per host
    columns = ("host", "verdict", "expires", "days left", "last run", "outcome", "reason")
    rows = [
        [
            verdict.host,
            verdict.level,
            format_minute(verdict.expires),
            f"{verdict.days_left:.1f}" if verdict.days_left is not None else "-",
            format_minute(verdict.last_run, none=verdict.last_run_state),
            verdict.last_outcome or "-",
            verdict.summary,
        ]
        for verdict in verdicts
    ]
    styles = {"verdict": [_LEVEL_STYLE[v.level] for v in verdicts]}
    render_records(console, "Certificate audit", columns, rows, wrap=("reason",), styles=styles)
    render_findings(console, verdicts)
    counts = {level: sum(1 for v in verdicts if v.level == level) for level in (OK, WARN, UNKNOWN, CRIT)}
    console.print(
        f"{counts[OK]} OK, {counts[WARN]} WARN, {counts[CRIT]} CRIT"
        + (f", {counts[UNKNOWN]} UNKNOWN" if counts[UNKNOWN] else "")
    )
