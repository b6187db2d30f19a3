"""Task Scheduler emulation: XML validation in Windows' words, task info, and the renewal runner with
its 5.1-format transcript (in-process, no network: Posh-ACME state is laid out on disk by the test)."""

from __future__ import annotations

import datetime
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from test_engine_kit import MODULES, Result, Twin

from poshbridge.generate.renew_script import render_renew_script
from poshbridge.generate.task_xml import task_xml_for_register, task_xml_text
from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig
from poshbridge.lab.cmdlets.renewal_runner import wait_for_task
from poshbridge.lab.engine.values import ps_properties

HOME = "C:\\ProgramData\\poshbridge\\Posh-ACME"
STARS = "*" * 22


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


@pytest.fixture
def host_config(tmp_path: Path) -> HostConfig:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults:\n"
        "  winrm: {transport: https, port: 5986, username: certadmin, password: 'x', verify: false}\n"
        "  acme: "
        "{directory: 'https://127.0.0.1:14000/dir', eab_kid: 'k', eab_hmac: 'h', contacts: [a@b.test]}\n"
        "  renewal: "
        "{script_path: 'C:\\poshbridge\\renew.ps1', log_dir: 'C:\\poshbridge\\logs', start: '03:17',\n"
        "            start_date: '2024-01-01'}\n"
        "hosts:\n"
        "  host01: {address: 127.0.0.1, domains: [host01.poshbridge.test, www.host01.poshbridge.test],\n"
        "           webroot: 'C:\\inetpub\\wwwroot', iis: {site: host01.poshbridge.test, port: 8443}}\n",
        "utf-8",
    )
    inv = load_inventory(inventory)
    hosts = inv.hosts
    return next(h for h in (hosts.values() if isinstance(hosts, dict) else hosts) if h.name == "host01")


def _register(twin: Twin, xml: str, **extra: object) -> Result:
    return twin.run(
        ("Register-ScheduledTask", {"TaskName": "poshbridge renew", "TaskPath": "\\", "Xml": xml, **extra})
    )


# ----- XML validation ---------------------------------------------------------------------------
def test_a_utf8_declaration_is_refused_like_windows(twin: Twin, host_config: HostConfig) -> None:
    xml = task_xml_text(host_config, "hardened").replace('encoding="UTF-16"', 'encoding="UTF-8"')
    result = _register(twin, xml)
    assert result.errors[0].message == (
        "(1,39)::ERROR: switch from current encoding to specified encoding not supported"
    )
    assert result.errors[0].fully_qualified_error_id.endswith(",Register-ScheduledTask")
    assert (
        twin.run(
            ("Get-ScheduledTask", {"TaskName": "poshbridge renew", "ErrorAction": "SilentlyContinue"})
        ).output
        == []
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("<Interval>PT1H</Interval>", "<Interval>PT30S</Interval>"), ":Interval:PT30S"),
        (("<Duration>P1D</Duration>", "<Duration>1 day</Duration>"), ":Duration:1 day"),
        (("<RunLevel>HighestAvailable</RunLevel>", "<RunLevel>Highest</RunLevel>"), ":RunLevel:Highest"),
        (('<Actions Context="Author">', '<Actions Context="Nobody">'), ":Context:Nobody"),
        (("<Priority>7</Priority>", "<Priority>11</Priority>"), ":Priority:11"),
    ],
)
def test_out_of_range_values_carry_the_hresult_text_and_position(
    twin: Twin, host_config: HostConfig, change: tuple[str, str], expected: str
) -> None:
    xml = task_xml_for_register(host_config, "manual")
    assert change[0] in xml
    result = _register(twin, xml.replace(*change))
    record = result.errors[0]
    assert record.message.startswith(
        "The task XML contains a value which is incorrectly formatted or out of range.\r\n("
    )
    assert record.message.endswith(expected)
    assert record.fully_qualified_error_id == "HRESULT 0x80041318,Register-ScheduledTask"


