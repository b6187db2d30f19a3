"""The commands that never talk to a host do not load the session layer (issue 11, start-up).

``--version``, ``--help``, ``check``, ``renew-script`` and ``task-xml`` each run in a fresh interpreter
(stdout a pipe, as under cron or CI); the modules loaded by the end of the run are listed. None of
pypsrp, requests, spnego, psrpcore, the session module or the lab may be among them, nor rich (what
these commands print on a pipe is plain text, written without it). Timing is the benchmark's job
(``benchmarks/startup.py``); this test only says what is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INVENTORY = """\
defaults:
  winrm: {username: 'CONTOSO\\certadmin', password: {env: WINRM_PASSWORD}}
  acme: {eab_kid: {env: EAB_KID}, eab_hmac: {env: EAB_HMAC}, contacts: [admin@example.jp]}
hosts:
  host01:
    address: 127.0.0.1
    winrm: {port: 9}
    domains: [example.jp, www.example.jp]
    webroot: 'C:\\inetpub\\wwwroot'
    iis: {site: example.jp}
"""
# Runs the command line in-process, then writes the loaded module names to the file named first.
WRAPPER = """\
import json, sys
from poshbridge.cli.main import main
out, args = sys.argv[1], sys.argv[2:]
try:
    code = main(args)
except SystemExit as exc:
    code = exc.code
with open(out, "w", encoding="utf-8") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""
FORBIDDEN = (
    "pypsrp",
    "requests",
    "spnego",
    "psrpcore",
    "poshbridge.remote.session",
    "poshbridge.lab",
    "rich",
)
# what building the parser must not load either (each command imports these when it runs)
PARSER_ONLY_FORBIDDEN = (
    "yaml",
    "poshbridge.inventory",
    "poshbridge.health",
    "poshbridge.runner",
    "poshbridge.api",
)
COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "check": ["-i", "{inv}", "check"],
    "renew-script": ["-i", "{inv}", "renew-script", "host01"],
    "task-xml": ["-i", "{inv}", "task-xml", "host01"],
}


def _loaded(
    tmp_path: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[object, list[str], str]:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY, encoding="utf-8")
    report = tmp_path / "modules.json"
    argv = [a.replace("{inv}", str(inventory)) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *argv],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert report.exists(), done.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    return data["code"], data["modules"], done.stdout


def _hits(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_local_command_loads_no_session_code(tmp_path: Path, command: str) -> None:
    code, modules, stdout = _loaded(tmp_path, COMMANDS[command])
    assert code in (0, None), stdout
    assert stdout  # the command did its work (a version, the help, a table, a document)
    assert _hits(modules, FORBIDDEN) == []
    if command in ("--version", "--help"):  # the parser alone: no command's work at all
        assert _hits(modules, PARSER_ONLY_FORBIDDEN) == []


def test_the_check_proves_itself_on_a_command_that_connects(tmp_path: Path) -> None:
    """The same probe sees the session layer when a command needs it (it cannot pass by seeing
    nothing): ``status`` opens a pypsrp session (refused at once: nothing listens on 127.0.0.1:9)."""
    args = ["-i", "{inv}", "status", "host01", "--retries", "0", "--host-timeout", "5", "--json"]
    code, modules, _ = _loaded(tmp_path, args, env={"WINRM_PASSWORD": "not-used"})
    assert code == 1
    assert "poshbridge.remote.session" in modules and "pypsrp" in modules


def test_what_moved_for_the_start_up_keeps_its_meaning() -> None:
    """Values the parser needs now live in modules that import nothing heavy; the owners re-export
    them, and the audit's level styles still cover every level of the health model."""
    from xml.sax.saxutils import escape

    from poshbridge import defaults
    from poshbridge.cli import audit as cli_audit
    from poshbridge.generate.task_xml import _x
    from poshbridge.health import model
    from poshbridge.remote import control, retry, session
    from poshbridge.remote import outcome as remote_outcome
    from poshbridge.runner import context

    assert (retry.DEFAULT_RETRIES, context.DEFAULT_RETRIES) == (defaults.DEFAULT_RETRIES,) * 2
    assert (control.DEFAULT_HOST_TIMEOUT, context.DEFAULT_HOST_TIMEOUT) == (
        defaults.DEFAULT_HOST_TIMEOUT,
    ) * 2
    assert (model.DEFAULT_WARN_DAYS, model.DEFAULT_CRIT_DAYS) == (
        defaults.DEFAULT_WARN_DAYS,
        defaults.DEFAULT_CRIT_DAYS,
    )
    assert set(cli_audit._LEVEL_STYLE) == set(model.LEVELS)
    moved = ("RemoteConnectionError", "RemoteInterrupted", "InsecureConfigError", "StatementResult")
    moved += ("BatchResult", "RemoteError", "transport_warnings", "classify_connection_error")
    for name in moved:
        assert getattr(session, name) is getattr(remote_outcome, name)
    text = "a & b <c> \"d\" 'e' &amp; ]]>"
    assert _x(text, "x") == escape(text)
