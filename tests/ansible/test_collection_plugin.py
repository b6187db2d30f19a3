"""The action plugin under ansible-playbook without a lab: the task's host and its variables (templated),
option validation, located variable errors, renew's check mode, an unreachable host in Ansible's terms;
never a secret in the -vvv output."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from collectionkit import run

SECRET = "Sentinel-Plugin-WinRM-Password-8128"
HMAC = "Sentinel-Plugin-EAB-HMAC-3301"
_STATUS = re.compile(r"^(ok|changed|skipping|fatal): \[([^\]]+)\]", re.MULTILINE)


def play(tmp_path: Path, tasks: list[dict[str, object]], *args: str) -> tuple[int, str, dict[str, str]]:
    """Run the tasks on web01 (nothing listens on its WinRM port); (exit code, output, task → status)."""
    inventory = {
        "iis": {
            "hosts": {"web01": {"ansible_port": 1}, "web02": {"ansible_port": 1}},
            "vars": {
                "ansible_connection": "ansible.builtin.psrp",
                "ansible_host": "127.0.0.1",
                "ansible_user": "certadmin",
                "winrm_secret": SECRET,
                "option_hmac": "Sentinel-Option-HMAC-9973",  # a task option's value, as from a vault
                "ansible_password": "{{ winrm_secret }}",  # templated by the plugin
                "poshbridge_domains": ["{{ inventory_hostname }}.example.jp"],
                "poshbridge_webroot": "C:\\inetpub\\wwwroot",
                "poshbridge_contacts": ["admin@example.jp"],
                "poshbridge_eab_kid": "kid-1",
                "poshbridge_eab_hmac": HMAC,
            },
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory), "utf-8")
    playbook = [{"hosts": "web01", "gather_facts": False, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook), "utf-8")
    done = run(
        "ansible-playbook",
        "-vvv",
        "-i",
        str(tmp_path / "inventory.yml"),
        str(tmp_path / "play.yml"),
        *args,
        home=tmp_path / "home",
        cwd=tmp_path,
        POSHBRIDGE_STATE_DIR=str(tmp_path / "state"),
    )
    out = done.stdout + done.stderr
    statuses: dict[str, str] = {}
    for name in (str(t["name"]) for t in tasks):
        start = out.index(f"TASK [{name}]")
        end = out.find("TASK [", start + 1)
        found = _STATUS.findall(out[start : end if end != -1 else len(out)])
        statuses[name] = found[0][0] if found else ""
    return done.returncode, out, statuses


def test_the_plugin_validates_options_and_reports_in_ansibles_terms(tmp_path: Path) -> None:
    code, out, statuses = play(
        tmp_path,
        [
            {"name": "unknown option", "poshbridge.iis.status": {"bogus": 1}, "ignore_errors": True},
            {
                "name": "bad type next to a no_log option",
                "poshbridge.iis.setup": {"warn_days": 3, "eab_hmac": "{{ option_hmac }}"},
                "ignore_errors": True,
            },
            {"name": "unreachable", "poshbridge.iis.status": {"retries": 0}, "ignore_errors": True},
            {"name": "renew in check mode", "poshbridge.iis.renew": None, "check_mode": True},
            {
                "name": "variables with an error",
                "poshbridge.iis.status": None,
                "vars": {"poshbridge_iis_port": "not-a-port", "poshbridge_bogus": 1},
                "ignore_errors": True,
            },
        ],
    )
    assert code == 0, out[-4000:]
    assert statuses == {
        "unknown option": "fatal",
        "bad type next to a no_log option": "fatal",
        "unreachable": "fatal",
        "renew in check mode": "skipping",
        "variables with an error": "fatal",
    }, out[-4000:]
    assert "Unsupported parameters" in out and "bogus" in out
    assert "warn_days" in out  # setup has no warn_days option
    # nothing listens on port 1: the fix names the Ansible variables
    assert "web01: step connect: unreachable" in out or "step connect: unreachable" in out, out[-4000:]
    assert "check ansible_psrp_protocol/ansible_port" in out
    assert "check mode: renew has no dry run" in out
    assert (
        "web01: poshbridge_iis_port" in out and "web01: poshbridge_bogus: unknown poshbridge variable" in out
    )
    for secret in (SECRET, HMAC, "Sentinel-Option-HMAC-9973"):
        assert secret not in out  # (a secret written literally in a playbook is in Ansible's source excerpt)
