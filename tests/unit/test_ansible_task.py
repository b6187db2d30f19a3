"""poshbridge.ansible_task: what one task of the poshbridge.iis collection returns to Ansible, through a
fake session (no lab, no Ansible): check mode is setup's dry run, ``changed`` from the steps, ``failed``
with poshbridge's message and fix, the host's ``--json`` keys, and never a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakesession import FakeHost, factory
from test_runner_loop import CHANGING, windows

from poshbridge import api
from poshbridge.ansible_task import ARGUMENT_SPECS, RUN_MODULES, run_task, wanted_var
from poshbridge.health.model import LEVELS
from poshbridge.inventory.model import HostConfig
from poshbridge.powershell.command import MASK, Secret
from poshbridge.remote.session import RemoteConnectionError

PASSWORD = "Sentinel-Ansible-WinRM-Password-2718"
HMAC = "Sentinel-Ansible-EAB-HMAC-1618"
KID = "Sentinel-Ansible-EAB-KID-1414"
OVERRIDE = "Sentinel-Ansible-Override-HMAC-5772"
SECRETS = (PASSWORD, HMAC, KID, OVERRIDE)
HOST_KEYS = {"host", "ok", "outcome", "summary", "steps", "objects", "errors"}


def host_vars(**changes: Any) -> dict[str, Any]:
    """One IIS host as Ansible gives its variables (connection + poshbridge_*)."""
    found: dict[str, Any] = {
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,  # nothing listens: no test here reaches a network
        "ansible_user": "CONTOSO\\certadmin",
        "ansible_password": PASSWORD,
        "ansible_psrp_protocol": "https",
        "poshbridge_domains": ["example.jp", "www.example.jp"],
        "poshbridge_webroot": "C:\\inetpub\\wwwroot",
        "poshbridge_directory": "https://acme.example.jp/directory",
        "poshbridge_eab_kid": KID,
        "poshbridge_eab_hmac": HMAC,
        "poshbridge_contacts": ["admin@example.jp"],
        "poshbridge_iis_site": "example.jp",
    }
    found.update(changes)
    return {k: v for k, v in found.items() if v is not None}


def params(command: str, **changes: Any) -> dict[str, Any]:
    """The validated options with their defaults, as Ansible's argument spec gives them."""
    spec = ARGUMENT_SPECS[command]
    return {name: changes.get(name, option.get("default")) for name, option in spec.items()}


def the_host(**changes: Any) -> HostConfig:
    inventory = api.inventory_from_ansible_vars({"web01": host_vars(**changes)}, base_dir=Path.cwd())
    (host,) = api.select_hosts(inventory, ["web01"])
    return host


def no_secret_in(result: dict[str, Any]) -> None:
    text = json.dumps(result)
    for secret in SECRETS:
        assert secret not in text


