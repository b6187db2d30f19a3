"""`poshbridge audit` against lab twins in different states, after the registered renewal task ran.

Given twins prepared with `poshbridge setup`, when the renewal task runs (Start-ScheduledTask: the lab
runs the generated script, which leaves a transcript and a result file) and the operator runs
`poshbridge audit`, then each twin gets the verdict its state deserves.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from labkit import LabHandle, bind_certificate, pfx_bytes
from timestamps import non_utc_timestamps

from poshbridge.cli.main import main
from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import Batch, Cmd
from poshbridge.remote.session import HostSession

TASK_RUNNING = 0x41301
TASK_NEVER_RAN = 0x41303
STATES = ("never-run", "not-due", "renewed", "acme-error", "drifted", "disabled")


def cli(lab: LabHandle, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["-i", str(lab.inventory), *args])
    return code, out.getvalue()


def audit(lab: LabHandle, name: str) -> tuple[int, dict[str, Any]]:
    code, out = cli(lab, "audit", name, "--json")
    (host,) = json.loads(out)["hosts"]
    return code, host


def host_config(lab: LabHandle, name: str) -> HostConfig:
    return load_inventory(lab.inventory).hosts[name]


def run_remote(lab: LabHandle, name: str, *cmds: Cmd) -> Any:
    batch = Batch()
    for cmd in cmds:
        batch.add(cmd)
    with HostSession(host_config(lab, name), base_dir=lab.inventory.parent) as session:
        return session.run(batch)


def run_task(lab: LabHandle, name: str, timeout: float = 120) -> dict[str, Any]:
    """Start the renewal task and wait until Task Scheduler reports a result."""
    task = host_config(lab, name).renewal
    ident = {"TaskName": task.task_name, "TaskPath": task.task_path}
    started = run_remote(lab, name, Cmd.of("Start-ScheduledTask", ident))
    assert not started.had_errors, started.errors
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = run_remote(lab, name, Cmd.of("Get-ScheduledTaskInfo", ident)).statements[0].output[0]
        if info["LastTaskResult"] not in (TASK_RUNNING, TASK_NEVER_RAN):
            return dict(info)
        time.sleep(0.5)
    raise AssertionError(f"{name}: the renewal task did not finish within {timeout} s")


def order_json(lab: LabHandle, name: str) -> Path:
    home = host_config(lab, name).acme.poshacme_home
    order = host_config(lab, name).order_name
    (found,) = lab.twin(name).real_path(home).glob(f"*/*/{order}/order.json")
    return found


def make_due(lab: LabHandle, name: str) -> None:
    """Move Posh-ACME's RenewAfter two days into the past: the next Submit-Renewal renews."""
    path = order_json(lab, name)
    order = json.loads(path.read_text("utf-8-sig"))
    order["RenewAfter"] = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(order), "utf-8")


@dataclass
class Fleet:
    lab: LabHandle
    hosts: dict[str, str]  # state -> twin name
    thumbprints: dict[str, str]  # state -> thumbprint after setup


@pytest.fixture(scope="module")
def fleet(lab: LabHandle) -> Iterator[Fleet]:
    hosts = {state: lab.claim(f"audit:{state}") for state in STATES}
    try:
        code, out = cli(lab, "setup", *hosts.values(), "--parallel", str(len(hosts)), "--json")
        assert code == 0, out
        thumbprints = {}
        for state, name in hosts.items():
            _code, doc = audit(lab, name)
            thumbprints[state] = doc["thumbprints"]["posh_acme"]
        yield Fleet(lab, hosts, thumbprints)
    finally:
        for name in hosts.values():
            lab.release(name)