def test_structure_errors(twin: Twin, host_config: HostConfig) -> None:
    xml = task_xml_for_register(host_config, "manual")
    wrong_ns = _register(twin, xml.replace("http://schemas.microsoft.com/windows/2004/02/mit/task", "urn:x"))
    assert wrong_ns.errors[0].message.startswith("The task XML contains an unexpected node.")
    no_actions = re.sub(r"<Actions.*</Actions>", "", xml, flags=re.S)
    assert (
        _register(twin, no_actions)
        .errors[0]
        .message.startswith("The task XML is missing a required element or attribute.")
    )
    no_command = re.sub(r"<Command>.*</Command>", "", xml)
    assert _register(twin, no_command).errors[0].fully_qualified_error_id.startswith("HRESULT 0x80041319")


def test_registration_info_and_export(twin: Twin, host_config: HostConfig) -> None:
    xml = task_xml_for_register(host_config, "hardened")
    created = _register(twin, xml)
    assert created.errors == [] and created.terminating is None
    task = created.output[0]
    assert task.PSObject.type_names[0] == (
        "Microsoft.Management.Infrastructure.CimInstance#Root/Microsoft/Windows/TaskScheduler/MSFT_ScheduledTask"
    )
    props = ps_properties(task)
    assert props["TaskName"] == "poshbridge renew" and props["TaskPath"] == "\\"
    assert str(props["State"]).endswith("Ready") or int(props["State"]) == 3
    again = _register(twin, xml)
    assert again.errors[0].message == "Cannot create a file when that file already exists."
    assert _register(twin, xml, Force=None).errors == []
    info = ps_properties(twin.run(("Get-ScheduledTaskInfo", {"TaskName": "poshbridge renew"})).output[0])
    assert info["LastTaskResult"] == 267011
    assert info["LastRunTime"].year == 1999
    assert info["NextRunTime"] is not None and info["NextRunTime"].minute == 17
    exported = twin.run(("Export-ScheduledTask", {"TaskName": "poshbridge renew"})).output[0]
    assert exported.startswith('<?xml version="1.0" encoding="UTF-16"?>')
    assert "<URI>\\poshbridge renew</URI>" in exported
    missing = twin.run(("Get-ScheduledTask", {"TaskName": "nope"}))
    assert missing.errors[0].message == (
        "No MSFT_ScheduledTask objects found with property 'TaskName' equal to 'nope'.  Verify the value "
        "of the "
        "property and retry."
    )
    assert (
        missing.errors[0].fully_qualified_error_id == "CmdletizationQuery_NotFound_TaskName,Get-ScheduledTask"
    )


def test_disable_enable_unregister(twin: Twin, host_config: HostConfig) -> None:
    _register(twin, task_xml_for_register(host_config, "hardened"))
    disabled = twin.run(("Disable-ScheduledTask", {"TaskName": "poshbridge renew"})).output[0]
    assert int(ps_properties(disabled)["State"]) == 1
    info = ps_properties(twin.run(("Get-ScheduledTaskInfo", {"TaskName": "poshbridge renew"})).output[0])
    assert info["NextRunTime"] is None
    twin.run(("Enable-ScheduledTask", {"TaskName": "poshbridge renew"}))
    prompt = twin.run(("Unregister-ScheduledTask", {"TaskName": "poshbridge renew"})).terminating
    assert prompt is not None and prompt.fully_qualified_error_id.startswith("HostFunctionNotImplemented")
    twin.run(("Unregister-ScheduledTask", {"TaskName": "poshbridge renew", "Confirm": False}))
    assert (
        twin.run(("Get-ScheduledTask", {"TaskName": "poshbridge renew", "ea": "SilentlyContinue"})).output
        == []
    )


# ----- the renewal runner -------------------------------------------------------------------------
def _start(twin: Twin) -> dict[str, Any]:
    twin.run(("Start-ScheduledTask", {"TaskName": "poshbridge renew"}))
    assert wait_for_task(twin.host, "\\", "poshbridge renew", 30)
    info = twin.run(("Get-ScheduledTaskInfo", {"TaskName": "poshbridge renew"})).output[0]
    return ps_properties(info)


