"""setup / renew / status / revoke against the lab: real WinRM (pypsrp), emulated Posh-ACME, real Pebble.

Given a fresh twin, when the operator runs ``poshbridge setup``, then the site serves an OCSP-good
certificate issued by Pebble and the renewal task is registered; a second run changes nothing; and
failures (wrong EAB, closed port, refused credentials, a dropped connection) are classified per host
while the other hosts of the same run succeed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit import LabHandle

from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig
from poshbridge.remote import ocsp, tls

REPO = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        try:
            self.doc: dict[str, Any] = json.loads(done.stdout) if done.stdout.lstrip().startswith("{") else {}
        except ValueError:
            self.doc = {}

    def host(self, name: str) -> dict[str, Any]:
        for entry in self.doc.get("hosts", []):
            if entry["host"] == name:
                return dict(entry)
        raise AssertionError(f"{name} not in the result:\n{self.stdout}\n{self.stderr}")

    def steps(self, name: str) -> dict[str, str]:
        return {s["name"]: s["status"] for s in self.host(name)["steps"]}

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.stdout[-6000:]}\nstderr:\n{self.stderr[-3000:]}"


def cli(inventory: Path, state: Path, *args: str, stdin: str | None = None) -> Run:
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(state), NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "poshbridge", "-i", str(inventory), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=600,
        check=False,
    )
    return Run(done)


def derived_inventory(lab: LabHandle, folder: Path, overrides: dict[str, dict[str, Any]]) -> Path:
    """The lab's inventory with per-host overrides; relative secret paths made absolute."""
    doc = yaml.safe_load(lab.inventory.read_text("utf-8"))
    base = lab.inventory.parent

    def absolutize(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"file"} and not Path(str(node["file"])).is_absolute():
                return {"file": str(base / str(node["file"]))}
            return {k: absolutize(v) for k, v in node.items()}
        if isinstance(node, list):
            return [absolutize(v) for v in node]
        return node

    doc = absolutize(doc)
    for host, sections in overrides.items():
        entry = doc["hosts"][host]
        for section, values in sections.items():
            merged = dict(entry.get(section) or {})
            merged.update(values)
            entry[section] = merged
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "inventory.yaml"
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def bound_thumbprint(twin: Any, host: HostConfig) -> str:
    """The certificate hash of the host's https binding in the twin's IIS state."""
    info = f"{host.iis.ip_address}:{host.iis.port}:{host.iis.host_header}".lower()
    bindings = twin.iis().load()["sites"][host.iis.site]["bindings"]
    return str(
        next(
            b["certificate_hash"]
            for b in bindings
            if b["protocol"] == "https" and str(b["binding_information"]).lower() == info
        )
    )