def long_lived_self_signed(domains: list[str]) -> tuple[x509.Certificate, Any]:
    """Another certificate for the same names, valid long enough not to trip the expiry rules."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=60))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def codes(doc: dict[str, Any]) -> list[str]:
    return [r["code"] for r in doc["reasons"]]


def test_fresh_twin_without_setup_is_crit(lab_host: str, lab: LabHandle) -> None:
    code, doc = audit(lab, lab_host)
    assert code == 2
    assert doc["verdict"] == "CRIT"
    # a host poshbridge never set up: one finding that says so, not the TLS alert it causes
    assert codes(doc) == ["not-set-up"]
    assert doc["ready"] == "False"


def test_set_up_but_never_run_is_ok(fleet: Fleet) -> None:
    name = fleet.hosts["never-run"]
    code, doc = audit(fleet.lab, name)
    assert (code, doc["verdict"]) == (0, "OK"), doc["reasons"]
    assert doc["last_outcome"] is None and doc["runs"] == []
    assert doc["task"] == {"state": "Ready", "last_task_result": TASK_NEVER_RAN}
    assert doc["ready"] == "True"
    assert 80 < doc["days_left"] <= 90
    assert (
        doc["thumbprints"]["served"] == doc["thumbprints"]["posh_acme"] == doc["thumbprints"]["iis_binding"]
    )


def test_task_run_not_due_is_ok_and_reads_transcript_and_result(fleet: Fleet) -> None:
    name = fleet.hosts["not-due"]
    info = run_task(fleet.lab, name)
    assert info["LastTaskResult"] == 0
    code, doc = audit(fleet.lab, name)
    assert (code, doc["verdict"]) == (0, "OK"), doc["reasons"]
    assert doc["last_outcome"] == "not-due"
    (run,) = doc["runs"]
    assert run["source"].startswith("renew-") and run["source"].endswith(".txt")
    assert run["result"]["outcome"] == "not-due"
    session = run["session"]
    assert session["outcome"] == "not-due"  # the transcript agrees with the result file
    assert any("is not recommended for renewal yet" in w for w in session["warnings"])


def test_task_run_renewed_is_ok_with_the_new_certificate(fleet: Fleet) -> None:
    name = fleet.hosts["renewed"]
    make_due(fleet.lab, name)
    info = run_task(fleet.lab, name)
    assert info["LastTaskResult"] == 0
    code, out = cli(fleet.lab, "audit", name, "--json")
    whole = json.loads(out)
    (doc,) = whole["hosts"]
    assert (code, doc["verdict"]) == (0, "OK"), doc["reasons"]
    assert doc["last_outcome"] == "renewed"
    new = doc["thumbprints"]["posh_acme"]
    assert new != fleet.thumbprints["renewed"]
    assert doc["thumbprints"]["served"] == new == doc["thumbprints"]["iis_binding"]
    assert doc["runs"][-1]["result"]["thumbprint"] == new
    session = doc["runs"][-1]["session"]
    assert session["outcome"] == "renewed"  # Set-IISCertificate's verbose lines in the transcript
    assert session["imported_thumbprint"] == new
    # every timestamp RFC 3339 UTC with Z ("generated" too); only a session's start/end is host-local
    assert non_utc_timestamps(whole) == []
    assert whole["generated"].endswith("Z") and doc["expires"].endswith("Z") and doc["last_run"].endswith("Z")


def test_task_run_failing_with_an_acme_error_is_warn(fleet: Fleet) -> None:
    name = fleet.hosts["acme-error"]
    make_due(fleet.lab, name)
    fleet.lab.faults(
        name,
        acme_error_next_order={
            "type": "urn:ietf:params:acme:error:rejectedIdentifier",
            "detail": "The server will not issue certificates for the identifier",
            "status": 400,
        },
    )
    info = run_task(fleet.lab, name)
    assert info["LastTaskResult"] != 0
    code, doc = audit(fleet.lab, name)
    assert code == 1 and doc["verdict"] == "WARN", doc["reasons"]
    assert doc["last_outcome"] == "failed"
    assert "last-run-failed" in codes(doc) and "task-result" in codes(doc)
    failed = next(r for r in doc["reasons"] if r["code"] == "last-run-failed")
    assert "rejectedIdentifier" in failed["message"]
    assert doc["runs"][-1]["acme_problem"]["type"] == "rejectedIdentifier"
    session = doc["runs"][-1]["session"]
    assert session["outcome"] == "failed"
    assert session["acme_problem"]["type"] == "rejectedIdentifier"
    # the old certificate is still served: the renewal failed mid-way (Posh-ACME kept *.bak files)
    assert doc["thumbprints"]["served"] == fleet.thumbprints["acme-error"]
    # status judges with the same health model: never "ok" here, and what it finds audit finds too
    # (audit also reads the runs, so it may find more)
    status_code, status_out = cli(fleet.lab, "status", name, "--json")
    health = json.loads(status_out)["hosts"][0]["objects"]["health"]
    assert status_code == 1 and health["verdict"] != "OK", health
    assert set(codes(health)) <= set(codes(doc)), (health["reasons"], doc["reasons"])


def test_binding_drifted_to_another_certificate_is_warn(fleet: Fleet) -> None:
    name = fleet.hosts["drifted"]
    twin = fleet.lab.twin(name)
    cert, key = long_lived_self_signed(twin.domains)
    other = bind_certificate(twin, pfx_bytes(cert, key))
    code, doc = audit(fleet.lab, name)
    assert code == 1 and doc["verdict"] == "WARN", doc["reasons"]
    assert codes(doc) == ["binding-drift", "served-drift"]
    assert doc["thumbprints"]["iis_binding"] == other == doc["thumbprints"]["served"]
    assert doc["ready"] == "False"


def test_disabled_task_is_warn(fleet: Fleet) -> None:
    name = fleet.hosts["disabled"]
    task = host_config(fleet.lab, name).renewal
    result = run_remote(
        fleet.lab, name, Cmd.of("Disable-ScheduledTask", TaskName=task.task_name, TaskPath=task.task_path)
    )
    assert not result.had_errors, result.errors
    code, doc = audit(fleet.lab, name)
    assert code == 1 and doc["verdict"] == "WARN", doc["reasons"]
    assert codes(doc) == ["task-disabled"]


def test_fleet_audit_table_prometheus_and_exit_code(fleet: Fleet, tmp_path: Path) -> None:
    prom = tmp_path / "poshbridge.prom"
    names = list(fleet.hosts.values())
    code, out = cli(fleet.lab, "audit", *names, "--prometheus", str(prom), "--parallel", "6")
    assert code in (0, 1)  # WARN at most: every twin serves a valid certificate
    for name in names:
        assert name in out
    text = prom.read_text()
    for name in names:
        assert f'poshbridge_certificate_expiration_timestamp_seconds{{host="{name}",' in text


def test_one_host_audit_costs_at_most_seven_wsman_requests(fleet: Fleet) -> None:
    """Open, the state invocation, the certificate files for the OCSP checks, close."""
    name = fleet.hosts["never-run"]
    fleet.lab.reset_counters(name)
    audit(fleet.lab, name)
    counters = fleet.lab.counters(name)
    assert counters["wsman_requests"] <= 7, counters


def test_a_log_file_that_cannot_be_read_is_a_collection_error(lab: LabHandle, lab_host: str) -> None:
    """A run file the host lists but cannot read (here: access denied) is a collection error, never
    "no runs"; and text with rich markup in the verdict is shown as text."""
    from poshbridge.audit.collect import collect_host
    from poshbridge.audit.verdict import ServedCertificate

    host = host_config(lab, lab_host)
    unreadable = "renew-20200101-000000.txt"
    lab.twin(lab_host).real_path(host.renewal.log_dir + "\\" + unreadable).mkdir(parents=True)
    facts = collect_host(
        host, base_dir=lab.inventory.parent, probe=lambda _h: ServedCertificate(error="not probed")
    )
    assert any(unreadable in e and "denied" in e for e in facts.collection_errors), facts.collection_errors


def test_remote_audit_pulls_no_more_than_the_cap_and_warns(lab: LabHandle, lab_host: str) -> None:
    """A host log bigger than --max-file-size: the verdict says "truncated at cap" (WARN), never OK on
    a partial read."""
    from poshbridge.audit.collect import collect_host
    from poshbridge.audit.verdict import ServedCertificate

    host = host_config(lab, lab_host)
    big = "renew-20200102-000000.txt"
    path = lab.twin(lab_host).real_path(host.renewal.log_dir + "\\" + big)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"**********************\r\n" + b"x" * 200_000 + b"\r\n")
    lab.reset_counters(lab_host)
    facts = collect_host(
        host,
        base_dir=lab.inventory.parent,
        probe=lambda _h: ServedCertificate(error="not probed"),
        max_file_size=4096,
    )
    notes = [e for e in facts.collection_errors if big in e]
    assert notes and "truncated at cap" in notes[0], facts.collection_errors
    code, out = cli(lab, "audit", lab_host, "--max-file-size", "4K", "--json")
    (doc,) = json.loads(out)["hosts"]
    assert any("truncated at cap" in r["message"] for r in doc["reasons"] if r["level"] == "WARN"), doc
    assert code >= 1
    path.unlink()