def _install(twin: Twin, host_config: HostConfig, style: str) -> None:
    script = render_renew_script(host_config, style=style)
    twin.c("C:\\poshbridge").mkdir(parents=True, exist_ok=True)
    twin.c(host_config.renewal.script_path).write_bytes(script.replace("\n", "\r\n").encode("utf-8"))
    assert _register(twin, task_xml_for_register(host_config, style), Force=None).errors == []


def _posh_acme_state(twin: Twin, renew_after: datetime.datetime, *, install: bool = False) -> str:
    """A Posh-ACME config with one completed order (what setup leaves), laid out on disk; with
    ``install``, its certificate also in LocalMachine\\My."""
    root = twin.c(HOME)
    server = root / "127.0.0.1_14000"
    acct = server / "acct1"
    order = acct / "host01.poshbridge.test"
    order.mkdir(parents=True)
    (root / "current-server.txt").write_text("https://127.0.0.1:14000/dir\r\n")
    (server / "dir.json").write_text(json.dumps({"location": "https://127.0.0.1:14000/dir", "meta": {}}))
    (server / "current-account.txt").write_text("acct1\r\n")
    (acct / "acct.json").write_text(
        json.dumps(
            {
                "status": "valid",
                "contact": ["mailto:a@b.test"],
                "location": "https://127.0.0.1:14000/my-account/1",
                "key": {},
                "alg": "ES256",
                "KeyLength": "ec-256",
            }
        )
    )
    (acct / "current-order.txt").write_text("host01.poshbridge.test\r\n")
    (order / "order.json").write_text(
        json.dumps(
            {
                "status": "valid",
                "MainDomain": "host01.poshbridge.test",
                "SANs": ["www.host01.poshbridge.test"],
                "KeyLength": "2048",
                "Plugin": ["WebRoot"],
                "RenewAfter": renew_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "CertExpires": (renew_after + datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "PfxPassB64U": "cG9zaGFjbWU",
            }
        )
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "host01.poshbridge.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(12345)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("host01.poshbridge.test")]), False)
        .sign(key, hashes.SHA256())
    )
    (order / "cert.cer").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if install:
        pfx = pkcs12.serialize_key_and_certificates(None, key, cert, None, serialization.NoEncryption())
        twin.host.cert_store().import_pfx(pfx, None)
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


def _transcripts(twin: Twin, pattern: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(twin.c("C:\\poshbridge\\logs").glob(pattern))]


def test_hardened_not_due_run_writes_transcript_and_result(twin: Twin, host_config: HostConfig) -> None:
    thumbprint = _posh_acme_state(
        twin, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40)
    )
    # the site's https binding already holds Posh-ACME's certificate: nothing to rebind
    iis = twin.host.iis().load()
    https = iis["sites"]["host01.poshbridge.test"]["bindings"][1]
    https.update(certificate_hash=thumbprint, certificate_store="My")
    twin.host.iis().save(iis)
    _install(twin, host_config, "hardened")
    info = _start(twin)
    assert info["LastTaskResult"] == 0
    assert info["LastRunTime"].year > 2000
    [raw] = _transcripts(twin, "renew-*.txt")
    assert raw.startswith(b"\xef\xbb\xbf" + STARS.encode() + b"\r\n")
    text = raw[3:].decode("utf-8")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[1] == "Windows PowerShell transcript start"
    assert re.fullmatch(r"Start time: \d{14}", lines[2])
    assert lines[3] == "Username: WORKGROUP\\SYSTEM" and lines[4] == "RunAs User: WORKGROUP\\SYSTEM"
    assert lines[6] == "Machine: HOST01 (Microsoft Windows NT 10.0.17763.0)"
    assert lines[7] == (
        "Host Application: C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe "
        "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File C:\\poshbridge\\renew.ps1"
    )
    assert "PSEdition: Desktop" in lines
    assert (
        "WARNING: Order 'host01.poshbridge.test' is not recommended for renewal yet. Use -Force to override."
        in lines
    )
    assert lines[-5:] == [STARS, "Windows PowerShell transcript end", lines[-3], STARS, ""]
    assert "Transcript started, output file is" not in text  # | Out-Null in the hardened script
    [result_raw] = _transcripts(twin, "renew-*.json")
    assert result_raw.startswith(b"\xef\xbb\xbf")
    result = json.loads(result_raw[3:])
    assert result["schema"] == "poshbridge.renewal-result/1"
    assert result["outcome"] == "not-due" and result["error"] is None
    assert result["thumbprint"] == thumbprint
    assert (
        result["transcript"] == f"renew-{result['started'][:10].replace('-', '')}-"
        f"{result['started'][11:19].replace(':', '')}.txt"
    )


