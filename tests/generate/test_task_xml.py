"""Task Scheduler XML: schema-valid for both styles and several inventories, export order, encodings."""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from poshbridge.generate.task_xml import (
    task_arguments,
    task_uri,
    task_xml_file_bytes,
    task_xml_for_register,
    task_xml_text,
)
from poshbridge.inventory.load import inventory_from_text, load_inventory
from poshbridge.inventory.model import POWERSHELL_EXE, HostConfig, RenewalConfig

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "tests" / "data" / "task-scheduler.xsd"  # origin and licence: tests/data/README.md
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("POSHBRIDGE_UPDATE_GOLDEN") == "1"
NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
STYLES = ("hardened", "manual")


@pytest.fixture(scope="module")
def schema() -> Any:
    if not XSD.is_file():
        pytest.fail(f"Task Scheduler XSD not found at {XSD}")
    return xmlschema.XMLSchema10(str(XSD))


def example(name: str) -> HostConfig:
    return load_inventory(REPO / "examples" / "inventory.yaml").hosts[name]


LAB_LIKE = """\
defaults:
  winrm: {transport: https, auth: basic, username: certadmin, password: {file: secrets/winrm.txt},
          verify: ca.pem}
  acme: {directory: 'https://127.0.0.1:14000/dir', contacts: [ops@poshbridge.test, sec@poshbridge.test]}
  renewal: {start: '00:05', random_delay: PT0S, repeat_every: PT1M, repeat_for: PT1M, time_limit: PT10M,
            wait_after_renewal: 3, log_retention_days: 1,
            script_path: 'C:\\Program Files\\poshbridge\\R&D $x''s.ps1',
            task_name: 'renew & check', task_path: '\\poshbridge\\lab\\'}
hosts:
  host07: {address: 127.0.0.1, domains: [host07.poshbridge.test], webroot: 'C:\\inetpub\\wwwroot',
           iis: {site: host07.poshbridge.test, port: 44307}}
"""


def lab_like() -> HostConfig:
    inv = inventory_from_text(LAB_LIKE)
    assert inv.errors == (), [str(p) for p in inv.problems]
    return inv.hosts["host07"]


HOSTS = {"host01": lambda: example("host01"), "host02": lambda: example("host02"), "lab-like": lab_like}


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("which", sorted(HOSTS))
def test_all_forms_validate_against_the_schema(schema: Any, which: str, style: str) -> None:
    host = HOSTS[which]()
    schema.validate(task_xml_text(host, style))
    schema.validate(task_xml_for_register(host, style))
    schema.validate(io.BytesIO(task_xml_file_bytes(host, style)))


@pytest.mark.parametrize("style", STYLES)
def test_golden_xml(style: str) -> None:
    text = task_xml_text(example("host01"), style)
    golden = GOLDEN / f"host01-{style}.xml"
    if UPDATE:
        golden.write_text(text, encoding="utf-8", newline="\n")
        pytest.skip(f"golden file rewritten: {golden}")
    assert text == golden.read_text(encoding="utf-8"), (
        f"regenerate with POSHBRIDGE_UPDATE_GOLDEN=1 ({golden})"
    )


NEGATIVE = {
    "RunLevel Highest (PowerShell enum name)": ("<RunLevel>HighestAvailable<", "<RunLevel>Highest<"),
    "Interval PT30S": ("<Interval>PT1H<", "<Interval>PT30S<"),
    "Interval above 31 days": ("<Interval>PT1H<", "<Interval>P32D<"),
    "Duration '1 day'": ("<Duration>P1D<", "<Duration>1 day<"),
    "Priority 11": ("<Priority>7<", "<Priority>11<"),
    "StartBoundary with a space": (
        "<StartBoundary>2024-01-01T03:17:00<",
        "<StartBoundary>2024-01-01 03:17:00<",
    ),
    "Actions context without principal": ('<Actions Context="Author">', '<Actions Context="Someone">'),
    "wrong namespace": ("mit/task", "mit/tasks"),
    "unknown element": ("<Hidden>false</Hidden>", "<Hidden>false</Hidden><Invisible>true</Invisible>"),
}


@pytest.mark.parametrize("case", sorted(NEGATIVE))
def test_schema_rejects_broken_tasks(schema: Any, case: str) -> None:
    text = task_xml_text(example("host01"), "hardened")
    old, new = NEGATIVE[case]
    assert old in text
    assert schema.is_valid(text)
    assert not schema.is_valid(text.replace(old, new, 1))


