"""How ``setup``/``renew``/``status``/``revoke`` results look on a terminal: a table of steps per host
(or the status table), each error with its ACME explanation and fix, and the summary line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from poshbridge.audit.task_results import describe_task_result
from poshbridge.cli.tables import render_records
from poshbridge.runner.results import ErrorInfo, HostRun
from poshbridge.scrubber import Scrubber
from poshbridge.textsafe import safe_text

_STATUS_STYLE = {
    "changed": "yellow",
    "unchanged": "green",
    "failed": "bold red",
    "skipped": "dim",
    "pending": "cyan",
}


def render(
    console: Console,
    runs: Sequence[HostRun],
    *,
    op: str,
    lang: str,
    dry_run: bool,
    secrets: Sequence[str] = (),
    scrub: Scrubber | None = None,
) -> None:
    """Every host's table (or the status table) and errors, then the summary line; everything
    scrubbed with ``scrub`` (the run's scrubber) and ``secrets``."""
    mask = Scrubber(secrets) if scrub is None else scrub
    for secret in secrets if scrub is not None else ():
        mask.add(secret)
    if op == "status":
        render_status(console, runs)
    for run in runs:
        if op != "status":
            title = f"{run.host}: {op}" + (" (dry run: nothing changed)" if dry_run else "")
            table = Table(title=title, title_justify="left", show_lines=False)
            table.add_column("step")
            table.add_column("status")
            table.add_column("detail", overflow="fold")
            for step in run.steps:
                status = "would change" if dry_run and step.status == "changed" else step.status
                style = _STATUS_STYLE.get(step.status, "")
                table.add_row(step.name, f"[{style}]{status}[/]", _esc(mask(step.detail or step.reason)))
                if dry_run or step.status == "failed":
                    for command in step.commands:
                        table.add_row("", "", _esc("  > " + compact(mask(command))))
            console.print(table)
        for error in run.errors:
            console.print(_esc(mask(error_text(run.host, error, lang))))
    failed = [r.host for r in runs if not r.ok]
    console.print(
        f"{len(runs)} host(s), {len(runs) - len(failed)} ok, {len(failed)} failed"
        + (": " + ", ".join(failed) if failed else ""),
        markup=False,
    )


def compact(command: str, keep: int = 2) -> str:
    """A command whose value is a whole document (script, XML) shown as its first and last lines;
    ``--json`` keeps the full text."""
    lines = command.splitlines()
    if len(lines) <= 2 * keep + 1:
        return command
    hidden = len(lines) - 2 * keep
    return "\n".join([*lines[:keep], f"    ... ({hidden} more lines) ...", *lines[-keep:]])


def error_text(host: str, error: ErrorInfo, lang: str = "en") -> str:
    """What a person needs: host, step, the ACME type with the CA's explanation, and the fix."""
    lines = [f"ERROR {host}: step {error.step}: {error.kind}: {error.message}"]
    problem = error.acme_problem
    if problem is not None:
        head = f"  ACME problem: {problem.type or 'unknown type'}"
        if problem.status is not None:
            head += f" (HTTP {problem.status})"
        if problem.fqdn:
            head += f" for {problem.fqdn}"
        lines.append(head)
        if problem.table_message:
            lines.append(f"  CA message: {problem.table_message}")
        condition = problem.condition(lang)
        if condition:
            lines.append(("  発生条件: " if lang == "ja" else "  condition: ") + condition)
    hint = error.hint or (problem.hint if problem else None) or _hint_for_kind(error.kind, error.message)
    # a connection message may already carry its hint ("... (check winrm.username/...)"): say it once
    if hint and error.hint is None and problem is None and "check " in error.message:
        hint = None
    if hint:
        lines.append(f"  fix: {hint}")
    return "\n".join(lines)


def _hint_for_kind(kind: str, message: str = "") -> str | None:
    """A fix for a kind of failure, only where it applies: a "config" error is either a refused
    insecure setting (the message names what and says --insecure allows it) or a secret that
    cannot be read (the message names the reference); --insecure never helps the latter."""
    if kind == "config":
        if "cannot read secret file" in message or "environment variable" in message:
            return "provide the secret the message names: set the variable or fix the file (chmod 600)"
        return None
    return {
        "unreachable": "check winrm.transport/port, that WinRM listens (winrm quickconfig), the firewall",
        "auth": "check winrm.username, the password secret and winrm.auth",
        "tls": "check winrm.verify (CA bundle) against the host's WinRM certificate",
        "timeout": "the host did not answer in time: check it is up; raise winrm timeouts if it is slow",
        "dropped": "the connection was closed mid-session: run the command again",
        "protocol": "unexpected WinRM answer: check winrm.configuration_name and the WinRM service",
    }.get(kind)


_HEALTH_STYLE = {"OK": "green", "WARN": "yellow", "UNKNOWN": "magenta", "CRIT": "bold red"}


def render_status(console: Console, runs: Sequence[HostRun]) -> None:
    # host names and thumbprints are never broken across lines: one SAN per line; a table too wide
    # for the console folds into one block per host (poshbridge.cli.tables)
    columns = ("host", "health", "order", "SANs", "NotAfter", "days", "RenewAfter", "thumbprint", "served",
               "task")  # fmt: skip
    rows: list[list[str]] = []
    health_styles: list[str] = []
    for run in runs:
        s = run.objects.get("status") or {}
        served = s.get("served_thumbprint")
        served_error = (run.objects.get("served") or {}).get("error")
        read = s.get("state_read", True)
        # "DIFFERENT" only when Posh-ACME's certificate is known and differs
        if not served:
            served_text = f"none: {served_error}" if served_error else "-"
        elif not s.get("thumbprint"):
            served_text = served
        elif s.get("served_matches"):
            served_text = "same"
        else:
            served_text = f"DIFFERENT: {served}"
        task = s.get("task_state") or ("-" if read else "not read")
        if s.get("task_last_result") is not None:
            task += f" / {describe_task_result(s.get('task_last_result'))}"
        health = str(s.get("health") or "-")
        health_styles.append(_HEALTH_STYLE.get(health, ""))
        rows.append(
            [
                run.host,
                health,
                str(s.get("order") or "-"),
                "\n".join(s.get("sans") or []) or "-",
                _minutes(s.get("not_after")),
                str(s.get("days_left") if s.get("days_left") is not None else "-"),
                _minutes(s.get("renew_after")),
                str(s.get("thumbprint") or ("-" if read else "not read (connection failed)")),
                served_text,
                task,
            ]
        )
    styles = {"health": health_styles}
    render_records(console, "Certificate status", columns, rows, wrap=("task",), styles=styles)


def _minutes(value: Any) -> str:
    """``2027-02-27T22:55:04Z`` -> ``2027-02-27 22:55`` (UTC); ``-`` for none."""
    if not value:
        return "-"
    text = str(value)
    return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" else text


def _esc(text: str) -> str:
    return safe_text(text, keep_newlines=True).replace("[", "\\[")