def test_hardened_run_without_poshacme_home_fails_cleanly(twin: Twin, host_config: HostConfig) -> None:
    _install(twin, host_config, "hardened")
    assert _start(twin)["LastTaskResult"] == 1
    result = json.loads(_transcripts(twin, "renew-*.json")[0][3:])
    assert result["outcome"] == "failed"
    assert result["error"]["message"].startswith(f"POSHACME_HOME folder '{HOME}' does not exist")
    text = _transcripts(twin, "renew-*.txt")[0].decode("utf-8-sig")
    assert "poshbridge: outcome failed" in text and "Windows PowerShell transcript end" in text


def test_manual_style_as_system_reproduces_the_manuals_pitfall(twin: Twin, host_config: HostConfig) -> None:
    # setup stored Posh-ACME state under POSHACME_HOME, but the manual's script never sets it: SYSTEM
    # looks in its own profile and finds no server.
    _posh_acme_state(twin, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40))
    _install(twin, host_config, "manual")
    assert _start(twin)["LastTaskResult"] == 1
    text = twin.c("C:\\poshbridge\\logs\\acme_log.txt").read_bytes().decode("utf-8-sig")
    lines = text.split("\r\n")
    assert "Transcript started, output file is C:\\poshbridge\\logs\\acme_log.txt" in lines
    assert 'PS>TerminatingError(Set-PAOrder): "No ACME server configured. Run Set-PAServer first."' in lines
    # ThrowTerminatingError sets the function's InvocationInfo: FQID "<id>,<function>" (Posh-ACME#322)
    fqid = "No ACME server configured. Run Set-PAServer first.,Set-PAOrder"
    assert f"    + FullyQualifiedErrorId : {fqid}" in lines
    assert "Windows PowerShell transcript end" not in text  # the script stopped before Stop-Transcript
    assert twin.c("C:\\Windows\\system32\\config\\systemprofile\\AppData\\Local\\Posh-ACME").is_dir()


def test_manual_style_not_due_has_footer(twin: Twin, host_config: HostConfig) -> None:
    _posh_acme_state(twin, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40))
    twin.host.set_machine_env("POSHACME_HOME", HOME)  # a machine-wide POSHACME_HOME fixes the pitfall
    _install(twin, host_config, "manual")
    assert _start(twin)["LastTaskResult"] == 0
    text = twin.c("C:\\poshbridge\\logs\\acme_log.txt").read_bytes().decode("utf-8-sig")
    assert (
        "WARNING: Order 'host01.poshbridge.test' is not recommended for renewal yet. Use -Force to override."
        in text
    )
    assert text.endswith(STARS + "\r\n") and "Windows PowerShell transcript end" in text