def lab_cli(lab: LabHandle, *argv: str) -> subprocess.CompletedProcess[str]:
    """``poshbridge lab <argv> --dir <the session's lab>``."""
    return subprocess.run(
        [sys.executable, "-m", "poshbridge", "lab", *argv, "--dir", str(lab.dir)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served_and_issuer(lab: LabHandle, name: str) -> tuple[tls.ServedCertificate, str]:
    h = lab.host(name)
    served = tls.fetch_served("127.0.0.1", int(h["site_https_port"]), h["domains"][0])
    return served, served.issuer or ""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def test_setup_on_a_fresh_twin_then_again_changes_nothing(lab: LabHandle, lab_host: str, state: Path) -> None:
    first = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert first.code == 0, first
    steps = first.steps(lab_host)
    assert steps["certificate"] == "changed" and steps["acme-account"] == "changed", first
    assert steps["challenge-web.config"] == "changed" and steps["scheduled-task"] == "changed"
    assert steps["iis-binding"] == "changed" and steps["tls-verify"] == "changed"  # now serves the new one
    objects = first.host(lab_host)["objects"]
    assert objects["ocsp"]["state"] == "good", objects["ocsp"]
    thumbprint = objects["certificate"]["thumbprint"]
    served, issuer = served_and_issuer(lab, lab_host)
    assert served.thumbprint == thumbprint
    assert "Pebble" in issuer
    assert objects["task"] is not None and objects["task"]["task_name"] == "poshbridge renew"
    account_id = objects["account"]["id"]

    second = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert second.code == 0, second
    assert set(second.steps(lab_host).values()) == {"unchanged"}, second
    again = second.host(lab_host)["objects"]
    assert again["account"]["id"] == account_id
    assert again["certificate"]["thumbprint"] == thumbprint
    assert again["order"]["name"] == first.host(lab_host)["objects"]["order"]["name"]
    home = lab.twin(lab_host).real_path("C:\\ProgramData\\poshbridge\\Posh-ACME")
    assert len(list(home.rglob("acct.json"))) == 1
    assert len(list(home.rglob("order.json"))) == 1

    history = [json.loads(line) for line in (state / "history.jsonl").read_text("utf-8").splitlines()]
    assert [(h["command"], h["host"], h["ok"]) for h in history] == [("setup", lab_host, True)] * 2


def test_setup_writes_the_mime_fix_and_restores_it_when_deleted(
    lab: LabHandle, lab_host: str, state: Path
) -> None:
    from poshbridge.generate.web_config import challenge_web_config

    first = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert first.code == 0, first
    twin = lab.twin(lab_host)
    path = twin.real_path("C:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config")
    assert path.read_text("utf-8-sig").replace("\r\n", "\n").strip() == challenge_web_config().strip()
    path.unlink()
    second = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert second.code == 0, second
    steps = second.steps(lab_host)
    assert steps["challenge-web.config"] == "changed"
    assert steps["certificate"] == "unchanged" and steps["acme-account"] == "unchanged"
    assert path.exists()


def test_wrong_eab_is_a_classified_unauthorized_error(lab: LabHandle, lab_host: str, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-hmac"
    wrong.write_text("d3JvbmctaG1hYy1rZXktZm9yLXRoZS1sYWItdGVzdHMtMDAwMDAwMDAwMDAwMDA", "utf-8")
    inventory = derived_inventory(
        lab, tmp_path / "inv", {lab_host: {"acme": {"eab_hmac": {"file": str(wrong)}}}}
    )
    run = cli(inventory, tmp_path / "state", "setup", lab_host, "--json")
    assert run.code == 1, run
    entry = run.host(lab_host)
    assert run.steps(lab_host)["acme-account"] == "failed"
    assert run.steps(lab_host)["certificate"] in ("skipped",)
    (error,) = [e for e in entry["errors"] if e["step"] == "acme-account"]
    assert error["kind"] == "acme"
    assert error["acme_problem"]["type"] == "unauthorized"
    assert "14 days" in error["hint"] and "registrar" in error["hint"]
    text = cli(inventory, tmp_path / "state", "setup", lab_host, "--lang", "ja")
    assert "ACME アカウントのステータスが不正である場合" in text.stdout, text
    assert "step acme-account" in text.stdout and lab_host in text.stdout


def test_a_failed_new_account_keeps_new_certificate_from_running(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    """Issue 8 item 1. On Windows a Posh-ACME throw does not stop a batch (PowerShell.cs
    BatchInvocationWorkItem): sent in the same invocation, New-PACertificate would run after a failed
    New-PAAccount and issue with whatever other valid account the host has. The certificate step must
    not be sent at all, and must say so."""
    from poshbridge.inventory.load import load_inventory
    from poshbridge.poshacme import calls
    from poshbridge.powershell.command import Batch, Secret
    from poshbridge.remote.session import HostSession

    host = load_inventory(lab.inventory).hosts[lab_host]
    home = host.acme.poshacme_home
    prep = Batch()
    prep.add(calls.new_directory(home), label="home")
    prep.add(calls.set_poshacme_home(home), label="env")
    prep.add(calls.set_pa_server(host.acme.directory), label="server")
    prep.add(
        calls.new_pa_account(
            eab_kid=Secret(lab.secret("eab-kid")),
            eab_hmac=Secret(lab.secret("eab-hmac")),
            contacts=["someone-else@poshbridge.test"],
        ),
        label="other-account",
    )
    with HostSession(host, base_dir=lab.inventory.parent) as session:
        prepared = session.run(prep)
    assert not prepared.errors, prepared.errors
    wrong = tmp_path / "wrong-hmac"
    wrong.write_text("d3JvbmctaG1hYy1rZXktZm9yLXRoZS1sYWItdGVzdHMtMDAwMDAwMDAwMDAwMDA", "utf-8")
    inventory = derived_inventory(
        lab, tmp_path / "inv", {lab_host: {"acme": {"eab_hmac": {"file": str(wrong)}}}}
    )
    run = cli(inventory, tmp_path / "state", "setup", lab_host, "--json")
    assert run.code == 1, run
    steps = {s["name"]: s for s in run.host(lab_host)["steps"]}
    assert steps["acme-account"]["status"] == "failed"
    assert steps["certificate"]["status"] == "skipped", run
    assert "not sent" in steps["certificate"]["detail"]
    # no order was created with the other account
    assert list(Path(lab.host(lab_host)["root"]).rglob("order.json")) == []


def test_a_host_without_posh_acme_state_is_a_fact_not_a_failure(
    lab: LabHandle, lab_host: str, state: Path
) -> None:
    """Issue 8 item 7: before Set-PAServer, Get-PAAccount throws "No ACME server configured. Run
    Set-PAServer first." and Get-PAOrder / Get-PACertificate throw too (Posh-ACME's Begin blocks). The
    reads of status, setup and audit take that as "no server yet", not as an error."""
    from poshbridge.inventory.load import load_inventory
    from poshbridge.poshacme import calls
    from poshbridge.powershell.command import Batch
    from poshbridge.remote.session import HostSession

    host = load_inventory(lab.inventory).hosts[lab_host]
    reads = Batch().add(calls.set_poshacme_home(host.acme.poshacme_home), label="env")
    reads.add(calls.get_pa_accounts(), label="accounts")
    reads.add(calls.get_pa_orders(), label="orders")
    reads.add(calls.get_pa_certificate(host.order_name), label="certificate")
    with HostSession(host, base_dir=lab.inventory.parent) as session:
        result = session.run(reads)
    messages = {s.label: [e.message for e in s.errors] for s in result.statements}
    no_server = ["No ACME server configured. Run Set-PAServer first."]
    assert messages == {"env": [], "accounts": no_server, "orders": no_server, "certificate": no_server}

    status = cli(lab.inventory, state, "status", lab_host, "--json")
    # the health model judges such a host (not set up: CRIT); the reads themselves are no errors
    errors = status.host(lab_host)["errors"]
    assert [(e["step"], e["kind"]) for e in errors] == [("health", "not-set-up")], status
    dry = cli(lab.inventory, state, "setup", lab_host, "--dry-run", "--json")
    assert dry.code == 0 and dry.host(lab_host)["errors"] == [], dry
    audit = cli(lab.inventory, state, "audit", lab_host, "--json")
    (doc,) = audit.doc["hosts"]
    assert "collection" not in [r["code"] for r in doc["reasons"]], doc["reasons"]
    assert doc["verdict"] == "CRIT"  # not served, no task: what a host never set up is


def test_renew_not_due_then_forced(lab: LabHandle, lab_host: str, state: Path) -> None:
    setup = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert setup.code == 0, setup
    before = setup.host(lab_host)["objects"]["certificate"]["thumbprint"]
    not_due = cli(lab.inventory, state, "renew", lab_host, "--json")
    assert not_due.code == 0, not_due
    renewal = not_due.host(lab_host)["objects"]["renewal"]
    assert renewal["outcome"] == "not-due" and renewal["renew_after"], renewal
    assert not_due.steps(lab_host)["renew"] == "unchanged"
    forced = cli(lab.inventory, state, "renew", lab_host, "--force", "--json")
    assert forced.code == 0, forced
    assert forced.host(lab_host)["objects"]["renewal"]["outcome"] == "renewed"
    after = forced.host(lab_host)["objects"]["certificate"]["thumbprint"]
    assert after != before
    served, _issuer = served_and_issuer(lab, lab_host)
    assert served.thumbprint == after
    assert forced.steps(lab_host)["iis-binding"] == "changed"


def test_revoke_needs_confirmation_then_revokes(lab: LabHandle, lab_host: str, state: Path) -> None:
    setup = cli(lab.inventory, state, "setup", lab_host, "--json")
    assert setup.code == 0, setup
    refused = cli(lab.inventory, state, "revoke", lab_host, stdin="")
    assert refused.code == 2 and "--yes" in refused.stderr, refused
    done = cli(lab.inventory, state, "revoke", lab_host, "--yes", "--reason", "keyCompromise", "--json")
    assert done.code == 0, done
    assert done.steps(lab_host)["revoke"] == "changed"
    served, _issuer = served_and_issuer(lab, lab_host)
    leaf = served.certificate()
    chain = lab.twin(lab_host).real_path(setup.host(lab_host)["objects"]["certificate"]["chain_file"])
    issuer = ocsp.load_pem_certificates(chain.read_bytes())[0]
    assert leaf is not None
    answers = []
    for _ in range(20):  # the responder re-reads its index lazily and may be busy with another twin
        answers.append(ocsp.check(leaf, issuer))
        if answers[-1].state == "revoked":
            break
        time.sleep(0.5)
    assert answers[-1].state == "revoked", answers


def test_connection_failures_are_per_host_and_others_succeed(lab: LabHandle, tmp_path: Path) -> None:
    good = lab.claim("failures: good host")
    auth = lab.claim("failures: auth")
    dropped = lab.claim("failures: dropped")
    unreachable = lab.claim("failures: unreachable")
    try:
        inventory = derived_inventory(
            lab, tmp_path / "inv", {unreachable: {"winrm": {"port": closed_port()}}}
        )
        lab.faults(auth, auth_fail=True)
        lab.faults(dropped, drop_next_receive=True)
        # --retries 0: a dropped Receive is classified (with retries it is polled again and succeeds)
        hosts = (good, auth, dropped, unreachable)
        run = cli(inventory, tmp_path / "state", "status", *hosts, "--json", "--retries", "0")
        assert run.code == 1, run
        # the good host was read and judged by the health model (a fresh twin has no certificate)
        assert [e for e in run.host(good)["errors"] if e["step"] != "health"] == [], run
        assert "not-set-up" in [r["code"] for r in run.host(good)["objects"]["health"]["reasons"]], run
        failed = (auth, dropped, unreachable)
        kinds = {n: [e["kind"] for e in run.host(n)["errors"] if e["step"] == "connect"] for n in failed}
        assert kinds == {auth: ["auth"], dropped: ["dropped"], unreachable: ["unreachable"]}, run
        for name in failed:
            # not verifiable, with the error: never "no certificate", never a served "(DIFFERENT)"
            entry = run.host(name)
            codes = [r["code"] for r in entry["objects"]["health"]["reasons"]]
            assert "not-verifiable" in codes and "no-certificate" not in codes, entry
            assert "not verifiable: connection failed" in entry["summary"], entry
            assert entry["objects"]["status"]["served_matches"] is False
        text = cli(inventory, tmp_path / "state", "status", good, unreachable)
        assert f"ERROR {unreachable}: step connect: unreachable" in text.stdout, text
        assert "(DIFFERENT)" not in text.stdout and "not read (connection failed)" in text.stdout, text
        assert "no certificate" not in text.stdout.split(f"ERROR {unreachable}")[1].split("ERROR")[0], text
    finally:
        for name in (auth, dropped):
            lab.faults(name, auth_fail=False, drop_next_receive=False)
        for name in (good, auth, dropped, unreachable):
            lab.release(name)


def test_dry_run_changes_nothing(lab: LabHandle, lab_host: str, state: Path) -> None:
    run = cli(lab.inventory, state, "setup", lab_host, "--dry-run", "--json")
    assert run.code == 0, run
    entry = run.host(lab_host)
    assert run.doc["dry_run"] is True
    commands = [c for s in entry["steps"] for c in s["commands"]]
    assert any(c.startswith("New-PAAccount ") and "-ExtAcctHMACKey '********'" in c for c in commands)
    assert any(c.startswith("New-PACertificate ") for c in commands)
    assert lab.secret("eab-hmac") not in run.stdout
    twin = lab.twin(lab_host)
    assert not twin.real_path("C:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config").exists()
    assert not twin.real_path("C:\\poshbridge\\renew.ps1").exists()
    assert not twin.real_path("C:\\ProgramData\\poshbridge\\Posh-ACME").exists()
    status = cli(lab.inventory, state, "status", lab_host, "--json")
    assert status.host(lab_host)["objects"]["task"] is None


def test_server_2016_iis_administration_is_reported_before_issuance_and_installed_on_request(
    lab: LabHandle, tmp_path: Path
) -> None:
    """Issue 8 items 3 and 12: Set-IISCertificate needs IISAdministration >= 1.1.0.0 (a gallery module;
    Server 2016 ships 1.0.0.0), and Install-Module on a stock 5.1 needs TLS 1.2 and the NuGet provider."""
    name = lab.claim("server 2016 IISAdministration")
    try:
        lab.faults(name, iis_administration_inbox=True)
        home = lab.twin(name).real_path("C:\\ProgramData\\poshbridge\\Posh-ACME")
        refused = cli(lab.inventory, tmp_path / "state", "setup", name, "--json")
        assert refused.code == 1, refused
        steps = refused.steps(name)
        assert steps["modules"] == "failed" and steps["certificate"] == "skipped", refused
        modules = next(s for s in refused.host(name)["steps"] if s["name"] == "modules")
        assert "IISAdministration 1.0.0.0 is older than 1.1.0.0" in modules["detail"]
        assert not list(home.rglob("order.json")), "nothing may be issued before the module check"

        installed = cli(lab.inventory, tmp_path / "state", "setup", name, "--install-modules", "--json")
        assert installed.code == 0, installed
        steps = installed.steps(name)
        assert steps["modules"] == "changed" and steps["iis-binding"] == "changed", installed
        commands = next(s for s in installed.host(name)["steps"] if s["name"] == "modules")["commands"]
        assert commands[0].startswith("[Net.ServicePointManager]::SecurityProtocol = ")
        assert commands[1].startswith("Install-PackageProvider -Name 'NuGet' -MinimumVersion '2.8.5.201'")
        twin = lab.twin(name)
        assert twin.real_path(
            "C:\\Program Files\\WindowsPowerShell\\Modules\\IISAdministration\\1.1.0.0"
        ).is_dir()
        assert twin.real_path("C:\\Program Files\\PackageManagement\\ProviderAssemblies\\nuget").is_dir()
        served, _issuer = served_and_issuer(lab, name)
        assert served.thumbprint == installed.host(name)["objects"]["certificate"]["thumbprint"]
    finally:
        lab.faults(name, iis_administration_inbox=False)
        lab.release(name)


def test_remove_old_cert_never_deletes_a_certificate_another_site_still_uses(
    lab: LabHandle, tmp_path: Path
) -> None:
    """Issue 8 item 8: Set-IISCertificate -RemoveOldCert deletes the replaced certificate from
    LocalMachine\\My whatever else uses it (Posh-ACME.Deploy Remove-OldCert): poshbridge leaves the
    switch out when another binding serves that certificate."""
    from labkit import bind_certificate, pfx_bytes, self_signed

    name = lab.claim("remove old cert, shared")
    try:
        twin = lab.twin(name)
        cert, key = self_signed(twin.domains[0], twin.domains)
        old = bind_certificate(twin, pfx_bytes(cert, key))
        state = twin.iis().load()
        state["sites"]["intranet"] = {
            "id": 7,
            "physical_path": "C:\\inetpub\\intranet",
            "state": "Started",
            "bindings": [{"protocol": "https", "binding_information": "*:1:intranet.example",
                          "certificate_hash": old, "certificate_store": "My", "ssl_flags": 1}],
        }  # fmt: skip
        twin.iis().save(state)
        inventory = derived_inventory(lab, tmp_path / "inv", {name: {"iis": {"remove_old_cert": True}}})
        run = cli(inventory, tmp_path / "state", "setup", name, "--json")
        assert run.code == 0, run
        bind = next(s for s in run.host(name)["steps"] if s["name"] == "iis-binding")
        assert bind["status"] == "changed" and "another binding uses it" in bind["detail"], bind
        assert not any("-RemoveOldCert" in c for c in bind["commands"])
        assert twin.cert_store().path(old) is not None
        intranet = twin.iis().load()["sites"]["intranet"]["bindings"][0]
        assert intranet["certificate_hash"] == old
        # The renewal task: the site's certificate (setup's) is now also the intranet's. A renewal by
        # the task replaces it on the site's binding and keeps it in LocalMachine\My.
        host = load_inventory(inventory).hosts[name]
        issued = bound_thumbprint(twin, host)
        state = twin.iis().load()
        state["sites"]["intranet"]["bindings"][0]["certificate_hash"] = issued
        twin.iis().save(state)
        for argv in (["clock", name, "+61d"], ["run-task", name]):
            done = lab_cli(lab, *argv)
            assert done.returncode == 0, done.stdout + done.stderr
        renewed = bound_thumbprint(twin, host)
        assert renewed != issued
        assert twin.cert_store().path(issued) is not None  # the intranet still has its certificate
        assert twin.iis().load()["sites"]["intranet"]["bindings"][0]["certificate_hash"] == issued
        log_dir = twin.real_path(host.renewal.log_dir)
        [result] = [json.loads(p.read_bytes()[3:]) for p in log_dir.glob("renew-*.json")]
        assert result["outcome"] == "renewed" and result["thumbprint"] == renewed, result
        [transcript] = [p.read_bytes().decode("utf-8-sig") for p in log_dir.glob("renew-*.txt")]
        assert f"poshbridge: keeping {issued} in LocalMachine\\My: another binding uses it" in transcript
    finally:
        lab.release(name)


def test_poshacme_home_acl_is_set_then_drift_is_repaired(lab: LabHandle, tmp_path: Path) -> None:
    """Issue 8 item 5: POSHACME_HOME (account and certificate keys) inherits BUILTIN\\Users read access
    from ProgramData; setup removes inheritance, keeps SYSTEM + Administrators, and repairs drift."""
    from poshbridge.lab.cmdlets.security import effective_sddl

    name = lab.claim("poshacme home acl")
    try:
        home = "C:\\ProgramData\\poshbridge\\Posh-ACME"
        first = cli(lab.inventory, tmp_path / "state", "setup", name, "--json")
        assert first.code == 0, first
        assert first.steps(name)["poshacme-home-acl"] == "changed"
        twin = lab.twin(name)
        assert effective_sddl(twin, home) == "O:BAG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
        account_dir = next(p for p in twin.real_path(home).rglob("acct.json")).parent
        inner = twin.windows_path(account_dir)
        assert "BU)" not in effective_sddl(twin, inner)  # the account key's folder: no Users access
        # someone turns inheritance back on (the twin's acl.json is what Set-Acl wrote)
        acl_file = twin.root / "acl.json"
        acl_file.write_text(acl_file.read_text("utf-8").replace("D:PAI", "D:AI"), "utf-8")
        assert "(A;OICIID;0x1200a9;;;BU)" in effective_sddl(twin, home)
        repaired = cli(lab.inventory, tmp_path / "state", "setup", name, "--json")
        assert repaired.code == 0, repaired
        step = next(s for s in repaired.host(name)["steps"] if s["name"] == "poshacme-home-acl")
        assert step["status"] == "changed" and "inherits from its parent folder" in step["detail"], step
        again = cli(lab.inventory, tmp_path / "state", "setup", name, "--json")
        assert set(again.steps(name).values()) == {"unchanged"}, again
    finally:
        lab.release(name)


def test_pfx_password_is_sent_as_a_securestring_and_never_shown(lab: LabHandle, tmp_path: Path) -> None:
    """Issue 8 item 5: acme.pfx_password (a secret reference) replaces Posh-ACME's public default
    'poshacme' through New-PACertificate -PfxPassSecure; dry-run masks it, nothing prints it."""
    import base64

    password = "Sentinel-Pfx-Secure-4711"
    name = lab.claim("pfx password")
    try:
        secret_file = tmp_path / "pfx-password"
        secret_file.write_text(password + "\n", "utf-8")
        inventory = derived_inventory(
            lab, tmp_path / "inv", {name: {"acme": {"pfx_password": {"file": str(secret_file)}}}}
        )
        dry = cli(inventory, tmp_path / "state", "setup", name, "--dry-run", "--json")
        assert dry.code == 0, dry
        commands = [c for s in dry.host(name)["steps"] for c in s["commands"]]
        masked = "-PfxPassSecure '********'"
        assert any(c.startswith("New-PACertificate ") and masked in c for c in commands), commands
        run = cli(inventory, tmp_path / "state", "setup", name, "--json")
        assert run.code == 0, run
        for text in (
            dry.stdout,
            dry.stderr,
            run.stdout,
            run.stderr,
            (tmp_path / "state" / "history.jsonl").read_text("utf-8"),
        ):
            assert password not in text
        home = lab.twin(name).real_path("C:\\ProgramData\\poshbridge\\Posh-ACME")
        (order,) = home.rglob("order.json")
        encoded = json.loads(order.read_text("utf-8-sig"))["PfxPassB64U"]
        assert base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode() == password
        served, _issuer = served_and_issuer(lab, name)  # Set-IISCertificate imported the PFX with it
        assert served.thumbprint == run.host(name)["objects"]["certificate"]["thumbprint"]
    finally:
        lab.release(name)


def test_a_powershell_7_endpoint_still_gets_a_script_with_a_bom(lab: LabHandle, tmp_path: Path) -> None:
    """Issue 8 item 11: PowerShell 7 (configuration_name PowerShell.7) writes UTF-8 WITHOUT a BOM; the
    task's powershell.exe 5.1 reads such a script in the ANSI code page. setup sends bytes with a BOM."""
    from poshbridge.lab.cmdlets.files import decode_bytes

    name = lab.claim("powershell 7 endpoint")
    try:
        log_dir = "C:\\poshbridge\\ログ"  # not ANSI: read as cp1252 it would name another folder
        inventory = derived_inventory(
            lab,
            tmp_path / "inv",
            {name: {"winrm": {"configuration_name": "PowerShell.7"}, "renewal": {"log_dir": log_dir}}},
        )
        run = cli(inventory, tmp_path / "state", "setup", name, "--json")
        assert run.code == 0, run
        step = next(s for s in run.host(name)["steps"] if s["name"] == "renewal-script")
        assert any(c.startswith("Set-Content ") and "-AsByteStream" in c for c in step["commands"]), step
        data = lab.twin(name).real_path("C:\\poshbridge\\renew.ps1").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        as_51_reads_it = decode_bytes(data, None)  # BOM first, else the ANSI code page (files.py)
        assert f"$LogDir = '{log_dir}'" in as_51_reads_it
        again = cli(inventory, tmp_path / "state", "setup", name, "--json")
        assert set(again.steps(name).values()) == {"unchanged"}, again
        audit = cli(inventory, tmp_path / "state", "audit", name, "--json")
        assert audit.code in (0, 1), audit  # the audit reads files with -AsByteStream on PowerShell 7
        assert "is not a supported encoding name" not in audit.stdout + audit.stderr, audit
    finally:
        lab.release(name)
