"""The hardened renewal script as the registered task runs it on a twin (real Pebble), issue 8 items 2, 4, 9.

Given a twin prepared by ``poshbridge setup``, when the renewal task runs:
- an ACME error (Posh-ACME's AcmeException, whose Data is a PSCustomObject) is recorded with its type,
  status and detail, and the script's catch block does not throw (item 2); a catch that calls
  ``.Contains`` on that Data fails as PowerShell fails;
- a run that renewed but could not bind is followed by a run that binds Posh-ACME's certificate again:
  outcome ``rebound``, which the audit recognises (item 4);
- two orders sharing the main domain do not stop it: the script selects its order by name (item 9).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from labkit import LabHandle

from poshbridge.cli.main import main
from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig
from poshbridge.poshacme import calls
from poshbridge.powershell.command import Batch, Cmd
from poshbridge.remote import tls
from poshbridge.remote.session import BatchResult, HostSession

TASK_RUNNING = 0x41301
TASK_NEVER_RAN = 0x41303
ACME_ERROR = {
    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
    "detail": "The server will not issue certificates for the identifier",
    "status": 400,
}
# The catch block of the hardened script before issue 8: `.Contains` on AcmeException.Data.
OLD_CATCH = """catch {
    $result.outcome = 'failed'
    $exception = $_.Exception
    $problem = [ordered]@{ message = $exception.Message; type = $null; status = $null; detail = $null }
    $data = $exception.Data
    if ($null -ne $data) {
        if ($data.Contains('type')) { $problem.type = [string]$data['type'] }
        if ($data.Contains('status')) { $problem.status = $data['status'] }
        if ($data.Contains('detail')) { $problem.detail = [string]$data['detail'] }
        elseif ($null -ne $problem.type) { $problem.detail = $exception.Message }
    }
    $result.error = $problem
    Write-Output ('poshbridge: renewal failed: ' + $exception.Message)
    $exitCode = 1
}
"""


def cli(lab: LabHandle, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["-i", str(lab.inventory), *args])
    return code, out.getvalue()


def host_config(lab: LabHandle, name: str) -> HostConfig:
    return load_inventory(lab.inventory).hosts[name]


def run_remote(lab: LabHandle, name: str, batch: Batch) -> BatchResult:
    with HostSession(host_config(lab, name), base_dir=lab.inventory.parent) as session:
        return session.run(batch)


def run_task(lab: LabHandle, name: str, timeout: float = 120) -> int:
    task = host_config(lab, name).renewal
    ident = {"TaskName": task.task_name, "TaskPath": task.task_path}
    started = run_remote(lab, name, Batch().add(Cmd.of("Start-ScheduledTask", ident)))
    assert not started.errors, started.errors
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = run_remote(lab, name, Batch().add(Cmd.of("Get-ScheduledTaskInfo", ident)))
        info = answer.statements[0].output[0]
        if info["LastTaskResult"] not in (TASK_RUNNING, TASK_NEVER_RAN):
            return int(info["LastTaskResult"])
        time.sleep(0.5)
    raise AssertionError(f"{name}: the renewal task did not finish within {timeout} s")


def last_run(lab: LabHandle, name: str) -> tuple[dict[str, Any], str]:
    """(result file, transcript text) of the newest run."""
    logs = lab.twin(name).real_path(host_config(lab, name).renewal.log_dir)
    newest = sorted(logs.glob("renew-*.json"))[-1]
    result = json.loads(newest.read_text("utf-8-sig"))
    transcript = (logs / result["transcript"]).read_text("utf-8-sig")
    return result, transcript


def make_due(lab: LabHandle, name: str) -> None:
    host = host_config(lab, name)
    (path,) = lab.twin(name).real_path(host.acme.poshacme_home).glob(f"*/*/{host.order_name}/order.json")
    order = json.loads(path.read_text("utf-8-sig"))
    order["RenewAfter"] = (datetime.now(timezone.utc) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(order), "utf-8")


def served(lab: LabHandle, name: str) -> str | None:
    h = lab.host(name)
    return tls.fetch_served("127.0.0.1", int(h["site_https_port"]), h["domains"][0]).thumbprint


def posh_acme_thumbprint(lab: LabHandle, name: str) -> str:
    host = host_config(lab, name)
    batch = Batch().add(calls.set_poshacme_home(host.acme.poshacme_home))
    batch.add(calls.get_pa_certificate(host.order_name), label="cert")
    (cert,) = run_remote(lab, name, batch).output("cert")
    return str(cert["Thumbprint"])


@pytest.fixture
def set_up(lab: LabHandle, request: pytest.FixtureRequest) -> Iterator[str]:
    name = lab.claim(request.node.nodeid)
    try:
        code, out = cli(lab, "setup", name, "--json")
        assert code == 0, out
        yield name
    finally:
        lab.release(name)


def test_an_acme_error_is_recorded_and_the_catch_block_does_not_throw(lab: LabHandle, set_up: str) -> None:
    name = set_up
    make_due(lab, name)
    lab.faults(name, acme_error_next_order=ACME_ERROR)
    assert run_task(lab, name) == 1
    result, transcript = last_run(lab, name)
    assert result["outcome"] == "failed"
    assert result["error"] == {
        "message": ACME_ERROR["detail"],
        "type": ACME_ERROR["type"],
        "status": 400,
        "detail": ACME_ERROR["detail"],
    }
    assert f"poshbridge: renewal failed: {ACME_ERROR['detail']}" in transcript
    assert "Method invocation failed" not in transcript

    # The lab fails like PowerShell on the old catch block: .Contains on a PSCustomObject throws inside
    # the catch, so no error is recorded and no "renewal failed" line is written; finally still runs.
    script = host_config(lab, name).renewal.script_path
    path = lab.twin(name).real_path(script)
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    start = text.index("catch {\n    # Nothing in this block may throw")
    end = text.index("\nfinally {")
    old = text[:start] + OLD_CATCH + text[end + 1 :]
    path.write_bytes(b"\xef\xbb\xbf" + old.replace("\n", "\r\n").encode("utf-8"))
    make_due(lab, name)
    lab.faults(name, acme_error_next_order=ACME_ERROR)
    assert run_task(lab, name) == 1
    result, transcript = last_run(lab, name)
    assert result["outcome"] == "failed" and result["error"] is None
    assert (
        "Method invocation failed because [System.Management.Automation.PSCustomObject] does not contain a "
        "method named 'Contains'." in transcript
    )
    assert "poshbridge: renewal failed" not in transcript
    assert "poshbridge: outcome failed" in transcript


def test_a_failed_bind_is_repaired_by_the_next_run(lab: LabHandle, set_up: str) -> None:
    name = set_up
    old_thumbprint = posh_acme_thumbprint(lab, name)
    assert served(lab, name) == old_thumbprint
    twin = lab.twin(name)
    site = host_config(lab, name).iis.site
    iis = twin.iis()

    # The renewing run cannot bind: the site is missing while it runs (Set-IISCertificate: not found).
    state = iis.load()
    state["sites"]["renamed-for-the-test"] = state["sites"].pop(site)
    iis.save(state)
    make_due(lab, name)
    try:
        assert run_task(lab, name) == 1
    finally:
        state = iis.load()
        state["sites"][site] = state["sites"].pop("renamed-for-the-test")
        iis.save(state)
    result, _transcript = last_run(lab, name)
    assert result["outcome"] == "failed"
    new_thumbprint = posh_acme_thumbprint(lab, name)
    assert new_thumbprint != old_thumbprint
    assert served(lab, name) == old_thumbprint  # IIS still serves the old certificate

    # The next run is not due; it finds the binding on another certificate and binds Posh-ACME's.
    assert run_task(lab, name) == 0
    result, transcript = last_run(lab, name)
    assert result["outcome"] == "rebound", transcript
    assert result["thumbprint"] == new_thumbprint
    assert "poshbridge: outcome rebound" in transcript
    assert served(lab, name) == new_thumbprint

    # The audit recognises the outcome.
    code, out = cli(lab, "audit", name, "--json")
    (doc,) = json.loads(out)["hosts"]
    assert doc["last_outcome"] == "rebound", doc
    assert doc["runs"][-1]["session"]["outcome"] == "rebound"
    assert (code, doc["verdict"]) == (0, "OK"), doc["reasons"]

    # And a run after that changes nothing.
    assert run_task(lab, name) == 0
    assert last_run(lab, name)[0]["outcome"] == "not-due"


def test_two_orders_with_the_same_main_domain_do_not_stop_the_renewal(lab: LabHandle, set_up: str) -> None:
    name = set_up
    host = host_config(lab, name)
    batch = Batch().add(calls.set_poshacme_home(host.acme.poshacme_home))
    batch.add(
        calls.new_pa_certificate(list(host.domains), webroot=host.webroot, order_name="second-order"),
        label="second",
    )
    batch.add(Cmd.of("Set-PAOrder", MainDomain=host.main_domain), label="by-domain")
    result = run_remote(lab, name, batch)
    second = result.by_label("second")
    assert second is not None and not second.errors, second
    by_domain = result.by_label("by-domain")
    assert by_domain is not None
    # Posh-ACME Set-PAOrder.ps1: -MainDomain alone with two matches is a (non-terminating) error
    assert [e.message for e in by_domain.errors] == [
        f"Multiple orders found for MainDomain '{host.main_domain}'. Please specify Name as well."
    ]
    assert run_task(lab, name) == 0
    result_file, transcript = last_run(lab, name)
    assert result_file["outcome"] == "not-due", transcript
    assert result_file["order"] == host.order_name