def test_schema_rejects_missing_actions_and_misplaced_random_delay(schema: Any) -> None:
    text = task_xml_text(example("host01"), "manual")
    no_actions = re.sub(r"  <Actions .*?</Actions>\n", "", text, flags=re.S)
    assert "<Actions" not in no_actions
    assert not schema.is_valid(no_actions)
    moved = text.replace("      <RandomDelay>PT1H</RandomDelay>\n", "").replace(
        "      </ScheduleByDay>\n", "      </ScheduleByDay>\n      <RandomDelay>PT1H</RandomDelay>\n"
    )
    assert not schema.is_valid(moved)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own generated document


def _children(element: ET.Element) -> list[str]:
    return [child.tag.split("}")[1] for child in element]


def test_export_element_order_and_values() -> None:
    root = parse(task_xml_for_register(example("host01"), "hardened"))
    assert root.attrib["version"] == "1.2"
    assert _children(root) == ["RegistrationInfo", "Triggers", "Principals", "Settings", "Actions"]
    assert _children(root.find("t:RegistrationInfo", NS)) == ["Author", "Description", "URI"]  # type: ignore[arg-type]
    trigger = root.find("t:Triggers/t:CalendarTrigger", NS)
    assert trigger is not None
    assert _children(trigger) == [
        "Repetition",
        "StartBoundary",
        "ExecutionTimeLimit",
        "Enabled",
        "RandomDelay",
        "ScheduleByDay",
    ]
    assert trigger.findtext("t:Repetition/t:Interval", namespaces=NS) == "PT1H"
    assert trigger.findtext("t:Repetition/t:Duration", namespaces=NS) == "P1D"
    assert trigger.findtext("t:Repetition/t:StopAtDurationEnd", namespaces=NS) == "false"
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == "2024-01-01T03:17:00"
    assert trigger.findtext("t:ExecutionTimeLimit", namespaces=NS) == "P3D"
    assert trigger.findtext("t:RandomDelay", namespaces=NS) == "PT1H"
    assert trigger.findtext("t:ScheduleByDay/t:DaysInterval", namespaces=NS) == "1"
    principal = root.find("t:Principals/t:Principal", NS)
    assert principal is not None and principal.attrib["id"] == "Author"
    assert _children(principal) == ["UserId", "RunLevel"]  # no LogonType for SYSTEM
    assert principal.findtext("t:UserId", namespaces=NS) == "S-1-5-18"
    assert principal.findtext("t:RunLevel", namespaces=NS) == "HighestAvailable"
    settings = root.find("t:Settings", NS)
    assert settings is not None
    assert _children(settings) == [
        "MultipleInstancesPolicy",
        "DisallowStartIfOnBatteries",
        "StopIfGoingOnBatteries",
        "AllowHardTerminate",
        "StartWhenAvailable",
        "RunOnlyIfNetworkAvailable",
        "IdleSettings",
        "AllowStartOnDemand",
        "Enabled",
        "Hidden",
        "RunOnlyIfIdle",
        "WakeToRun",
        "ExecutionTimeLimit",
        "Priority",
    ]
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    actions = root.find("t:Actions", NS)
    assert actions is not None and actions.attrib["Context"] == "Author"
    assert actions.findtext("t:Exec/t:Command", namespaces=NS) == POWERSHELL_EXE
    info = root.find("t:RegistrationInfo", NS)
    assert info is not None
    assert info.findtext("t:Author", namespaces=NS) == "poshbridge"
    assert info.findtext("t:URI", namespaces=NS) == "\\poshbridge renew"
    description = info.findtext("t:Description", namespaces=NS) or ""
    assert "host01" in description and "C:\\poshbridge\\renew.ps1" in description


@pytest.mark.parametrize(
    ("style", "arguments", "start_when_available", "batteries"),
    [
        ("manual", '-Command "C:\\poshbridge\\renew.ps1"', "false", "true"),
        (
            "hardened",
            '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\\poshbridge\\renew.ps1"',
            "true",
            "false",
        ),
    ],
)
def test_style_differences(style: str, arguments: str, start_when_available: str, batteries: str) -> None:
    root = parse(task_xml_for_register(example("host01"), style))
    assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS) == arguments
    assert root.findtext("t:Settings/t:StartWhenAvailable", namespaces=NS) == start_when_available
    assert root.findtext("t:Settings/t:DisallowStartIfOnBatteries", namespaces=NS) == batteries


