"""CLI polish (issue 12) seen against the lab: the texts a newcomer reads on a fresh and a set-up twin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from labkit import LabHandle

REPO = Path(__file__).resolve().parents[2]


def cli(lab: LabHandle, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(state), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", "-i", str(lab.inventory), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def steps(done: subprocess.CompletedProcess[str], host: str) -> dict[str, str]:
    doc = json.loads(done.stdout)
    entry = next(h for h in doc["hosts"] if h["host"] == host)
    return {s["name"]: s["status"] for s in entry["steps"]}


def test_fresh_twin_audit_dry_run_setup_then_dry_run_again(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    # audit on a host never set up: "not set up", not a raw TLS alert
    audit = cli(lab, tmp_path, "audit", lab_host, "--json")
    verdict = json.loads(audit.stdout)["hosts"][0]
    assert verdict["verdict"] == "CRIT"
    assert [r["code"] for r in verdict["reasons"]] == ["not-set-up"], verdict
    text = cli(lab, tmp_path, "audit", lab_host)
    assert "not set up" in text.stdout and "SSL" not in text.stdout and "alert" not in text.stdout

    # dry run on a fresh twin: the binding is pending (it will happen), not skipped
    fresh = cli(lab, tmp_path, "setup", lab_host, "--dry-run", "--json")
    assert fresh.returncode == 0, fresh.stderr
    assert steps(fresh, lab_host)["iis-binding"] == "pending"
    assert steps(fresh, lab_host)["tls-verify"] == "pending"

    # setup: the binding text has no double colon; tls-verify says the site now serves the new one;
    # one "next" line
    done = cli(lab, tmp_path, "setup", lab_host)
    assert done.returncode == 0, done.stdout + done.stderr
    binding_line = next(line for line in done.stdout.splitlines() if "iis-binding" in line)
    assert "::" not in binding_line and "None" not in binding_line, binding_line
    verify_line = next(line for line in done.stdout.splitlines() if "tls-verify" in line)
    assert "changed" in verify_line and "now serves" in verify_line, verify_line
    next_lines = [line for line in done.stdout.splitlines() if line.startswith("next: ")]
    assert len(next_lines) == 1, done.stdout
    assert f"poshbridge status {lab_host}" in next_lines[0] and "C:\\poshbridge\\logs" in next_lines[0]

    # dry run on a set-up twin: tls-verify checks what is served now (unchanged), not "pending"
    again = cli(lab, tmp_path, "setup", lab_host, "--dry-run", "--json")
    assert set(steps(again, lab_host).values()) == {"unchanged"}, again.stdout

    # status shows the task's result decoded
    status = cli(lab, tmp_path, "status", lab_host)
    # (the task cell may wrap at the pipe's 200 columns: the words and the code, each whole)
    assert "has not yet run" in status.stdout and "(0x41303)" in status.stdout, status.stdout
    assert "267011" not in status.stdout


def test_refused_credentials_print_the_hint_once(lab: LabHandle, lab_host: str, tmp_path: Path) -> None:
    lab.faults(lab_host, auth_fail=True)
    try:
        done = cli(lab, tmp_path, "status", lab_host)
    finally:
        lab.faults(lab_host, auth_fail=False)
    assert done.returncode == 1
    assert done.stdout.count("winrm.auth") == 1, done.stdout
