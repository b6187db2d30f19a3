"""The plan→apply→re-plan loop of ``setup`` through a fake session (tests/fakesession.py): no lab.

The fake host changes its state the way Windows would when a step's statements run, so the runner's
loop (read, plan, apply each step in its own invocation, re-read, plan again) is exercised whole; the
TLS check and the OCSP wait are given a probe and a clock. The lab tests prove the same journeys
against the real pypsrp client and the emulated cmdlets.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fakesession import Answer, FakeHost, factory, param

from poshbridge import api
from poshbridge.inventory.model import HostConfig
from poshbridge.plan import setup as setup_plan
from poshbridge.plan.setup import (
    R_ACCOUNT,
    R_ACCOUNTS,
    R_ALL_BINDINGS,
    R_BINDINGS,
    R_CERT,
    R_EVENT_SOURCE,
    R_HOME,
    R_HOME_ACL,
    R_MODULES,
    R_ORDERS,
    R_SCRIPT,
    R_SERVER,
    R_TASK,
    R_TASK_INFO,
    R_TASK_XML,
    R_WEBCONFIG,
)
from poshbridge.powershell.command import Statement
from poshbridge.remote.session import RemoteError
from poshbridge.remote.tls import ServedCertificate
from poshbridge.runner.context import Context
from poshbridge.runner.fleet import run_operation
from poshbridge.runner.results import FleetRun

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "examples" / "inventory.yaml"
HMAC = "Sentinel-Fake-HMAC-4711"
PASSWORD = "Sentinel-Fake-WinRM-Password-0815"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
# what Get-Acl answers after setup set the ACL (tests/unit/test_plan_setup.py, HOME_SDDL_READ_BACK)
HOME_SDDL = "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
CHANGING = (
    "home:",
    "web.config:",
    "script:",
    "logs:",
    "task:",
    "events:",
    "server:",
    "account:",
    "certificate:new",
    "bind:",
    "install:",
)


def _certificates() -> tuple[str, str, str]:
    """(leaf PEM, issuer PEM, leaf thumbprint): no OCSP URL, so nothing is asked of a network."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CA")])
    start = NOW - dt.timedelta(days=1)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.jp")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=90))
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    thumb = leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint
    return leaf.public_bytes(pem).decode(), ca.public_bytes(pem).decode(), thumb


LEAF, ISSUER, THUMB = _certificates()


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HostConfig:
    monkeypatch.setenv("POSHBRIDGE_WINRM_PASSWORD", PASSWORD)
    monkeypatch.setenv("JPRS_EAB_KID", "kid-1")
    monkeypatch.setenv("JPRS_EAB_HMAC", HMAC)
    monkeypatch.setenv("POSHBRIDGE_STATE_DIR", str(tmp_path / "state"))
    (one,) = api.select_hosts(api.load_inventory(INVENTORY), ["host01"])
    return one