def _old_certificate(twin: Twin, shared: bool) -> str:
    """An older certificate in LocalMachine\\My, held by the site's https binding and (``shared``) by
    another site's binding too."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.poshbridge.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=80))
        .not_valid_after(now + datetime.timedelta(days=10))
        .sign(key, hashes.SHA256())
    )
    pfx = pkcs12.serialize_key_and_certificates(None, key, cert, None, serialization.NoEncryption())
    old = twin.host.cert_store().import_pfx(pfx, None)
    iis = twin.host.iis().load()
    iis["sites"]["host01.poshbridge.test"]["bindings"][1].update(certificate_hash=old, certificate_store="My")
    if shared:
        iis["sites"]["other.poshbridge.test"] = {
            "id": 2,
            "physical_path": "C:\\inetpub\\other",
            "state": "Started",
            "bindings": [{"protocol": "https", "binding_information": "*:9443:other.poshbridge.test",
                          "certificate_hash": old, "certificate_store": "My", "ssl_flags": 1}],
        }  # fmt: skip
    twin.host.iis().save(iis)
    return old


@pytest.mark.parametrize("shared", [True, False])
def test_task_rebind_removes_the_old_certificate_only_when_no_other_binding_uses_it(
    twin: Twin, host_config: HostConfig, shared: bool
) -> None:
    """Issue 8 item 8: Set-IISCertificate -RemoveOldCert deletes the replaced certificate whatever else
    uses it (Posh-ACME.Deploy Private/Remove-OldCert.ps1). The hardened script passes it only when no
    other binding of any site (Get-IISSite | Get-IISSiteBinding) holds that certificate."""
    new = _posh_acme_state(
        twin, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40), install=True
    )
    old = _old_certificate(twin, shared)
    host = replace(host_config, iis=replace(host_config.iis, remove_old_cert=True))
    _install(twin, host, "hardened")
    assert _start(twin)["LastTaskResult"] == 0
    result = json.loads(_transcripts(twin, "renew-*.json")[0][3:])
    assert result["outcome"] == "rebound" and result["thumbprint"] == new
    iis = twin.host.iis().load()
    assert iis["sites"]["host01.poshbridge.test"]["bindings"][1]["certificate_hash"] == new
    store = twin.host.cert_store()
    text = _transcripts(twin, "renew-*.txt")[0].decode("utf-8-sig")
    if shared:
        assert store.path(old) is not None  # still in LocalMachine\\My for the other site
        assert iis["sites"]["other.poshbridge.test"]["bindings"][0]["certificate_hash"] == old
        assert f"poshbridge: keeping {old} in LocalMachine\\My: another binding uses it" in text
    else:
        assert store.path(old) is None  # nobody else used it: -RemoveOldCert was passed
        assert "poshbridge: keeping" not in text
    assert store.path(new) is not None


def test_tasks_that_are_not_poshbridge_scripts(twin: Twin, host_config: HostConfig) -> None:
    xml = task_xml_for_register(host_config, "hardened")
    other = xml.replace("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", "C:\\tools\\x.exe")
    _register(twin, other, Force=None)
    assert _start(twin)["LastTaskResult"] == 2147942402
    twin.c("C:\\poshbridge").mkdir(parents=True, exist_ok=True)
    twin.c(host_config.renewal.script_path).write_text("Write-Host 'something else'\r\n")
    _register(twin, xml, Force=None)
    assert _start(twin)["LastTaskResult"] == 1


def test_missing_module_fails_the_hardened_run(twin: Twin, host_config: HostConfig) -> None:
    _posh_acme_state(twin, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40))
    shutil.rmtree(twin.host.drive / MODULES / "Posh-ACME")
    _install(twin, host_config, "hardened")
    assert _start(twin)["LastTaskResult"] == 1
    text = _transcripts(twin, "renew-*.txt")[0].decode("utf-8-sig")
    assert "PS>TerminatingError(Import-Module)" in text


# ----- Windows re-serializes a registered task (issue 8 item 10) -------------------------------------
SCHEMA_ORDER_TASK = """<?xml version="1.0"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <Triggers><CalendarTrigger><StartBoundary>2024-01-01T03:17:00</StartBoundary>
    <Repetition><StopAtDurationEnd>0</StopAtDurationEnd><Interval>PT1H</Interval></Repetition>
    <ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay></CalendarTrigger></Triggers>
  <Actions Context="Author"><Exec><Arguments>-File "C:\\r.ps1"</Arguments>
    <Command>powershell.exe</Command></Exec></Actions>
  <Principals><Principal id="Author"><RunLevel>HighestAvailable</RunLevel>
    <UserId>S-1-5-18</UserId></Principal></Principals>
  <Settings><StartWhenAvailable>1</StartWhenAvailable></Settings>
