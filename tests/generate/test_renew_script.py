"""The renewal scripts: golden files, the renewal script contract, and hostile inventory values."""

from __future__ import annotations

import copy
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poshbridge.generate import read_resource
from poshbridge.generate.renew_script import (
    SETTINGS,
    read_settings,
    render_renew_script,
    renew_script_file_bytes,
    script_style,
)
from poshbridge.generate.task_xml import task_arguments, task_uri, task_xml_for_register
from poshbridge.inventory.load import inventory_from_text, load_inventory
from poshbridge.inventory.model import HostConfig, IISConfig, RenewalConfig
from poshbridge.powershell.quoting import SINGLE_QUOTE_CHARS, ps_single_unquote

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("POSHBRIDGE_UPDATE_GOLDEN") == "1"
NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


def example_host(name: str = "host01") -> HostConfig:
    return load_inventory(REPO / "examples" / "inventory.yaml").hosts[name]


def scan_literal(text: str, start: int) -> tuple[str, int]:
    """Read a single-quoted literal at ``text[start]`` the way PowerShell's tokenizer does.

    Inside the string any quote character followed by another quote character stands for the second
    one; a lone quote character ends the string. Returns (value, index after the closing quote).
    """
    assert text[start] in SINGLE_QUOTE_CHARS, text[start:]
    out: list[str] = []
    i = start + 1
    while True:
        if i >= len(text):
            raise AssertionError("unterminated literal")
        ch = text[i]
        if ch in SINGLE_QUOTE_CHARS:
            if i + 1 < len(text) and text[i + 1] in SINGLE_QUOTE_CHARS:
                out.append(text[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1


def literal_after(script: str, prefix: str, suffix: str) -> str:
    """The literal on the one line that starts with ``prefix`` and (after the literal) is ``suffix``."""
    lines = [line for line in script.split("\n") if line.startswith(prefix)]
    assert len(lines) == 1, (prefix, lines)
    value, end = scan_literal(lines[0], len(prefix))
    assert lines[0][end:] == suffix, lines[0]
    return value


# ----- golden files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["hardened", "manual"])
def test_golden_script(style: str) -> None:
    text = render_renew_script(example_host(), style)
    golden = GOLDEN / f"host01-{style}.ps1"
    if UPDATE:
        golden.write_text(text, encoding="utf-8", newline="\n")
        pytest.skip(f"golden file rewritten: {golden}")
    assert text == golden.read_text(encoding="utf-8"), (
        f"regenerate with POSHBRIDGE_UPDATE_GOLDEN=1 ({golden})"
    )


def test_manual_script_is_the_manuals_4_3_script() -> None:
    text = render_renew_script(example_host(), "manual")
    code = [line for line in text.split("\n") if line.strip() and not line.startswith("#")]
    assert code == [
        "Start-Transcript -Path 'C:\\poshbridge\\logs\\acme_log.txt'",
        "Set-PAOrder -MainDomain 'example.jp' -Verbose",
        "if ($cert = Submit-Renewal) {",
        "    Start-Sleep -Seconds 600",
        "    $cert | Set-IISCertificate -SiteName 'example.jp' -Port 443 -Verbose",
        "}",
        "Stop-Transcript",
    ]
    assert text.startswith("# poshbridge-renewal-script style=manual version=1\n")
    assert script_style(text) == "manual"


def test_hardened_settings_block_follows_the_contract() -> None:
    text = render_renew_script(example_host())
    lines = text.split("\n")
    assert lines[0] == "# poshbridge-renewal-script style=hardened version=1"
    assignments = [line for line in lines if re.match(r"^\$[A-Za-z]+ = ", line)]
    assert [a.split(" ")[0][1:] for a in assignments[: len(SETTINGS)]] == list(SETTINGS)
    assert read_settings(text) == {
        "PoshbridgeHost": "host01",
        "OrderName": "example.jp",
        "MainDomain": "example.jp",
        "SiteName": "example.jp",
        "Port": 443,
        "IPAddress": "*",
        "HostHeader": "",
        "LogDir": "C:\\poshbridge\\logs",
        "PoshAcmeHome": "C:\\ProgramData\\poshbridge\\Posh-ACME",
        "WaitSeconds": 600,
        "RetentionDays": 90,
        "RemoveOldCert": 0,
    }


def test_hardened_script_behaviour() -> None:
    text = render_renew_script(example_host())
    env = text.index("$env:POSHACME_HOME = $PoshAcmeHome")
    assert env < text.index("Import-Module Posh-ACME")
    assert env < text.index("Set-PAOrder")
    (iis_line,) = [line for line in text.split("\n") if "Set-IISCertificate" in line and "$cert |" in line]
    assert "-ErrorAction Stop" in iis_line
    assert "-SiteName $SiteName -Port $Port" in iis_line
    for needle in (
        "try {",
        "catch {",
        "finally {",
        "exit $exitCode",
        "Start-Transcript -LiteralPath $transcriptPath",
        "Stop-Transcript",
        "'renew-' + $stamp + '.txt'",
        "'renew-' + $stamp + '.json'",
        "$started.ToString('yyyyMMdd-HHmmss')",
        "schema      = 'poshbridge.renewal-result/1'",
        "$exception.Data",
        "New-Object System.Text.UTF8Encoding -ArgumentList $true",
        "Start-Sleep -Seconds $WaitSeconds",
        "$started.AddDays(-$RetentionDays)",
        "$result.outcome = 'not-due'",
        "$result.outcome = 'renewed'",
        "$result.outcome = 'failed'",
    ):
        assert needle in text, needle
    # the result object has exactly the contract's keys, in order
    block = text[text.index("$result = [ordered]@{") : text.index("}", text.index("$result = [ordered]@{"))]
    keys = re.findall(r"^\s+(\w+)\s+=", block, re.M)
    assert keys == [
        "schema",
        "host",
        "order",
        "outcome",
        "started",
        "finished",
        "thumbprint",
        "not_after",
        "renew_after",
        "error",
        "transcript",
    ]
    # a failure sets $exitCode = 1 and nothing resets it to 0 after the catch
    assert text.index("$exitCode = 0") < text.index("\ncatch {")


def test_iis_switches() -> None:
    host = example_host()
    plain = render_renew_script(host)
    (iis_line, _) = [line for line in plain.split("\n") if "| Set-IISCertificate" in line]
    assert "-RequireSNI" not in iis_line and "-RemoveOldCert" not in iis_line
    flagged = HostConfig(
        name=host.name,
        address=host.address,
        domains=host.domains,
        webroot=host.webroot,
        iis=IISConfig(site="s", require_sni=True, remove_old_cert=True),
    )
    text = render_renew_script(flagged)
    assert "-HostHeader $HostHeader -RequireSNI @oldCert -Verbose -ErrorAction Stop" in text
    assert read_settings(text)["RemoveOldCert"] == 1 and read_settings(plain)["RemoveOldCert"] == 0


def test_remove_old_cert_is_decided_on_the_host_by_every_sites_bindings() -> None:
    """Issue 8 item 8: Posh-ACME.Deploy Private/Remove-OldCert.ps1 deletes the replaced certificate
    unconditionally, so the script never writes ``-RemoveOldCert`` literally: it splats ``@oldCert``,
    which holds the switch only when no other binding of any site holds the certificate."""
    text = render_renew_script(example_host())
    code = [line for line in text.split("\n") if not line.lstrip().startswith("#")]
    assert not any(re.search(r"-RemoveOldCert\b", line) for line in code)
    iis_lines = [line for line in code if "| Set-IISCertificate" in line]
    assert len(iis_lines) == 2 and all("@oldCert -Verbose" in line for line in iis_lines)
    body = text[text.index("function Get-PoshbridgeOldCertSwitch") :]
    body = body[: body.index("\n}\n")]
    assert "if ($RemoveOldCert -ne 1) { return $switches }" in body
    assert "Get-IISSite -ErrorAction Stop | Get-IISSiteBinding -ErrorAction Stop" in body
    assert "if ($users -le 1) {" in body and "Write-Output" not in body  # output is the hashtable only
    for line in iis_lines:
        assert text.rindex("$oldCert = Get-PoshbridgeOldCertSwitch", 0, text.index(line)) > 0


def test_no_template_placeholder_survives_and_templates_have_no_secrets() -> None:
    for style in ("hardened", "manual"):
        assert "<%" not in render_renew_script(example_host(), style)
        template = read_resource(f"renew-{style}.ps1.tmpl")
        assert "<%" in template
        assert not re.search(r"(?i)password|hmac|pfxpass", template)


def test_file_bytes_are_utf8_bom_crlf() -> None:
    data = renew_script_file_bytes(example_host("host02"))
    assert data.startswith(b"\xef\xbb\xbf# poshbridge-renewal-script style=hardened")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert data[3:].decode("utf-8").replace("\r\n", "\n") == render_renew_script(example_host("host02"))


def test_unknown_style() -> None:
    with pytest.raises(ValueError, match="unknown renewal script style"):
        render_renew_script(example_host(), "fancy")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"iis": IISConfig(port=True)}, TypeError),
        ({"iis": IISConfig(port="443")}, TypeError),  # type: ignore[arg-type]
        ({"iis": IISConfig(port=0)}, ValueError),
        ({"renewal": RenewalConfig(wait_after_renewal=600.5)}, TypeError),  # type: ignore[arg-type]
        ({"renewal": RenewalConfig(log_retention_days=0)}, ValueError),
        ({"iis": IISConfig(site="a\nb")}, ValueError),
        ({"renewal": RenewalConfig(log_dir="C:\\logs\r")}, ValueError),
    ],
)
def test_renderer_checks_values_itself(change: dict[str, Any], error: type[Exception]) -> None:
    host = example_host()
    fields = {"name": host.name, "address": host.address, "domains": host.domains, "webroot": host.webroot}
    bad = HostConfig(**{**fields, **change})
    with pytest.raises(error):
        render_renew_script(bad, "hardened")


