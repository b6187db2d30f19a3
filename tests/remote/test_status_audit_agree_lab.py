"""`status` and `audit` read a host with the one host-state model (poshbridge/hoststate) and judge it with
the one health model: on the same lab twins, in several states, they give the same verdict and the same
findings — except the findings only the audit can see, because only it reads the renewal runs' log files
and events (listed in AUDIT_ONLY). Each command also stays within its WSMan request budget."""

from __future__ import annotations

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
from test_ops_lab import cli

from poshbridge.inventory.load import load_inventory
from poshbridge.powershell.command import Batch, Cmd
from poshbridge.remote.session import HostSession

# Findings that come from the renewal runs (transcripts, result files, events): read by audit only.
AUDIT_ONLY = {"log-unusable", "last-run-failed", "last-run-interrupted"}
# Judged by both, but a run that renewed (which only audit reads) clears it.
RUN_DEPENDENT = {"window-not-renewed"}
STATES = ("ok", "ran", "drifted", "other-header", "revoked", "disabled")
# what each state must be found as (by both)
EXPECTED = {
    "fresh": ("CRIT", {"not-set-up"}),
    "ok": ("OK", set()),
    "ran": ("OK", set()),
    "drifted": ("WARN", {"binding-drift", "served-drift"}),
    "revoked": ("CRIT", {"revoked"}),
    "disabled": ("WARN", {"task-disabled"}),
    "unreachable": ("UNKNOWN", {"not-verifiable"}),
}
REQUEST_BUDGET = 7  # open, command + receive, command + receive, close (see test_audit_lab)


@dataclass
class Fleet:
    lab: LabHandle
    state: Path
    hosts: dict[str, str]