def test_end_boundary_and_task_folder() -> None:
    host = example("host02")
    root = parse(task_xml_for_register(host, "manual"))
    trigger = root.find("t:Triggers/t:CalendarTrigger", NS)
    assert trigger is not None
    assert _children(trigger)[:4] == ["Repetition", "StartBoundary", "EndBoundary", "ExecutionTimeLimit"]
    assert trigger.findtext("t:EndBoundary", namespaces=NS) == "2030-01-31T17:17:58"
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == "2024-01-01T04:41:00"
    assert task_uri(host) == "\\poshbridge\\poshbridge renew"
    assert "<EndBoundary>" not in task_xml_text(example("host01"))


def test_special_characters_are_escaped_and_quoted() -> None:
    host = lab_like()
    text = task_xml_text(host, "manual")
    assert "R&amp;D $x's.ps1" in text
    root = parse(task_xml_for_register(host, "manual"))
    # -Command parses PowerShell: a path with spaces, &, $ or ' is run as a quoted literal
    assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS) == (
        "-Command \"& 'C:\\Program Files\\poshbridge\\R&D $x''s.ps1'\""
    )
    assert root.findtext("t:RegistrationInfo/t:URI", namespaces=NS) == "\\poshbridge\\lab\\renew & check"
    hardened = parse(task_xml_for_register(host, "hardened"))
    assert hardened.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS) == task_arguments(
        host, "hardened"
    )
    assert task_arguments(host, "hardened").endswith('-File "C:\\Program Files\\poshbridge\\R&D $x\'s.ps1"')


def test_markup_characters_are_escaped(schema: Any) -> None:
    # the inventory never allows < > in these names; the generator escapes them anyway
    host = example("host01")
    odd = HostConfig(
        name="a<b>&c",
        address=host.address,
        domains=host.domains,
        webroot=host.webroot,
        renewal=RenewalConfig(task_name="x</URI><Evil/>"),
    )
    text = task_xml_text(odd)
    assert "<Evil/>" not in text and "x&lt;/URI&gt;&lt;Evil/&gt;" in text
    schema.validate(text)
    root = parse(task_xml_for_register(odd))
    assert root.findtext("t:RegistrationInfo/t:URI", namespaces=NS) == "\\x</URI><Evil/>"


def test_manual_command_quotes_a_single_quote_in_the_path() -> None:
    host = example("host01")
    odd = HostConfig(
        name=host.name,
        address=host.address,
        domains=host.domains,
        webroot=host.webroot,
        renewal=RenewalConfig(script_path="C:\\O'Brien\\renew.ps1"),
    )
    assert task_arguments(odd, "manual") == "-Command \"& 'C:\\O''Brien\\renew.ps1'\""


@pytest.mark.parametrize(
    ("renewal", "message"),
    [
        (RenewalConfig(script_path='C:\\a"b.ps1'), "cannot be quoted"),
        (RenewalConfig(task_name="a\x01b"), "XML cannot represent"),
        (RenewalConfig(repeat_every="1 hour"), "not an ISO 8601 duration"),
        (RenewalConfig(start="3:17"), "do not form a date-time"),
    ],
)
def test_generator_refuses_values_it_cannot_write(renewal: RenewalConfig, message: str) -> None:
    host = example("host01")
    bad = HostConfig(
        name=host.name, address=host.address, domains=host.domains, webroot=host.webroot, renewal=renewal
    )
    with pytest.raises(ValueError, match=message):
        task_xml_text(bad, "hardened")


def test_encodings() -> None:
    host = example("host01")
    text = task_xml_text(host)
    assert text.startswith('<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2"')
    data = task_xml_file_bytes(host)
    assert data[:2] == b"\xff\xfe"
    decoded = data[2:].decode("utf-16-le")
    assert decoded == text.replace("\n", "\r\n")
    assert "\n" not in decoded.replace("\r\n", "")
    register = task_xml_for_register(host)
    assert "UTF-8" not in register and 'encoding="' not in register.split("\n", 1)[0]
    assert register.split("\n", 1)[1] == text.split("\n", 1)[1]