def test_placeholder_syntax_in_a_value_is_not_expanded() -> None:
    host = example_host()
    odd = HostConfig(
        name=host.name,
        address=host.address,
        domains=host.domains,
        webroot=host.webroot,
        iis=IISConfig(site="<%PORT%> $(x)"),
    )
    text = render_renew_script(odd, "manual")
    assert (
        literal_after(text, "    $cert | Set-IISCertificate -SiteName ", " -Port 443 -Verbose")
        == "<%PORT%> $(x)"
    )


# ----- hostile values (property test) ----------------------------------------------------------------

BASE: dict[str, Any] = {
    "defaults": {
        "winrm": {"username": "u", "password": {"env": "PW"}},
        "acme": {"contacts": ["a@example.jp"]},
    },
    "hosts": {
        "host01": {
            "address": "web01.example.jp",
            "domains": ["example.jp"],
            "webroot": "C:\\inetpub\\wwwroot",
            "iis": {},
            "renewal": {},
            "acme": {"contacts": ["a@example.jp"]},
            "winrm": {},
        }
    },
}

# field -> (where in the YAML, key path in problems, setting in the hardened header or None)
FIELDS: dict[str, tuple[list[str], str, str | None]] = {
    "host name": ([], "hosts", "PoshbridgeHost"),
    "main domain": (["domains", "0"], "hosts.{h}.domains[0]", "MainDomain"),
    "webroot": (["webroot"], "hosts.{h}.webroot", None),
    "site": (["iis", "site"], "hosts.{h}.iis.site", "SiteName"),
    "ip_address": (["iis", "ip_address"], "hosts.{h}.iis.ip_address", "IPAddress"),
    "host_header": (["iis", "host_header"], "hosts.{h}.iis.host_header", "HostHeader"),
    "log_dir": (["renewal", "log_dir"], "hosts.{h}.renewal.log_dir", "LogDir"),
    "script_path": (["renewal", "script_path"], "hosts.{h}.renewal.script_path", None),
    "task_name": (["renewal", "task_name"], "hosts.{h}.renewal.task_name", None),
    "poshacme_home": (["acme", "poshacme_home"], "hosts.{h}.acme.poshacme_home", "PoshAcmeHome"),
    # not written into the scripts, but each must be refused clearly or leave the scripts intact
    "address": (["address"], "hosts.{h}.address", None),
    "username": (["winrm", "username"], "hosts.{h}.winrm.username", None),
    "configuration_name": (["winrm", "configuration_name"], "hosts.{h}.winrm.configuration_name", None),
    "verify": (["winrm", "verify"], "hosts.{h}.winrm.verify", None),
    "password": (["winrm", "password"], "hosts.{h}.winrm.password", None),
    "plugin": (["acme", "plugin"], "hosts.{h}.acme.plugin", None),
    "directory": (["acme", "directory"], "hosts.{h}.acme.directory", None),
    "contact": (["acme", "contacts", "0"], "hosts.{h}.acme.contacts[0]", None),
    "task_path": (["renewal", "task_path"], "hosts.{h}.renewal.task_path", None),
    "start": (["renewal", "start"], "hosts.{h}.renewal.start", None),
    "random_delay": (["renewal", "random_delay"], "hosts.{h}.renewal.random_delay", None),
    "start_date": (["renewal", "start_date"], "hosts.{h}.renewal.start_date", None),
    "end_boundary": (["renewal", "end_boundary"], "hosts.{h}.renewal.end_boundary", None),
}