def windows(host: HostConfig) -> FakeHost:
    """A fresh Windows host with the modules installed; each change does what Windows would."""
    fake = FakeHost()
    fake.reads.update(
        {
            R_MODULES: [
                {"Name": "Posh-ACME", "Version": "4.32.0"},
                {"Name": "Posh-ACME.Deploy", "Version": "2.1.0"},
                {"Name": "IISAdministration", "Version": "1.1.0.0"},
            ],
            R_HOME: [False],
        }
    )
    reads = fake.reads

    def sets(**values: list[object]) -> None:
        reads.update({_LABELS[k]: v for k, v in values.items()})

    def home(_s: Statement, _f: FakeHost) -> None:
        sets(home=[True], acl=[{"Sddl": "O:BAG:SYD:AI(A;OICIID;FA;;;SY)(A;OICIID;0x1200a9;;;BU)"}])

    def task(s: Statement, _f: FakeHost) -> None:
        xml = param(s, "Xml")
        sets(
            task=[{"TaskName": param(s, "TaskName"), "TaskPath": param(s, "TaskPath"), "State": "Ready"}],
            task_info=[{"LastTaskResult": 267011}],
            task_xml=[xml],
        )

    def account(_s: Statement, _f: FakeHost) -> None:
        found = {"id": "acct1", "status": "valid", "contact": ["mailto:admin@example.jp"]}
        sets(accounts=[found], account=[found])

    def certificate(_s: Statement, _f: FakeHost) -> None:
        order = {
            "Name": host.order_name,
            "MainDomain": host.main_domain,
            "status": "valid",
            "SANs": [d for d in host.domains if d != host.main_domain],
        }
        cert = {
            "Thumbprint": THUMB,
            "NotAfter": "2027-01-29T00:00:00Z",
            "AllSANs": list(host.domains),
            "CertFile": r"C:\pa\cert.cer",
            "ChainFile": r"C:\pa\chain.cer",
        }
        sets(orders=[order], cert=[cert])
        reads.update({"certificate:get": [cert], "file:cert": [LEAF], "file:chain": [ISSUER]})

    def bind(_s: Statement, _f: FakeHost) -> None:
        binding = {"protocol": "https", "bindingInformation": f"*:{host.iis.port}:", "certificateHash": THUMB}
        sets(bindings=[binding], all_bindings=[binding])

    fake.effects.update(
        {
            "home:mkdir": home,
            "home:acl": lambda _s, _f: sets(acl=[{"Sddl": HOME_SDDL}]),
            "web.config:write": lambda s, _f: sets(web_config=[param(s, "Value")]),
            "script:write": lambda s, _f: sets(script=[bytes(param(s, "Value")).decode("utf-8-sig")]),
            "task:register": task,
            "events:new-source": lambda _s, _f: sets(event_source=[{"Name": "poshbridge"}]),
            "server:set": lambda _s, _f: sets(
                server=[{"location": host.acme.directory, "DisableTelemetry": True}]
            ),
            "account:new": account,
            "certificate:new": certificate,
            "bind:set": bind,
        }
    )
    return fake


_LABELS = {
    "home": R_HOME,
    "acl": R_HOME_ACL,
    "web_config": R_WEBCONFIG,
    "script": R_SCRIPT,
    "task": R_TASK,
    "task_info": R_TASK_INFO,
    "task_xml": R_TASK_XML,
    "event_source": R_EVENT_SOURCE,
    "server": R_SERVER,
    "accounts": R_ACCOUNTS,
    "account": R_ACCOUNT,
    "orders": R_ORDERS,
    "cert": R_CERT,
    "bindings": R_BINDINGS,
    "all_bindings": R_ALL_BINDINGS,
}


def _setup(host: HostConfig, fake: FakeHost, *, dry_run: bool = False, retries: int = 2) -> FleetRun:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    def probe(h: HostConfig) -> ServedCertificate:
        bound = [b.get("certificateHash") for b in fake.reads.get(R_BINDINGS, [])]
        return ServedCertificate(
            endpoint=f"{h.address}:{h.iis.port}",
            sni=h.main_domain,
            thumbprint=str(bound[0]) if bound else None,
        )

    ctx = Context(
        command="setup",
        dry_run=dry_run,
        retries=retries,
        now=lambda: NOW,
        sleep=sleep,
        clock=lambda: clock[0],
        probe=probe,
        session_factory=factory(fake),
    )
    return run_operation([host], ctx, history=False)


def _statuses(fleet: FleetRun) -> dict[str, str]:
    return {s.name: s.status for s in fleet.hosts[0].steps}


def _changes_sent(fake: FakeHost) -> list[str]:
    return [label for label in fake.labels_sent() if label.startswith(CHANGING)]


def test_a_fresh_host_goes_through_every_step_and_a_second_run_changes_nothing(host: HostConfig) -> None:
    fake = windows(host)
    first = _setup(host, fake)
    run = first.hosts[0]
    assert run.ok, run.to_json()
    statuses = _statuses(first)
    assert list(statuses) == list(setup_plan.SETUP_STEP_ORDER)
    assert {n for n, s in statuses.items() if s == "changed"} == set(setup_plan.SETUP_STEP_ORDER) - {
        "modules"
    }
    assert statuses["modules"] == "unchanged"
    # every step in an invocation of its own; the Posh-ACME steps only after a re-read found the home
    changes = _changes_sent(fake)
    assert changes.index("home:mkdir") < changes.index("server:set") < changes.index("account:new")
    assert changes.index("account:new") < changes.index("certificate:new") < changes.index("bind:set")
    assert sum(1 for b in fake.sent if any(s.label == "account:new" for s in b.statements)) == 1
    assert run.summary.startswith("changed: ") and run.summary.endswith("tls-verify")
    assert fake.opened == fake.closed == 1

    fake.sent.clear()
    second = _setup(host, fake)
    assert second.hosts[0].ok and set(_statuses(second).values()) == {"unchanged"}, _statuses(second)
    assert _changes_sent(fake) == [] and second.hosts[0].summary == "all unchanged"


