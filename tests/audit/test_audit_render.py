"""The audit table shows host names and collected errors as text, whatever brackets they contain."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from rich.console import Console

from poshbridge.audit.verdict import HostFacts, evaluate
from poshbridge.cli.audit import render_verdicts


def test_markup_in_a_host_name_or_a_collected_error_is_shown_as_text() -> None:
    facts = HostFacts(
        host="web[/b]01", order="web[/b]01", collection_errors=["Get-PAOrder: bad [/b] value [red]x[/]"]
    )
    verdict = evaluate(facts, now=datetime(2025, 1, 1, tzinfo=timezone.utc), warn_days=30, crit_days=7)
    out = io.StringIO()
    render_verdicts(Console(file=out, width=400, no_color=True), [verdict])
    text = out.getvalue()
    assert "web[/b]01" in text and "[red]x[/]" in text, text


def _rendered(facts: HostFacts) -> str:
    verdict = evaluate(facts, now=datetime(2025, 1, 1, tzinfo=timezone.utc))
    out = io.StringIO()
    render_verdicts(Console(file=out, width=400, no_color=True), [verdict])
    return out.getvalue()


def test_last_run_never_only_when_the_task_says_so_and_fixes_are_shown() -> None:
    from poshbridge.audit.verdict import TaskInfo

    never = TaskInfo(exists=True, name="t", state="Ready", last_task_result=0x41303, never_ran=True)
    assert " never " in _rendered(HostFacts(host="h1", task=never))
    unread = _rendered(HostFacts(host="h2", task=None, unreachable="unreachable: refused"))
    assert " never " not in unread and " unknown " in unread, unread
    assert "UNKNOWN not-verifiable" in unread and "fix: check that the host is up" in unread, unread
    assert "1 UNKNOWN" in unread
