"""Remote text shown in a terminal: every C0/C1 control (OSC, CSI, BEL, ...) made visible, one function
(``poshbridge.textsafe.safe_text``) behind every renderer (the console itself, tables, progress, errors)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from poshbridge.audit.transcript import parse_transcript
from poshbridge.cli.audit import _render_sessions
from poshbridge.cli.ops_render import error_text, render
from poshbridge.cli.progress import PlainView, RichView
from poshbridge.output import SafeConsole, make_console
from poshbridge.plan.setup import Step
from poshbridge.runner.results import ErrorInfo, HostRun
from poshbridge.textsafe import safe_json_text, safe_text

OSC_TITLE = "\x1b]0;owned\x07"
OSC_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
C1 = "\x9b2J\x9d52;c;aGVsbG8=\x9c"
NASTY = f"boom{OSC_TITLE}{OSC_LINK}{C1}\x1b[2K\r\x08\x00\x7f\u202eevil"
_SGR = re.compile(r"\x1b\[[0-9;]*m")
_RICH_CURSOR = re.compile(r"\x1b\[\??[0-9;]*[A-Za-z]|\r")  # a live display's own moves (control segments)


def terminal_console(buffer: io.StringIO) -> Console:
    return SafeConsole(file=buffer, force_terminal=True, width=120, color_system="standard")


def assert_terminal_safe(output: str, *, live: bool = False) -> None:
    """Only rich's own colour codes (SGR) may remain, and for a live display its own cursor moves;
    nothing from the remote text (which holds OSC, C1, BEL, CR, BS: none of those survive)."""
    assert "\x1b]" not in output and "\x07" not in output and "\x08" not in output
    left = (_RICH_CURSOR if live else _SGR).sub("", output)
    bad = sorted(
        {f"U+{ord(ch):04X}" for ch in left if (ord(ch) < 0x20 and ch != "\n") or 0x7F <= ord(ch) < 0xA0}
    )
    assert not bad, (bad, output)
    assert "\u202e" not in left
    assert "owned" in left  # made visible, not silently lost


@given(st.text())
def test_safe_text_leaves_no_control_character(text: str) -> None:
    for keep in (False, True):
        out = safe_text(text, keep_newlines=keep)
        assert all(ord(ch) >= 0x20 and not 0x7F <= ord(ch) < 0xA0 for ch in out if not (keep and ch == "\n"))
        assert not any(0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in out)


def test_safe_text_makes_controls_visible() -> None:
    assert safe_text("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert safe_text("a\x9bb\x85c") == "a\\x9bb\\x85c"
    assert safe_text("line1\r\nline2\tx", keep_newlines=True) == "line1\nline2 x"
    assert safe_text("line1\nline2") == "line1\\x0aline2"
    assert safe_text("日本語 ß ok") == "日本語 ß ok"


def test_json_output_escapes_c1_and_bidi_but_stays_the_same_json() -> None:
    doc = {"message": NASTY}
    text = safe_json_text(json.dumps(doc, ensure_ascii=False))
    assert json.loads(text) == doc
    assert not any(0x7F <= ord(ch) < 0xA0 or ord(ch) < 0x20 or ch == "\u202e" for ch in text)


def test_the_console_itself_cleans_whatever_a_renderer_forgot() -> None:
    buffer = io.StringIO()
    console = terminal_console(buffer)
    console.print(NASTY, markup=False)
    console.print(f"[red]{NASTY}[/]", markup=False)
    assert_terminal_safe(buffer.getvalue())
    assert isinstance(make_console(), SafeConsole)


def test_setup_table_and_error_text_are_safe() -> None:
    run = HostRun(host="host01", command="setup")
    run.steps.append(Step(name="certificate", status="failed", reason=NASTY))
    run.errors.append(ErrorInfo(step="certificate", kind="powershell", message=NASTY))
    buffer = io.StringIO()
    render(terminal_console(buffer), [run], op="setup", lang="en", dry_run=False, secrets=[])
    assert_terminal_safe(buffer.getvalue())


def test_status_table_is_safe() -> None:
    run = HostRun(host="host01", command="status")
    run.objects["status"] = {"order": NASTY, "sans": [NASTY], "task_state": NASTY, "served_thumbprint": NASTY}
    buffer = io.StringIO()
    render(terminal_console(buffer), [run], op="status", lang="en", dry_run=False, secrets=[])
    assert_terminal_safe(buffer.getvalue())


def test_audit_session_table_is_safe(tmp_path: Path) -> None:
    log = (
        "**********************\nWindows PowerShell transcript start\nStart time: 20241126030000\n"
        f"Username: {NASTY}\nMachine: {NASTY}\nPSVersion: 5.1\n**********************\n"
        f"New-PACertificate : {NASTY}\nAt C:\\renew.ps1:1 char:1\n"
        "    + FullyQualifiedErrorId : x,New-PACertificate\n"
    )
    parsed = parse_transcript(log.encode("utf-8"), f"renew-{NASTY}.txt")
    buffer = io.StringIO()
    _render_sessions(terminal_console(buffer), [parsed.to_json()])
    assert_terminal_safe(buffer.getvalue())


def test_progress_lines_are_safe() -> None:
    for view_type in (RichView, PlainView):
        buffer = io.StringIO()
        view = view_type(terminal_console(buffer))
        view.start("host01")
        view.update("host01", NASTY)
        view.finish("host01", False, NASTY)
        view.close()
        assert_terminal_safe(buffer.getvalue(), live=view_type is RichView)


# ----- fix hints only where they apply ---------------------------------------------------------------


def test_a_missing_secret_is_not_told_that_insecure_allows_it() -> None:
    missing = ErrorInfo(
        step="connect", kind="config", message="winrm.password: environment variable PW is not set (env:PW)"
    )
    text = error_text("host01", missing)
    assert "--insecure" not in text
    assert "fix: provide the secret the message names" in text
    refused = ErrorInfo(
        step="connect",
        kind="config",
        message="host01: WinRM over HTTPS without certificate verification (verify: false) — refused; "
        "pass --insecure to allow it",
    )
    assert "fix:" not in error_text("host01", refused)  # the message itself says what --insecure allows


def test_insecure_help_names_exactly_what_it_allows() -> None:
    from poshbridge.cli.common import INSECURE_HELP

    allowed = ("basic over transport http", "verify: false", "skip_certificate_check: true", "nothing else")
    for setting in allowed:
        assert setting in INSECURE_HELP
