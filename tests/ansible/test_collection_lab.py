"""The collection's example playbook (examples/ansible/site.yml) against the lab, run the way an operator
runs it: ``ansible-playbook`` as a program, the collection found in this repository, an Ansible
inventory built for two lab twins from the lab's data (the WinRM password from an Ansible vault, the
EAB HMAC key through a template, the EAB key id as a poshbridge file reference).

- check mode on the fresh twins: Ansible says "changed" (would change) and the twins, read over WinRM,
  are byte for byte as before (their files, IIS and certificate store, as the lab holds them);
- setup: changed, the site serves the new certificate; again: ok and unchanged;
- audit: the results registered (the playbook keeps each host's as JSON) and checked;
- with -vvv no secret appears in Ansible's output, the results or the history, whether it came from the
  host's variables or from a task's no_log option; two forks appended to one history file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from collectionkit import EXAMPLE, ansible_env, program, run
from labkit import LabHandle, served_certificate, thumbprint

VAULT_PASSWORD = "Sentinel-Vault-Password-6180"
SETUP_TASK = "Posh-ACME, the certificate, the IIS binding and the renewal task"
AUDIT_TASK = "Audit the renewal (transcripts, Posh-ACME state, task, binding, what the site serves)"
_STATUS_LINE = re.compile(r"^(ok|changed|skipping|fatal): \[([^\]]+)\]", re.MULTILINE)
_RECAP = re.compile(
    r"^(\S+)\s*: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.MULTILINE
)


@dataclass
class Played:
    """One ansible-playbook run: its output, exit code and the report (host → registered results)."""

    code: int
    out: str
    report: dict[str, dict[str, Any]] = field(default_factory=dict)

    def task(self, name: str) -> dict[str, str]:
        """Host → what Ansible reported for the task (ok, changed, skipping, fatal)."""
        start = self.out.index(f"TASK [{name}]")
        end = self.out.find("TASK [", start + 1)
        section = self.out[start : end if end != -1 else len(self.out)]
        return {host.split(" -> ")[0]: status for status, host in _STATUS_LINE.findall(section)}

    def recap(self) -> dict[str, dict[str, int]]:
        keys = ("ok", "changed", "unreachable", "failed", "skipped")
        return {m[0]: dict(zip(keys, map(int, m[1:]), strict=True)) for m in _RECAP.findall(self.out)}


@dataclass
class Journey:
    lab: LabHandle
    dir: Path
    hosts: list[str]
    state: Path
    before_check: dict[str, dict[str, str]]
    after_check: dict[str, dict[str, str]]
    requests_by_check: dict[str, int]
    check: Played
    first: Played
    again: Played

    def secrets(self) -> list[str]:
        return [self.lab.secret(n) for n in ("winrm-password", "eab-kid", "eab-hmac")] + [VAULT_PASSWORD]


def twin_files(lab: LabHandle, name: str) -> dict[str, str]:
    """Every file of the twin (its C:\\ drive, IIS state, certificate store) with its SHA-256."""
    root = Path(lab.host(name)["root"])
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def write_inventory(lab: LabHandle, hosts: list[str], directory: Path) -> Path:
    """An Ansible inventory of the lab twins, from the lab's own inventory and lab.json."""
    native = yaml.safe_load(lab.inventory.read_text("utf-8"))
    defaults = native["defaults"]
    entries = {}
    for name in hosts:
        twin = native["hosts"][name]
        entries[name] = {
            "ansible_port": twin["winrm"]["port"],
            "poshbridge_domains": twin["domains"],
            "poshbridge_webroot": twin["webroot"],
            "poshbridge_iis_site": twin["iis"]["site"],
            "poshbridge_iis_port": twin["iis"]["port"],
        }
    group_vars = {
        "ansible_connection": "ansible.builtin.psrp",  # as for real Windows hosts: never used here
        "ansible_host": "127.0.0.1",
        "ansible_user": defaults["winrm"]["username"],
        "ansible_psrp_protocol": "https",
        "ansible_psrp_auth": "negotiate",
        "ansible_psrp_ca_cert": defaults["winrm"]["verify"],
        "poshbridge_directory": defaults["acme"]["directory"],
        "poshbridge_eab_kid": {"file": lab.data["eab_kid_file"]},
        "eab_hmac_file": lab.data["eab_hmac_file"],
        "poshbridge_eab_hmac": "{{ lookup('ansible.builtin.file', eab_hmac_file) }}",
        "poshbridge_contacts": defaults["acme"]["contacts"],
        "poshbridge_renewal_wait_after_renewal": max(30, math.ceil(3 * float(lab.data["ocsp_lag"]))),
    }
    inventory = directory / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"iis": {"hosts": entries, "vars": group_vars}}, width=1000), "utf-8")
    (directory / "vault-password").write_text(VAULT_PASSWORD + "\n", "utf-8")
    vaulted = _vault(directory, lab.secret("winrm-password"))
    (directory / "group_vars" / "iis").mkdir(parents=True)
    (directory / "group_vars" / "iis" / "vault.yml").write_text(vaulted, "utf-8")
    return inventory