def test_a_failed_step_stops_the_steps_that_depend_on_it(host: HostConfig) -> None:
    fake = windows(host)
    fake.reads[R_HOME] = [True]
    fake.reads[R_HOME_ACL] = [{"Sddl": HOME_SDDL}]
    fake.effects["server:set"](Statement(()), fake)
    refused = RemoteError(
        "The EAB credentials were refused",
        command="New-PAAccount",
        exception_data={"type": "urn:ietf:params:acme:error:unauthorized", "status": 401},
    )
    fake.sticky["account:new"] = Answer(errors=[refused], terminating=True)
    fleet = _setup(host, fake)
    run = fleet.hosts[0]
    statuses = _statuses(fleet)
    assert not run.ok and statuses["acme-account"] == "failed"
    assert statuses["certificate"] in ("skipped", "pending") and "certificate:new" not in fake.labels_sent()
    assert statuses["iis-binding"] == statuses["tls-verify"] == "skipped"
    assert "bind:set" not in fake.labels_sent()
    assert any(e.step == "acme-account" for e in run.errors), run.errors
    # the account step was its own invocation: nothing after it rode along in that batch
    (account_batch,) = [b for b in fake.sent if any(s.label == "account:new" for s in b.statements)]
    assert [s.label for s in account_batch.statements][-1] == "account:new"


def test_an_error_record_without_had_errors_fails_the_step(host: HostConfig) -> None:
    fake = windows(host)
    written = RemoteError("Access to the path is denied", command="Set-Content")
    fake.sticky["web.config:write"] = Answer(errors=[written])  # no terminating error, had_errors false
    fleet = _setup(host, fake)
    statuses = _statuses(fleet)
    assert statuses["challenge-web.config"] == "failed" and not fleet.hosts[0].ok
    assert "Access to the path is denied" in fleet.hosts[0].errors[0].message
    # the steps after it in the order of sending were not sent
    assert "task:register" not in fake.labels_sent() and "certificate:new" not in fake.labels_sent()


def test_a_transient_failure_while_applying_rereads_and_replans(host: HostConfig) -> None:
    fake = windows(host)
    fake.fail_next.append("account:new")  # the connection drops when the account batch is sent
    fleet = _setup(host, fake)
    assert fleet.hosts[0].ok, fleet.hosts[0].to_json()
    assert fake.reopened == 1
    labels = fake.labels_sent()
    # after the failure: the facts were read again (a new read batch) before the account was sent again
    failed_at = next(
        i for i, b in enumerate(fake.sent) if any(s.label == "account:new" for s in b.statements)
    )
    after = fake.sent[failed_at + 1]
    assert [s.label for s in after.statements] == [s.label for s in setup_plan.read_batch(host).statements]
    assert labels.count("account:new") == 2  # the failed send (never answered) and the re-planned one


def test_a_transient_failure_past_the_retries_fails_the_host(host: HostConfig) -> None:
    fake = windows(host)
    fake.fail_next.extend(["account:new", "account:new"])
    fleet = _setup(host, fake, retries=1)
    run = fleet.hosts[0]
    assert not run.ok and run.errors[0].kind == "dropped" and run.errors[0].step == "connect"


def test_a_dry_run_sends_no_change(host: HostConfig) -> None:
    fake = windows(host)
    fleet = _setup(host, fake, dry_run=True)
    assert fleet.hosts[0].ok and fleet.dry_run
    assert _changes_sent(fake) == []
    statuses = _statuses(fleet)
    assert statuses["poshacme-home"] == "changed" and statuses["certificate"] == "pending"
    assert fleet.hosts[0].summary.startswith("would change: ")


