"""The life of a certificate in the lab, as the README tells it (section "The life of a certificate in
two minutes"): setup -> audit (OK, never run) -> lab clock +61d -> lab run-task -> audit (renewed, a new
thumbprint served) -> a failing renewal (lab fault) -> audit (the failure explained, with the fix).

The commands are read from the README itself and run against the session's lab (the README's
``lab-run`` folder and ``host01`` mapped to the test's lab and twin), so the story runs as written.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from labkit import LabHandle

REPO = Path(__file__).resolve().parents[2]
SECTION = "## The life of a certificate in two minutes"


def readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text("utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [shlex.split(line[2:]) for line in section.splitlines() if line.startswith("$ ")]


def run(argv: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(state), NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def mapped(argv: list[str], lab: LabHandle, host: str) -> list[str]:
    assert argv[0] == "poshbridge", argv
    out = []
    for word in argv[1:]:
        word = word.replace("lab-run/inventory.yaml", str(lab.inventory)).replace("lab-run", str(lab.dir))
        out.append(host if word == "host01" else word)
    return out


def audit_json(lab: LabHandle, host: str, state: Path) -> dict[str, object]:
    done = run(["-i", str(lab.inventory), "audit", host, "--json"], state)
    return dict(json.loads(done.stdout)["hosts"][0])


def test_the_life_of_a_certificate_runs_as_the_readme_tells_it(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    commands = readme_commands()
    steps = [" ".join(c[1:3]) for c in commands]
    assert steps == [
        "lab up",
        "-i lab-run/inventory.yaml",
        "-i lab-run/inventory.yaml",
        "lab clock",
        "lab run-task",
        "-i lab-run/inventory.yaml",
        "-i lab-run/inventory.yaml",
        "lab fault",
        "lab run-task",
        "-i lab-run/inventory.yaml",
    ], steps
    outputs = []
    first_thumbprint = None
    for index, argv in enumerate(commands[1:], start=1):  # the session's lab is already up
        done = run(mapped(argv, lab, lab_host), tmp_path)
        outputs.append(done)
        text = done.stdout + done.stderr
        if index == 1:  # setup
            assert done.returncode == 0, text
            assert re.search(r"^next: ", done.stdout, re.M), text
        elif index == 2:  # audit: OK, never run
            assert done.returncode == 0, text
            assert re.search(rf"{lab_host}\s+│?\s*OK\b.*never", done.stdout), text
            verdict = audit_json(lab, lab_host, tmp_path)
            first_thumbprint = verdict["thumbprints"]["served"]  # type: ignore[index]
            assert verdict["last_run"] is None and first_thumbprint
        elif index == 3:  # clock +61d
            assert done.returncode == 0, text
            assert "real time +61 d" in done.stdout, text
        elif index == 4:  # run-task: renewed
            assert done.returncode == 0, text
            assert "as WORKGROUP\\SYSTEM" in done.stdout and "LastTaskResult 0" in done.stdout, text
            assert re.search(r"wrote C:\\poshbridge\\logs\\renew-\d{8}-\d{6}\.txt", done.stdout), text
            assert re.search(r"wrote C:\\poshbridge\\logs\\renew-\d{8}-\d{6}\.json", done.stdout), text
        elif index == 5:  # audit: renewed, a new thumbprint served
            assert done.returncode == 0, text
            assert "renewed" in done.stdout, text
            verdict = audit_json(lab, lab_host, tmp_path)
            thumbprints = verdict["thumbprints"]
            assert verdict["last_outcome"] == "renewed", verdict
            assert thumbprints["served"] == thumbprints["posh_acme"] != first_thumbprint, verdict  # type: ignore[index]
        elif index == 6:  # status: the new thumbprint, and the site serves it
            assert done.returncode == 0, text
            assert argv[3] == "status", argv
            assert first_thumbprint not in done.stdout and "same" in done.stdout, text
            assert "completed" in done.stdout and "successfully (0)" in done.stdout, text
        elif index == 7:  # lab fault
            assert done.returncode == 0, text
        elif index == 8:  # run-task: fails
            assert done.returncode == 1, text
            assert "LastTaskResult 1" in done.stdout, text
        elif index == 9:  # audit: the failure, explained, with the fix
            assert done.returncode >= 1, text
            assert "failed" in done.stdout and "unauthorized" in done.stdout, text
            assert "CA message: " in done.stdout and "\n  fix: " in done.stdout, text
            verdict = audit_json(lab, lab_host, tmp_path)
            assert verdict["verdict"] in ("WARN", "CRIT") and verdict["last_outcome"] == "failed", verdict
    assert len(outputs) == 9


def test_run_task_on_a_fresh_twin_and_clock_of_an_unknown_twin_say_why(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    fresh = run(["lab", "run-task", lab_host, "--dir", str(lab.dir)], tmp_path)
    assert fresh.returncode == 1 and "no scheduled task registered" in fresh.stderr, fresh.stderr
    unknown = run(["lab", "clock", "no-such-twin", "+1d", "--dir", str(lab.dir)], tmp_path)
    assert unknown.returncode == 2 and "no such twin" in unknown.stderr, unknown.stderr
    moved = run(["lab", "clock", lab_host, "+2d", "--dir", str(lab.dir)], tmp_path)
    assert "real time +2 d" in moved.stdout, moved.stdout + moved.stderr
    lab.reset(lab_host)
    shown = run(["lab", "clock", lab_host, "--dir", str(lab.dir)], tmp_path)
    assert "real time +0 d" in shown.stdout, shown.stdout + shown.stderr


def test_each_run_writes_one_application_event_and_audit_reads_them_when_logs_are_gone(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    setup = run(["-i", str(lab.inventory), "setup", lab_host, "--json"], tmp_path)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    steps = {s["name"]: s["status"] for s in json.loads(setup.stdout)["hosts"][0]["steps"]}
    assert steps["event-source"] == "changed"
    assert run(["lab", "clock", lab_host, "+61d", "--dir", str(lab.dir)], tmp_path).returncode == 0
    assert run(["lab", "run-task", lab_host, "--dir", str(lab.dir)], tmp_path).returncode == 0
    lab.faults(lab_host, acme_error_next_order={"type": "urn:ietf:params:acme:error:rejectedIdentifier",
                                                "detail": "no way", "status": 400})  # fmt: skip
    assert run(["lab", "run-task", lab_host, "--dir", str(lab.dir)], tmp_path).returncode == 1

    twin = lab.twin(lab_host)
    state = json.loads((twin.root / "eventlog.json").read_text("utf-8"))
    records = [r for r in state["records"] if r["source"] == "poshbridge"]
    assert [(r["log"], r["event_id"], r["entry_type"]) for r in records] == [
        ("Application", 1000, "Information"),
        ("Application", 1003, "Error"),
    ]
    results = [json.loads(r["message"]) for r in records]
    assert [d["outcome"] for d in results] == ["renewed", "failed"]
    assert str(results[1]["error"]["type"]).endswith("rejectedIdentifier"), results[1]
    # the result file on disk and the event carry the same document
    log_dir = twin.real_path("C:\\poshbridge\\logs")
    on_disk = sorted(log_dir.glob("renew-*.json"))
    assert json.loads(on_disk[-1].read_text("utf-8-sig")) == results[1]

    for path in log_dir.iterdir():  # the transcripts are gone (retention, a cleanup, a new disk)
        path.unlink()
    verdict = json.loads(run(["-i", str(lab.inventory), "audit", lab_host, "--json"], tmp_path).stdout)[
        "hosts"
    ][0]
    assert [r["outcome"] for r in verdict["runs"]] == ["renewed", "failed"], verdict
    assert verdict["runs"][-1]["source"].startswith("event Application/")
    assert verdict["last_outcome"] == "failed"
    assert any(
        r["code"] == "last-run-failed" and "rejectedIdentifier" in r["message"] for r in verdict["reasons"]
    )