HOSTILE_CHARS = "'\"`$();\n\r\t\0\u2018\u2019\u201a\u201b\u201c\u201d\u201e@#&|<>{}\\ :*?%"
hostile_text = st.text(
    alphabet=st.one_of(st.sampled_from(HOSTILE_CHARS), st.sampled_from("abcXYZ.-_1é例")), max_size=16
)
# legal in Windows paths and names, dangerous in PowerShell text
path_safe_hostile = st.text(
    alphabet=st.sampled_from("'`$();&#@{}[] \u2018\u2019\u201a\u201b\u201c\u201d\u201e%abé例"),
    min_size=1,
    max_size=16,
)
hostile_value = st.one_of(
    hostile_text,
    hostile_text.map(lambda s: "C:\\" + s),
    path_safe_hostile,
    path_safe_hostile.map(lambda s: "C:\\" + s),
    path_safe_hostile.map(lambda s: "C:\\" + s + ".ps1"),
    hostile_text.map(lambda s: s + ".example.jp"),
    st.sampled_from(["$(Stop-Computer)", "a'; Remove-Item C:\\ -Recurse; '", "x\u2019y", "C:\\a\nb", "`n"]),
)


def inventory_with(field: str, value: str) -> tuple[dict[str, Any], str]:
    data = copy.deepcopy(BASE)
    where, _, _ = FIELDS[field]
    host_name = "host01"
    if field == "host name":
        data["hosts"] = {value: data["hosts"]["host01"]}
        host_name = value
    else:
        node = data["hosts"]["host01"]
        for key in where[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(where[-1])] = value
        else:
            node[where[-1]] = value
    return data, host_name


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(FIELDS)), value=hostile_value)
def test_hostile_values_are_rejected_clearly_or_written_as_exact_literals(field: str, value: str) -> None:
    data, host_name = inventory_with(field, value)
    inv = inventory_from_text(yaml.safe_dump(data, allow_unicode=True), source="hostile.yaml")
    _, path_template, setting = FIELDS[field]
    path = path_template.format(h=host_name) if field != "host name" else f"hosts.{value}"
    host = inv.hosts.get(host_name)
    if host is None:
        # rejected: a clear error at this field's key path
        related = [p for p in inv.errors if p.path == path or p.path.startswith(path + ".")]
        assert related, (field, value, [str(p) for p in inv.problems])
        assert all(len(p.message) > 10 for p in related)
        return
    template_lines = {
        s: len(read_resource(f"renew-{s}.ps1.tmpl").split("\n")) for s in ("hardened", "manual")
    }
    hardened = render_renew_script(host, "hardened")
    manual = render_renew_script(host, "manual")
    # no value added or removed a line: the contract's one-assignment-per-line block holds
    assert len(hardened.split("\n")) == template_lines["hardened"]
    assert len(manual.split("\n")) == template_lines["manual"]
    settings_back = read_settings(hardened)
    expected = {
        "PoshbridgeHost": host.name,
        "MainDomain": host.main_domain,
        "SiteName": host.iis.site,
        "IPAddress": host.iis.ip_address,
        "HostHeader": host.iis.host_header,
        "LogDir": host.renewal.log_dir,
        "PoshAcmeHome": host.acme.poshacme_home,
        "OrderName": host.order_name,
    }
    for name, want in expected.items():
        assert settings_back[name] == want
        line = next(x for x in hardened.split("\n") if x.startswith(f"${name} = "))
        scanned, end = scan_literal(line, len(f"${name} = "))
        assert (scanned, end) == (want, len(line))  # PowerShell reads the same string, to the line end
        assert ps_single_unquote(line[len(f"${name} = ") :]) == want
    if setting is not None and field not in ("main domain", "host_header"):
        assert settings_back[setting] == value  # stored exactly as typed
    # the manual script's literals, too
    assert literal_after(manual, "Set-PAOrder -MainDomain ", " -Verbose") == host.main_domain
    assert literal_after(
        manual, "    $cert | Set-IISCertificate -SiteName ", f" -Port {host.iis.port} -Verbose"
    ) == (host.iis.site)
    assert literal_after(manual, "Start-Transcript -Path ", "") == host.renewal.log_dir.rstrip("\\") + (
        "\\acme_log.txt"
    )
    # and the task XML carries the names and paths as text, whatever they contain
    for style in ("hardened", "manual"):
        root = ET.fromstring(task_xml_for_register(host, style))  # noqa: S314 - our own document
        assert root.findtext("t:RegistrationInfo/t:URI", namespaces=NS) == task_uri(host)
        assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS) == task_arguments(host, style)
        if style == "manual" and "&" in task_arguments(host, style):
            command = task_arguments(host, style)
            assert literal_after(command, '-Command "& ', '"') == host.renewal.script_path