def test_no_secret_reaches_the_json(host: HostConfig) -> None:
    fake = windows(host)
    echoed = RemoteError(f"bad key {HMAC}", command="New-PAAccount")
    fake.sticky["account:new"] = Answer(errors=[echoed], terminating=True)
    fleet = _setup(host, fake)
    assert HMAC not in str(fleet.to_json()) and "********" in str(fleet.to_json())


# ----- the library face (poshbridge.api) through the fake ---------------------------------------------------
def _unserved(host: HostConfig) -> HostConfig:
    """The host with its site on a closed loopback port: the TLS check fails at once, no DNS, no wait."""
    import socket
    from dataclasses import replace

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    return replace(host, address="127.0.0.1", iis=replace(host.iis, port=port))


def test_api_setup_and_status_run_through_a_session_factory(
    host: HostConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = windows(host)
    target = _unserved(host)
    seen: list[tuple[str, str]] = []
    planned = api.setup(
        [target],
        options=api.RunOptions(dry_run=True, history=False),
        progress=lambda h, t: seen.append((h, t)),
        session_factory=factory(fake),
    )
    assert planned.ok and planned.dry_run and _changes_sent(fake) == []
    assert seen[0] == ("host01", "connecting") and seen[-1][1].startswith("done: would change: ")
    doc = planned.to_json()
    assert set(doc) == {"poshbridge", "command", "dry_run", "started", "finished", "hosts"}
    assert doc["hosts"][0]["steps"][1]["name"] == "poshacme-home"

    status = api.status([target], options=api.RunOptions(history=False), session_factory=factory(fake))
    (run,) = status.hosts
    assert run.objects["status"]["state_read"] is True  # read through the fake
    assert run.objects["served"]["error"] and not status.ok  # nothing is served there
    assert capsys.readouterr().out == ""  # never prints


def test_api_audit_collects_through_the_session_factory(host: HostConfig) -> None:
    fake = windows(host)
    audited = api.audit([_unserved(host)], session_factory=factory(fake))
    assert fake.sent and fake.opened == 1  # the state batch went to the fake, not to a socket
    (verdict,) = audited.verdicts
    assert verdict.host == "host01" and audited.to_json()["hosts"][0]["host"] == "host01"
    assert audited.to_json()["mode"] == "remote"


def test_api_documents_itself() -> None:
    import pydoc

    text = pydoc.render_doc(api, renderer=pydoc.plaintext)
    assert "api.load_inventory(" in text and "api.setup(hosts" in text and "api.audit(" in text
    for name in ("load_inventory", "select_hosts", "setup", "renew", "status", "revoke", "audit"):
        assert getattr(api, name).__doc__, name


def test_revoke_sends_its_step_then_the_reads_and_a_refusal_fails_the_host(host: HostConfig) -> None:
    fake = windows(host)
    options = api.RunOptions(history=False, reason="superseded")
    done = api.revoke([host], options=options, session_factory=factory(fake))
    assert done.ok and done.hosts[0].summary == f"revoked the certificate of {host.order_name}"
    (batch,) = fake.sent
    labels = [s.label for s in batch.statements]
    assert labels[:2] == ["env:POSHACME_HOME", "revoke:submit"] and R_CERT in labels
    assert param(batch.statements[1], "Reason") == "superseded"

    refused = RemoteError("No certificate found for order", command="Revoke-PACertificate")
    fake.sticky["revoke:submit"] = Answer(errors=[refused])
    failed = api.revoke([host], options=options, session_factory=factory(fake))
    assert not failed.ok and failed.hosts[0].errors[0].step == "revoke"


def test_a_stop_before_the_run_starts_no_host(host: HostConfig) -> None:
    import threading

    fake = windows(host)
    stop = threading.Event()
    stop.set()
    done = api.setup([host], options=api.RunOptions(history=False), session_factory=factory(fake), stop=stop)
    assert done.interrupted and not done.ok and done.hosts[0].outcome == "interrupted"
    assert fake.opened == 0 and fake.sent == []