@pytest.fixture(scope="module")
def fleet(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    hosts = {state: lab.claim(f"agree:{state}") for state in ("fresh", *STATES)}
    state_dir = tmp_path_factory.mktemp("agree-state")
    try:
        names = [hosts[s] for s in STATES]
        setup = cli(lab.inventory, state_dir, "setup", *names, "--parallel", str(len(names)), "--json")
        assert setup.code == 0, setup
        yield Fleet(lab, state_dir, hosts)
    finally:
        for name in hosts.values():
            lab.faults(name, auth_fail=False)
            lab.release(name)


def judged(fleet: Fleet, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(status's health verdict, audit's verdict) of one host, each as its --json prints it."""
    status = cli(fleet.lab.inventory, fleet.state, "status", name, "--json", "--retries", "0")
    audit = cli(fleet.lab.inventory, fleet.state, "audit", name, "--json")
    (audited,) = audit.doc["hosts"]
    return status.host(name)["objects"]["health"], audited


def codes(verdict: dict[str, Any]) -> set[str]:
    return {str(r["code"]) for r in verdict["reasons"]}


def assert_agree(fleet: Fleet, state: str, name: str) -> None:
    status, audit = judged(fleet, name)
    seen_by_status, seen_by_audit = codes(status), codes(audit)
    assert not seen_by_status & AUDIT_ONLY, status  # status cannot see these
    assert seen_by_status - RUN_DEPENDENT == seen_by_audit - AUDIT_ONLY - RUN_DEPENDENT, (
        state,
        status["reasons"],
        audit["reasons"],
    )
    if not (seen_by_audit | seen_by_status) & (AUDIT_ONLY | RUN_DEPENDENT):
        assert status["verdict"] == audit["verdict"], (state, status, audit)
    for key in ("posh_acme", "iis_binding", "served"):
        assert status["thumbprints"][key] == audit["thumbprints"][key], (state, key, status, audit)
    assert status["task"] == audit["task"], (state, status["task"], audit["task"])
    if state in EXPECTED:
        level, expected = EXPECTED[state]
        assert (audit["verdict"], seen_by_audit) == (level, expected), (state, audit["reasons"])


def self_signed(domains: list[str]) -> tuple[x509.Certificate, Any]:
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


def run_remote(lab: LabHandle, name: str, cmd: Cmd) -> list[Any]:
    host = load_inventory(lab.inventory).hosts[name]
    with HostSession(host, base_dir=lab.inventory.parent) as session:
        result = session.run(Batch().add(cmd))
    assert not result.had_errors, result.errors
    return list(result.statements[0].output)


def requests_of(fleet: Fleet, name: str, command: str) -> int:
    fleet.lab.reset_counters(name)
    cli(fleet.lab.inventory, fleet.state, command, name, "--json")
    return int(fleet.lab.counters(name)["wsman_requests"])


def test_fresh_twin(fleet: Fleet) -> None:
    name = fleet.hosts["fresh"]
    assert_agree(fleet, "fresh", name)
    # no current certificate: no certificate files to read, ONE invocation (open, command, receive,
    # close) for both (status used to read setup's whole batch and then the files: 7)
    assert requests_of(fleet, name, "status") <= 5
    assert requests_of(fleet, name, "audit") <= 5


def test_set_up_twin_and_request_budget(fleet: Fleet) -> None:
    name = fleet.hosts["ok"]
    assert_agree(fleet, "ok", name)
    for command in ("status", "audit"):
        assert requests_of(fleet, name, command) <= REQUEST_BUDGET, (command, fleet.lab.counters(name))


def test_after_the_renewal_task_ran(fleet: Fleet) -> None:
    """The task ran (not due): audit reads its transcript and result file, status does not; both judge
    the host OK, with the same task facts (last run time and result)."""
    name = fleet.hosts["ran"]
    task = load_inventory(fleet.lab.inventory).hosts[name].renewal
    ident = {"TaskName": task.task_name, "TaskPath": task.task_path}
    run_remote(fleet.lab, name, Cmd.of("Start-ScheduledTask", ident))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        (info,) = run_remote(fleet.lab, name, Cmd.of("Get-ScheduledTaskInfo", ident))
        if info["LastTaskResult"] not in (0x41301, 0x41303):  # running, has not yet run
            break
        time.sleep(0.5)
    assert info["LastTaskResult"] == 0, info
    assert_agree(fleet, "ran", name)
    _status, audit = judged(fleet, name)
    assert audit["last_outcome"] == "not-due" and audit["runs"], audit


def test_binding_drifted_to_another_certificate(fleet: Fleet) -> None:
    name = fleet.hosts["drifted"]
    twin = fleet.lab.twin(name)
    cert, key = self_signed(twin.domains)
    bind_certificate(twin, pfx_bytes(cert, key))
    assert_agree(fleet, "drifted", name)


def test_binding_under_another_host_header_is_not_the_managed_binding(fleet: Fleet) -> None:
    """Set-IISCertificate matches `<IP>:<Port>:<HostHeader>` exactly: an https binding of the same port
    under another host header is not poshbridge's binding (a best-score match said it was)."""
    name = fleet.hosts["other-header"]
    iis = fleet.lab.twin(name).iis()
    doc = iis.load()
    for site in doc["sites"].values():
        for binding in site["bindings"]:
            if binding["protocol"] == "https":
                ip, port, _header = binding["binding_information"].split(":", 2)
                binding["binding_information"] = f"{ip}:{port}:other.example.jp"
    iis.save(doc)
    status, audit = judged(fleet, name)
    assert "binding-missing" in codes(status) and "binding-missing" in codes(audit), (status, audit)
    assert status["thumbprints"]["iis_binding"] is None is audit["thumbprints"]["iis_binding"]
    assert_agree(fleet, "other-header", name)


def test_revoked_certificate(fleet: Fleet) -> None:
    name = fleet.hosts["revoked"]
    assert cli(fleet.lab.inventory, fleet.state, "revoke", name, "--yes", "--json").code == 0
    assert_agree(fleet, "revoked", name)


def test_disabled_task(fleet: Fleet) -> None:
    name = fleet.hosts["disabled"]
    task = load_inventory(fleet.lab.inventory).hosts[name].renewal
    run_remote(
        fleet.lab, name, Cmd.of("Disable-ScheduledTask", TaskName=task.task_name, TaskPath=task.task_path)
    )
    assert_agree(fleet, "disabled", name)


def test_unreachable_host(fleet: Fleet) -> None:
    """WinRM refuses every login (a lab fault): neither command knows the host's state; both check what
    is served from here and say the host is not verifiable."""
    name = fleet.hosts["ok"]
    fleet.lab.faults(name, auth_fail=True)
    try:
        assert_agree(fleet, "unreachable", name)
    finally:
        fleet.lab.faults(name, auth_fail=False)
