"""poshbridge.api and ``-v/--log-file`` against the lab: the library runs a real setup and status over
pypsrp, prints nothing and returns what ``--json`` prints; the log shows each cmdlet sent with its
secrets masked, and each WSMan request's time, and never a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labkit import LabHandle
from test_ops_lab import cli

from poshbridge import api


def test_api_setup_then_status_on_one_twin(
    lab: LabHandle,
    lab_host: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSHBRIDGE_STATE_DIR", str(tmp_path / "state"))
    inventory = api.load_inventory(lab.inventory)
    hosts = api.select_hosts(inventory, [lab_host])
    seen: list[tuple[str, str]] = []
    done = api.setup(hosts, options=api.run_options(inventory), progress=lambda h, t: seen.append((h, t)))
    (run,) = done.hosts
    assert done.ok and run.ok and run.outcome == "ok", run.to_json()
    steps = {s.name: s.status for s in run.steps}
    assert steps["certificate"] == "changed" and steps["tls-verify"] == "changed", steps
    assert (lab_host, "reading facts") in seen and seen[-1][1].startswith("done: ")
    doc = done.to_json()
    assert doc["command"] == "setup" and doc["hosts"][0]["host"] == lab_host
    json.dumps(doc)  # a JSON document as it is

    status = api.status(hosts, options=api.run_options(inventory))
    (checked,) = status.hosts
    assert checked.objects["status"]["thumbprint"] == run.objects["certificate"]["thumbprint"]
    assert checked.objects["status"]["served_matches"] is True, checked.to_json()
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err == ""  # a library never prints
    history = (tmp_path / "state" / "history.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["command"] for line in history] == ["setup", "status"]


def test_verbose_logs_each_cmdlet_masked_and_the_wsman_timings_never_a_secret(
    lab: LabHandle, lab_host: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    setup = cli(lab.inventory, state, "-v", "setup", lab_host)
    assert setup.code == 0, setup
    sent = [line for line in setup.stderr.splitlines() if " send [" in line]
    account = [line for line in sent if "New-PAAccount" in line]
    # the EAB HMAC key is a Secret parameter: logged as the mask, never as the value
    assert account and "'********'" in account[0], sent
    assert any("WSMan Command" in line for line in setup.stderr.splitlines())
    assert any("WSMan Receive" in line for line in setup.stderr.splitlines())
    log_file = tmp_path / "status.log"
    status = cli(lab.inventory, state, "status", lab_host, "--log-file", str(log_file))
    logged = log_file.read_text("utf-8")
    assert " send [" in logged and "Get-PACertificate" in logged and "WSMan Receive" in logged
    assert " send [" not in status.stderr  # the file, not stderr
    quiet = cli(lab.inventory, state, "status", lab_host)
    assert " send [" not in quiet.stderr and "WSMan" not in quiet.stderr  # no -v: no log
    for secret in (lab.secret("winrm-password"), lab.secret("eab-hmac")):
        assert secret not in setup.stderr and secret not in logged and secret not in setup.stdout