def _vault(directory: Path, value: str) -> str:
    """``ansible-vault encrypt_string``: the value from stdin, never on a command line."""
    done = subprocess.run(
        [
            program("ansible-vault"),
            "encrypt_string",
            "--vault-password-file",
            str(directory / "vault-password"),
            "--stdin-name",
            "ansible_password",
        ],
        input=value,
        cwd=directory,
        env=ansible_env(directory / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert value not in done.stdout and "$ANSIBLE_VAULT" in done.stdout
    return done.stdout


def play(journey_dir: Path, inventory: Path, state: Path, hosts: list[str], label: str, *args: str) -> Played:
    reports = journey_dir / "reports" / label
    done = run(
        "ansible-playbook",
        "-i",
        str(inventory),
        "--vault-password-file",
        str(journey_dir / "vault-password"),
        "--limit",
        ",".join(hosts),
        "-e",
        f"certificate_report_dir={reports}",
        *args,
        str(EXAMPLE / "site.yml"),
        home=journey_dir / "home",
        cwd=journey_dir,
        POSHBRIDGE_STATE_DIR=str(state),
        ANSIBLE_FORKS="5",
    )
    report = {p.stem: json.loads(p.read_text("utf-8")) for p in sorted(reports.glob("*.json"))}
    return Played(done.returncode, done.stdout + done.stderr, report)


@pytest.fixture(scope="module")
def journey(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    hosts = [lab.claim("ansible collection: setup"), lab.claim("ansible collection: again")]
    try:
        directory = tmp_path_factory.mktemp("ansible")
        inventory = write_inventory(lab, hosts, directory)
        state = directory / "state"
        before = {h: twin_files(lab, h) for h in hosts}
        requests = {h: int(lab.counters(h)["wsman_requests"]) for h in hosts}
        check = play(directory, inventory, state, hosts, "check", "--check")
        after = {h: twin_files(lab, h) for h in hosts}
        by_check = {h: int(lab.counters(h)["wsman_requests"]) - requests[h] for h in hosts}
        first = play(directory, inventory, state, hosts, "first", "-vvv")
        again = play(directory, inventory, state, hosts, "again")
        yield Journey(lab, directory, hosts, state, before, after, by_check, check, first, again)
    finally:
        for name in hosts:
            lab.release(name)


def test_check_mode_is_the_dry_run_and_nothing_changes_on_the_twins(journey: Journey) -> None:
    check = journey.check
    assert check.code == 0, check.out
    assert check.task(SETUP_TASK) == dict.fromkeys(journey.hosts, "changed"), check.out  # would change
    for host in journey.hosts:
        setup = check.report[host]["setup"]
        assert setup["dry_run"] is True and setup["changed"] is True and setup["failed"] is False
        statuses = {s["name"]: s["status"] for s in setup["steps"]}
        assert statuses["renewal-script"] == "changed" and statuses["certificate"] == "pending", statuses
        assert setup["msg"].startswith("would change: ")
        assert journey.requests_by_check[host] > 0  # the twin was read over WinRM ...
        assert journey.after_check[host] == journey.before_check[host]  # ... and nothing on it changed
        assert check.report[host]["audit"]["verdict"] == "CRIT"  # still nothing there: reported, not failed


def test_setup_changes_then_again_is_ok_and_unchanged(journey: Journey) -> None:
    first, again = journey.first, journey.again
    assert first.code == 0, first.out[-4000:]
    assert first.task(SETUP_TASK) == dict.fromkeys(journey.hosts, "changed")
    assert again.code == 0, again.out[-4000:]
    assert again.task(SETUP_TASK) == dict.fromkeys(journey.hosts, "ok"), again.out
    for host in journey.hosts:
        setup = first.report[host]["setup"]
        steps = {s["name"]: s["status"] for s in setup["steps"]}
        assert setup["changed"] is True and setup["dry_run"] is False and setup["ok"] is True
        assert steps["certificate"] == "changed" and steps["iis-binding"] == "changed", steps
        # what the lab's site serves now is the certificate the result names
        twin = journey.lab.host(host)
        served = served_certificate(twin["site_https_port"], twin["domains"][0])
        assert thumbprint(served) == setup["objects"]["certificate"]["thumbprint"]
        unchanged = again.report[host]["setup"]
        assert unchanged["changed"] is False and unchanged["msg"] == "all unchanged"
        assert {s["status"] for s in unchanged["steps"]} == {"unchanged"}, unchanged["steps"]
        assert set(unchanged) >= {"host", "ok", "outcome", "summary", "steps", "objects", "errors"}
    for played in (first, again):
        recap = played.recap()
        assert all(recap[h]["failed"] == 0 and recap[h]["unreachable"] == 0 for h in journey.hosts), recap


def test_audit_results_are_registered_and_checked(journey: Journey) -> None:
    for played in (journey.first, journey.again):
        assert played.task(AUDIT_TASK) == dict.fromkeys(journey.hosts, "ok")
        assert played.task("The site serves Posh-ACME's current certificate") == dict.fromkeys(
            journey.hosts, "ok"
        )
    for host in journey.hosts:
        audit = journey.again.report[host]["audit"]
        setup = journey.first.report[host]["setup"]
        assert audit["host"] == host and audit["verdict"] == "OK", audit
        assert audit["changed"] is False and audit["failed"] is False
        thumb = setup["objects"]["certificate"]["thumbprint"]
        assert audit["thumbprints"] == {"posh_acme": thumb, "iis_binding": thumb, "served": thumb}


def test_no_secret_in_the_vvv_output_the_results_or_the_history(journey: Journey) -> None:
    first = journey.first
    # Ansible opened no connection of its own to a Windows host (only to localhost, for the report)
    assert "ESTABLISH PSRP" not in first.out and "<127.0.0.1>" not in first.out
    assert '"objects": {' in first.out  # -vvv printed the results
    reports = json.dumps([journey.check.report, first.report, journey.again.report])
    history = (journey.state / "history.jsonl").read_text("utf-8")
    for secret in journey.secrets():
        assert secret not in first.out and secret not in journey.check.out and secret not in journey.again.out
        assert secret not in reports and secret not in history
    lines = [json.loads(line) for line in history.splitlines()]  # two forks, one file: whole lines
    assert sorted((r["host"], r["dry_run"]) for r in lines if r["command"] == "setup") == sorted(
        [(h, dry) for h in journey.hosts for dry in (True, False, False)]
    )


def run_tasks(journey: Journey, name: str, host: str, tasks: list[dict[str, Any]], *args: str) -> Played:
    """A one-play playbook of ``tasks`` on ``host`` (the journey's inventory, vault and state)."""
    playbook = journey.dir / f"{name}.yml"
    play_doc = [{"name": name, "hosts": "iis", "gather_facts": False, "tasks": tasks}]
    playbook.write_text(yaml.safe_dump(play_doc), "utf-8")
    done = run(
        "ansible-playbook",
        *args,
        "-i",
        str(journey.dir / "inventory.yml"),
        "--vault-password-file",
        str(journey.dir / "vault-password"),
        "--limit",
        host,
        str(playbook),
        home=journey.dir / "home",
        cwd=journey.dir,
        POSHBRIDGE_STATE_DIR=str(journey.state),
    )
    return Played(done.returncode, done.stdout + done.stderr)


def test_renew_forced_is_changed_not_due_is_ok_and_check_mode_skips(journey: Journey) -> None:
    host = journey.hosts[1]
    before = journey.first.report[host]["setup"]["objects"]["certificate"]["thumbprint"]
    played = run_tasks(
        journey,
        "renew",
        host,
        [
            {"name": "check mode", "poshbridge.iis.renew": {"force": True}, "check_mode": True},
            {"name": "not due", "poshbridge.iis.renew": None, "register": "not_due"},
            {"name": "forced", "poshbridge.iis.renew": {"force": True}, "register": "forced"},
            {
                "name": "keep",
                "ansible.builtin.copy": {
                    "content": "{{ {'not_due': not_due, 'forced': forced} | to_json }}",
                    "dest": str(journey.dir / "renew.json"),
                    "mode": "0600",
                },
                "delegate_to": "localhost",
            },
        ],
    )
    assert played.code == 0, played.out[-4000:]
    assert played.task("check mode") == {host: "skipping"}
    assert played.task("not due") == {host: "ok"} and played.task("forced") == {host: "changed"}
    served = served_certificate(
        journey.lab.host(host)["site_https_port"], journey.lab.host(host)["domains"][0]
    )
    assert thumbprint(served) != before  # the lab's site serves the renewed certificate
    kept = json.loads((journey.dir / "renew.json").read_text("utf-8"))
    not_due, forced = kept["not_due"], kept["forced"]
    assert not_due["objects"]["renewal"]["outcome"] == "not-due" and not_due["changed"] is False
    assert forced["objects"]["renewal"]["outcome"] == "renewed"
    assert forced["objects"]["certificate"]["thumbprint"] == thumbprint(served)


def test_a_secret_task_option_is_no_log(journey: Journey) -> None:
    wrong = "Sentinel-Wrong-WinRM-Password-1729"
    host = journey.hosts[0]
    played = run_tasks(
        journey,
        "status",
        host,
        [
            {
                "name": "wrong password",
                "poshbridge.iis.status": {"winrm_password": "{{ wrong_password }}", "history": False},
                "ignore_errors": True,
            },
            {
                "name": "the vaulted password",
                "poshbridge.iis.status": {"winrm_password": "{{ ansible_password }}"},
            },
        ],
        "-vvv",
        "-e",
        f"wrong_password={wrong}",  # as from a vault: a literal in a playbook is in Ansible's source excerpts
    )
    assert played.code == 0, played.out[-4000:]
    assert played.task("wrong password") == {host: "fatal"}
    # poshbridge's message as the task's, naming the Ansible variables to check
    assert "step connect: auth: authentication refused (check ansible_user/ansible_password" in played.out
    assert played.task("the vaulted password") == {host: "ok"}
    for secret in [wrong, *journey.secrets()]:
        assert secret not in played.out