# ----- resources: installed package or source tree -----------------------------------------------------


def test_resources_come_from_the_installed_package_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import poshbridge
    from poshbridge.generate.web_config import challenge_web_config

    read_resource.cache_clear()
    source_text = challenge_web_config()
    assert '<remove fileExtension="."/>' in source_text
    assert '<mimeMap fileExtension="." mimeType="text/plain"/>' in source_text
    # what `pip install` lays out: poshbridge/ps_scripts/ (pyproject package-dir mapping)
    installed = tmp_path / "ps_scripts"
    installed.mkdir()
    (installed / "__init__.py").write_text("", encoding="utf-8")
    (installed / "challenge-web.config").write_text("<installed/>", encoding="utf-8")
    monkeypatch.setattr(poshbridge, "__path__", [*poshbridge.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "poshbridge.ps_scripts", raising=False)
    read_resource.cache_clear()
    try:
        assert challenge_web_config() == "<installed/>"
    finally:
        read_resource.cache_clear()
        sys.modules.pop("poshbridge.ps_scripts", None)


def test_hardened_script_selects_the_order_by_name_and_rebinds_when_not_due() -> None:
    """Issue 8 items 4 and 9: Set-PAOrder -Name (not -MainDomain, ambiguous with two orders of the same
    main domain); the not-due branch compares the binding with Get-PACertificate and rebinds."""
    text = render_renew_script(example_host(), "hardened")
    assert "Set-PAOrder -Name $OrderName -Verbose -ErrorAction Stop" in text
    assert "Set-PAOrder -MainDomain" not in text
    not_due = text[text.index("else {\n        $result.outcome = 'not-due'") :]
    assert "Get-IISSiteBinding -Name $SiteName -ErrorAction Stop" in not_due
    assert "if ($bound -ne $current.Thumbprint)" in not_due
    assert "$current | Set-IISCertificate -SiteName $SiteName" in not_due
    assert "$result.outcome = 'rebound'" in not_due


def test_hardened_catch_reads_acme_problem_properties_and_cannot_throw() -> None:
    """Issue 8 item 2: AcmeException.Data is a PSCustomObject; .Contains only under an IDictionary test,
    everything inside a nested try; Stop-Transcript in finally guarded."""
    text = render_renew_script(example_host(), "hardened")
    catch = text[text.index("\ncatch {\n") : text.index("\nfinally {\n")]
    guard = catch.index("if ($data -is [System.Collections.IDictionary]) {")
    assert catch.index("try {") < guard
    assert "$properties = $data.PSObject.Properties" in catch
    assert "$data.Contains" not in catch[:guard]
    assert "try { Stop-Transcript | Out-Null } catch { }" in text