</Task>
"""


def test_export_is_windows_own_serialization_not_the_registered_text(twin: Twin) -> None:
    assert _register(twin, SCHEMA_ORDER_TASK).errors == []
    exported = twin.run(("Export-ScheduledTask", {"TaskName": "poshbridge renew"})).output[0]
    assert exported != SCHEMA_ORDER_TASK
    assert exported.startswith('<?xml version="1.0" encoding="UTF-16"?>\r\n<Task version="1.2" ')
    assert "\n" not in exported.replace("\r\n", "")  # CRLF only
    # RegistrationInfo: Date set at registration (MS-TSCH 2.5.1), URI = the task path
    assert re.search(r"<Date>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}</Date>", exported)
    assert "<URI>\\poshbridge renew</URI>" in exported
    # export order (task-scheduler.md §2), canonical booleans, trigger Enabled filled in
    tags = re.findall(r"<(\w+)[ >]", exported)
    trigger = tags[tags.index("CalendarTrigger") + 1 : tags.index("Principals")]
    assert trigger == ["Repetition", "Interval", "StopAtDurationEnd", "StartBoundary", "Enabled",
                       "ScheduleByDay", "DaysInterval"]  # fmt: skip
    assert tags.index("Principals") < tags.index("Settings") < tags.index("Actions")
    assert tags[tags.index("Exec") + 1 : tags.index("Exec") + 3] == ["Command", "Arguments"]
    assert "<StopAtDurationEnd>false</StopAtDurationEnd>" in exported
    assert "<StartWhenAvailable>true</StartWhenAvailable>" in exported
    # the v1.2 settings Windows fills with their defaults
    for element in ("<MultipleInstancesPolicy>IgnoreNew<", "<ExecutionTimeLimit>PT72H<", "<Priority>7<",
                    "<StopOnIdleEnd>true<", "<AllowStartOnDemand>true<"):  # fmt: skip
        assert element in exported
    # registering the export again changes nothing (idempotent, like Windows)
    assert _register(twin, exported, Force=None).errors == []
    again = twin.run(("Export-ScheduledTask", {"TaskName": "poshbridge renew"})).output[0]
    assert again == exported


def test_setup_compares_the_values_it_sets_against_the_reserialized_export(
    twin: Twin, host_config: HostConfig
) -> None:
    from poshbridge.plan.setup import task_documents_equal

    wanted = task_xml_for_register(host_config, "hardened")
    assert _register(twin, wanted).errors == []
    exported = twin.run(("Export-ScheduledTask", {"TaskName": "poshbridge renew"})).output[0]
    assert exported.replace("\r\n", "\n") != wanted  # a text comparison would re-register every run
    assert task_documents_equal(wanted, exported)
    assert not task_documents_equal(task_xml_for_register(host_config, "manual"), exported)


def test_the_task_reads_a_script_without_bom_in_the_ansi_code_page(
    twin: Twin, host_config: HostConfig
) -> None:
    """Issue 8 item 11: powershell.exe 5.1 reads a BOM-less script as ANSI (cp1252 on an en-US server),
    so a UTF-8 script written by a PowerShell 7 endpoint names other folders; with a BOM it is right."""
    from dataclasses import replace

    host = replace(host_config, renewal=replace(host_config.renewal, log_dir="C:\\poshbridge\\ログ"))
    script = render_renew_script(host, style="hardened").replace("\n", "\r\n").encode("utf-8")
    twin.c("C:\\poshbridge").mkdir(parents=True, exist_ok=True)
    assert _register(twin, task_xml_for_register(host, "hardened"), Force=None).errors == []
    twin.c(host.renewal.script_path).write_bytes(script)  # what Set-Content -Encoding UTF8 writes on PS 7
    _start(twin)
    mojibake = "ログ".encode().decode("cp1252", errors="replace")
    assert not twin.c("C:\\poshbridge\\ログ").exists()
    assert any(p.name == mojibake for p in twin.c("C:\\poshbridge").iterdir())
    twin.c(host.renewal.script_path).write_bytes(b"\xef\xbb\xbf" + script)  # what setup uploads
    _start(twin)
    assert list(twin.c("C:\\poshbridge\\ログ").glob("renew-*.txt"))