@pytest.fixture(autouse=True)
def state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("POSHBRIDGE_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def test_check_mode_is_setups_dry_run_changed_means_would_change_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    fake = windows(the_host())
    result = run_task(
        "setup",
        "web01",
        host_vars(),
        params("setup"),
        check_mode=True,
        base_dir=tmp_path,
        session_factory=factory(fake),
    )
    assert result["dry_run"] is True and result["changed"] is True and result["failed"] is False, result
    assert [label for label in fake.labels_sent() if label.startswith(CHANGING)] == []  # only reads
    assert set(result) >= HOST_KEYS and result["host"] == "web01" and result["command"] == "setup"
    steps = {s["name"]: s["status"] for s in result["steps"]}
    assert steps["renewal-script"] == "changed" and steps["certificate"] == "pending", steps
    account = next(s for s in result["steps"] if s["name"] == "acme-account")
    assert any(MASK in command for command in account["commands"])  # the HMAC as the mask
    assert result["msg"].startswith("would change: ")
    # the SAN caution of two domains: in the result, not among the warnings Ansible prints per host
    assert any(w.startswith("web01: poshbridge_domains: ") for w in result["inventory_warnings"]), result
    assert "warnings" not in result
    no_secret_in(result)


def test_the_result_is_the_hosts_json_object_of_the_command(tmp_path: Path) -> None:
    fake = windows(the_host())
    result = run_task(
        "setup", "web01", host_vars(), params("setup"), check_mode=True, base_dir=tmp_path,
        session_factory=factory(fake),
    )  # fmt: skip
    again = api.setup(
        [the_host()],
        options=api.run_options(None, dry_run=True, history=False, base_dir=tmp_path),
        session_factory=factory(windows(the_host())),
    ).to_json()["hosts"][0]
    assert {k: result[k] for k in HOST_KEYS - {"summary"}} == {
        k: again[k] for k in HOST_KEYS - {"summary"}
    }  # the keys and values `poshbridge setup --dry-run --json` gives for the host


def test_a_failed_host_fails_the_task_with_the_message_and_fix_never_a_secret(
    tmp_path: Path, state_dir: Path
) -> None:
    def refuse(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
        assert password is not None and password.reveal() == PASSWORD
        raise RemoteConnectionError("auth", host.name, f"the host refused {password.reveal()}")

    for command in ("setup", "renew", "status"):
        result = run_task(
            command, "web01", host_vars(), params(command), base_dir=tmp_path, session_factory=refuse
        )
        assert result["failed"] is True and result["changed"] is False and result["ok"] is False, result
        assert "step connect: auth: the host refused " + MASK in result["msg"], result["msg"]
        # the message in an Ansible user's terms; the errors as poshbridge's --json gives them
        assert "fix: check ansible_user, the password secret and ansible_psrp_auth" in result["msg"]
        assert result["errors"][0]["kind"] == "auth" and "winrm" not in result["msg"]
        no_secret_in(result)
    lines = (state_dir / "history.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["command"] for line in lines] == ["setup", "renew", "status"]
    assert PASSWORD not in "".join(lines)


def test_history_false_writes_no_line(tmp_path: Path, state_dir: Path) -> None:
    def refuse(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
        raise RemoteConnectionError("unreachable", host.name, "no route")

    run_task("status", "web01", host_vars(), params("status", history=False), session_factory=refuse)
    assert not (state_dir / "history.jsonl").exists()


def test_renew_in_check_mode_sends_nothing_and_is_skipped(tmp_path: Path) -> None:
    fake = FakeHost()
    result = run_task(
        "renew", "web01", host_vars(), params("renew"), check_mode=True, base_dir=tmp_path,
        session_factory=factory(fake),
    )  # fmt: skip
    assert result["skipped"] is True and result["changed"] is False and "no dry run" in result["msg"]
    assert fake.sent == [] and fake.opened == 0


def test_bad_variables_fail_with_the_variable_named_never_its_value(tmp_path: Path) -> None:
    result = run_task(
        "setup",
        "web01",
        host_vars(poshbridge_domains=None, poshbridge_eab_hmac={"bad": HMAC}, ansible_port="x" + PASSWORD),
        params("setup"),
        base_dir=tmp_path,
        session_factory=factory(FakeHost()),
    )
    assert result["failed"] is True and result["changed"] is False
    assert "web01: poshbridge_domains" in result["msg"] and "web01: ansible_port" in result["msg"], result
    no_secret_in(result)


def test_an_insecure_setting_is_refused_unless_the_option_allows_it(tmp_path: Path) -> None:
    insecure_vars = host_vars(ansible_psrp_cert_validation="ignore")
    refused = run_task(
        "status", "web01", insecure_vars, params("status"), base_dir=tmp_path,
        session_factory=factory(FakeHost()),
    )  # fmt: skip
    assert refused["failed"] is True and "set the option insecure: true" in refused["msg"], refused
    assert "--insecure" not in refused["msg"]

    def unreachable(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
        raise RemoteConnectionError("unreachable", host.name, "no route")

    allowed = run_task(
        "status", "web01", insecure_vars, params("status", insecure=True), base_dir=tmp_path,
        session_factory=unreachable,
    )  # fmt: skip
    assert any("without certificate verification" in w for w in allowed["warnings"]), allowed
    assert all(w.endswith("(insecure: true)") for w in allowed["warnings"]), allowed
    assert allowed["errors"][0]["kind"] == "unreachable"  # it ran


def test_secret_options_replace_the_variables_and_are_masked(tmp_path: Path) -> None:
    seen: list[str] = []

    def record(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
        assert host.acme.eab_hmac is not None
        seen.append(password.reveal() if password else "")
        raise RemoteConnectionError("auth", host.name, f"rejected {password.reveal() if password else ''}")

    result = run_task(
        "setup",
        "web01",
        host_vars(),
        params("setup", winrm_password=OVERRIDE, eab_hmac=OVERRIDE),
        base_dir=tmp_path,
        session_factory=record,
    )
    assert seen == [OVERRIDE] and f"rejected {MASK}" in result["msg"]
    no_secret_in(result)


@pytest.mark.parametrize(
    ("fail_on", "fails"), [("WARN", True), ("UNKNOWN", True), ("CRIT", False), ("never", False)]
)
def test_audit_fails_from_the_fail_on_level(tmp_path: Path, fail_on: str, fails: bool) -> None:
    def unreachable(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
        raise RemoteConnectionError("unreachable", host.name, f"no route ({PASSWORD})")

    result = run_task(
        "audit", "web01", host_vars(), params("audit", fail_on=fail_on), base_dir=tmp_path,
        session_factory=unreachable,
    )  # fmt: skip
    # nothing can be read and nothing is served on port 443 of 127.0.0.1 here: UNKNOWN or CRIT
    assert result["verdict"] in ("UNKNOWN", "CRIT") and result["changed"] is False
    level_fails = fail_on != "never" and LEVELS.index(result["verdict"]) >= LEVELS.index(fail_on)
    assert result["failed"] is level_fails
    if result["verdict"] == "UNKNOWN":
        assert result["failed"] is fails
    assert {"host", "verdict", "reasons", "thumbprints", "runs"} <= set(result)
    assert result["msg"].startswith(result["verdict"] + ": ")
    no_secret_in(result)


def test_only_the_connection_and_poshbridge_variables_are_read() -> None:
    assert wanted_var("ansible_host") and wanted_var("ansible_psrp_auth") and wanted_var("poshbridge_site")
    assert wanted_var("ansible_winrm_password")
    assert not wanted_var("ansible_facts") and not wanted_var("hostvars") and not wanted_var("groups")


_AFTER_PRELOAD = """
import sys
from poshbridge import ansible_task
ansible_task.preload()
loaded = set(sys.modules)
from fakesession import factory
from test_ansible_task import host_vars, params, the_host, unreachable_factory
from test_runner_loop import windows
ansible_task.run_task("setup", "web01", host_vars(), params("setup"), check_mode=True,
                      session_factory=factory(windows(the_host())))
for command in ("status", "renew", "audit"):
    ansible_task.run_task(command, "web01", host_vars(), params(command, history=False),
                          session_factory=unreachable_factory)
print("\\n".join(sorted(m for m in set(sys.modules) - loaded if m.startswith("poshbridge"))))
"""


def unreachable_factory(host: HostConfig, ctx: Any, password: Secret | None) -> Any:
    raise RemoteConnectionError("unreachable", host.name, "no route")


def test_preload_imports_what_a_task_needs_before_ansible_forks(tmp_path: Path) -> None:
    """Ansible forks one worker per host and task from the process that loaded the action plugin, which
    calls preload(): a task then imports no poshbridge module of its own."""
    tests = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_PRELOAD],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(tests), str(tests / "unit"), str(tests.parent)]),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []  # nothing poshbridge left to import in the fork
    assert {"pypsrp.client", "poshbridge.audit.collect", "poshbridge.remote.tls"} <= set(RUN_MODULES)


def test_an_unexpected_error_is_the_tasks_failure_without_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"boom near {PASSWORD} and {HMAC}")

    monkeypatch.setattr(api, "status", broken)
    result = run_task("status", "web01", host_vars(), params("status"), base_dir=tmp_path)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == f"poshbridge internal error: RuntimeError: boom near {MASK} and {MASK}"
    no_secret_in(result)


def test_a_secret_file_readable_by_others_is_a_warning_of_the_task(tmp_path: Path) -> None:
    secret = tmp_path / "eab-hmac"
    secret.write_text(HMAC + "\n", encoding="utf-8")
    secret.chmod(0o644)
    result = run_task(
        "setup", "web01", host_vars(poshbridge_eab_hmac={"file": "eab-hmac"}), params("setup"),
        check_mode=True, base_dir=tmp_path, session_factory=factory(windows(the_host())),
    )  # fmt: skip
    assert any("accessible by group or others" in w for w in result["warnings"])
    no_secret_in(result)
