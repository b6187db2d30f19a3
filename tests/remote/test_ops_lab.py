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
    assert steps["iis-binding"] == "changed" and steps["tls-verify"] == "unchanged"
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
        assert run.host(good)["ok"] is True
        kinds = {name: [e["kind"] for e in run.host(name)["errors"]] for name in (auth, dropped, unreachable)}
        assert kinds == {auth: ["auth"], dropped: ["dropped"], unreachable: ["unreachable"]}, run
        text = cli(inventory, tmp_path / "state", "status", good, unreachable)
        assert f"ERROR {unreachable}: step connect: unreachable" in text.stdout, text
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
    assert any(c.startswith("New-PAAccount ") and "-ExtAcctHMACKey ********" in c for c in commands)
    assert any(c.startswith("New-PACertificate ") for c in commands)
    assert lab.secret("eab-hmac") not in run.stdout
    twin = lab.twin(lab_host)
    assert not twin.real_path("C:\\inetpub\\wwwroot\\.well-known\\acme-challenge\\web.config").exists()
    assert not twin.real_path("C:\\poshbridge\\renew.ps1").exists()
    assert not twin.real_path("C:\\ProgramData\\poshbridge\\Posh-ACME").exists()
    status = cli(lab.inventory, state, "status", lab_host, "--json")
    assert status.host(lab_host)["objects"]["task"] is None
