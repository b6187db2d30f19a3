"""setup / renew / status / revoke against the lab: failed checks and errors the host reports.

Given a twin set up by ``poshbridge setup``, when the host reports an error in a read, the site serves
another certificate than Posh-ACME's, or Posh-ACME skips the renewal, then the command fails (exit 1)
and says why; and every command uses exactly one session (one Create, one Delete) per host.
"""

from __future__ import annotations

import json
from pathlib import Path

from labkit import LabHandle, bind_certificate, pfx_bytes, self_signed
from test_ops_lab import cli

HOME = "C:\\ProgramData\\poshbridge\\Posh-ACME"


def _edit_json(files: list[Path], **changes: object) -> None:
    assert files, "no Posh-ACME state file found"
    for path in files:
        data = json.loads(path.read_text("utf-8-sig"))
        data.update(changes)
        path.write_text(json.dumps(data, indent=2), "utf-8")


def test_one_session_per_host_per_command(lab: LabHandle, lab_host: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    commands = [("setup",), ("status",), ("renew",), ("renew", "--force"), ("revoke", "--yes")]
    for args in commands:
        lab.reset_counters(lab_host)
        done = cli(lab.inventory, state, args[0], lab_host, *args[1:], "--json")
        assert done.code == 0, done
        actions = lab.counters(lab_host)["by_action"]
        assert (actions.get("Create"), actions.get("Delete")) == (1, 1), (args, actions)


def test_status_fails_when_the_site_serves_another_certificate(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    assert cli(lab.inventory, state, "setup", lab_host, "--json").code == 0
    same = cli(lab.inventory, state, "status", lab_host, "--json")
    assert same.code == 0 and same.host(lab_host)["objects"]["status"]["served_matches"] is True, same
    twin = lab.twin(lab_host)
    cert, key = self_signed(twin.domains[0], list(twin.domains))
    other = bind_certificate(twin, pfx_bytes(cert, key))
    different = cli(lab.inventory, state, "status", lab_host, "--json")
    assert different.code == 1, different
    # the health model's finding, with its fix (the self-signed certificate's revocation cannot be
    # checked either: its issuer is not in Posh-ACME's chain)
    errors = different.host(lab_host)["errors"]
    drift = [e for e in errors if e["kind"] == "served-drift"]
    assert drift and other in drift[0]["message"] and "poshbridge setup" in drift[0]["hint"], errors
    assert different.host(lab_host)["objects"]["status"]["health"] != "OK", different
    text = cli(lab.inventory, state, "status", lab_host)
    assert text.code == 1 and "DIFFERENT: " in text.stdout and f"ERROR {lab_host}" in text.stdout, text


def test_every_statement_error_fails_the_host_except_the_expected_read_errors() -> None:
    """The lab's reads are all silenced or expected; the recording of what a host reports is pure."""
    from poshbridge.remote.session import RemoteError, StatementResult
    from poshbridge.runner.batches import record_statement_errors
    from poshbridge.runner.results import HostRun

    fresh = RemoteError("No ACME server configured. Run Set-PAServer first.", command="Get-PAAccount")
    env = RemoteError("Cannot set the environment variable", command="Set-Item")
    reads = [
        StatementResult("env:POSHACME_HOME", errors=[env], ran=True),
        StatementResult("read:accounts", errors=[fresh], ran=True),
    ]
    run = HostRun("host01", "status")
    record_statement_errors(run, "read", reads)
    record_statement_errors(run, "read", reads)  # the same error is recorded once
    assert [(e.step, e.kind, e.message) for e in run.errors] == [
        ("read", "powershell", "env:POSHACME_HOME: Set-Item: Cannot set the environment variable")
    ]
    assert not run.ok


def test_the_poshacme_home_statement_stops_on_error() -> None:
    from poshbridge.poshacme import calls

    assert calls.set_poshacme_home("C:\\x").param("ErrorAction") == "Stop"


def test_renew_skipped_by_posh_acme_is_a_failure(lab: LabHandle, lab_host: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    assert cli(lab.inventory, state, "setup", lab_host, "--json").code == 0
    home = lab.twin(lab_host).real_path(HOME)
    _edit_json(list(home.rglob("order.json")), Plugin=["Manual"])
    done = cli(lab.inventory, state, "renew", lab_host, "--force", "--json")
    assert done.code == 1, done
    assert done.host(lab_host)["objects"]["renewal"]["outcome"] == "skipped"
    assert done.steps(lab_host)["renew"] == "failed"
    (error,) = done.host(lab_host)["errors"]
    assert "skipped" in error["message"] and "plugin" in error["message"], error


def test_unresolvable_secrets_are_config_errors_that_say_why(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    from test_ops_lab import derived_inventory

    unset = "POSHBRIDGE_TEST_SURELY_UNSET_SECRET"
    no_password = derived_inventory(lab, tmp_path / "pw", {lab_host: {"winrm": {"password": {"env": unset}}}})
    done = cli(no_password, tmp_path / "state", "status", lab_host, "--json")
    assert done.code == 1, done
    error, *others = done.host(lab_host)["errors"]
    assert error["kind"] == "config" and unset in error["message"], error
    assert all(e["step"] == "health" for e in others), others  # what the site serves, judged from here
    no_eab = derived_inventory(lab, tmp_path / "eab", {lab_host: {"acme": {"eab_hmac": {"env": unset}}}})
    setup = cli(no_eab, tmp_path / "state", "setup", lab_host, "--json")
    assert setup.code == 1, setup
    messages = [e["message"] for e in setup.host(lab_host)["errors"] if e["step"] == "acme-account"]
    assert messages and all("EAB credentials not available" in m and unset in m for m in messages), setup
