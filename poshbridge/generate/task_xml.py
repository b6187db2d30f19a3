r"""The Task Scheduler task of the JPRS manual (section 4.3 screens) as Task XML, per host.

Elements follow Windows' export order (``docs/reference/task-scheduler.md`` §2), ``version="1.2"`` (the
manual's "Configure for: Windows Vista, Windows Server 2008"). The task runs as SYSTEM
(``S-1-5-18``, ``HighestAvailable``, no ``LogonType``: "run whether user is logged on or not"), daily
at the host's start time with a random delay, repeated every ``repeat_every`` for ``repeat_for``.

``manual`` runs ``powershell.exe -Command "<script>"`` with the GUI's default settings; ``hardened``
runs ``-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "<script>"`` (the script's exit code
becomes "Last Run Result"), starts a missed run when the host is back (``StartWhenAvailable``) and
ignores batteries. No ``RegistrationInfo/Date``: output is a pure function of the inventory.

Three forms: :func:`task_xml_text` (declares UTF-16, for display), :func:`task_xml_file_bytes` (UTF-16
LE with BOM and CRLF, what ``schtasks /create /xml`` needs) and :func:`task_xml_for_register` (a string
for ``Register-ScheduledTask -Xml``, which rejects an ``encoding="UTF-8"`` declaration).
"""

from __future__ import annotations

import codecs
import re

from poshbridge.generate.renew_script import DEFAULT_STYLE, STYLES
from poshbridge.inventory.model import POWERSHELL_EXE, HostConfig
from poshbridge.inventory.validate import duration_seconds
from poshbridge.powershell.quoting import ps_single_quote

TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
TASK_VERSION = "1.2"
AUTHOR = "poshbridge"
SYSTEM_SID = "S-1-5-18"
HARDENED_ARGUMENTS_PREFIX = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File"
DECLARATION_UTF16 = '<?xml version="1.0" encoding="UTF-16"?>'
DECLARATION_PLAIN = '<?xml version="1.0"?>'

# Characters XML 1.0 cannot carry at all (escaping does not help).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A script path -Command can run as written (the manual's form); anything else is run with "& '<path>'".
_PLAIN_COMMAND_PATH = re.compile(r"^[A-Za-z0-9_.:\\-]+$")


def _x(value: str, what: str) -> str:
    """XML element text: ``&``, ``<``, ``>`` escaped; characters XML cannot hold refused."""
    bad = _XML_INVALID.search(value)
    if bad:
        raise ValueError(f"{what} contains U+{ord(bad.group()):04X}, which XML cannot represent")
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} contains a line break")
    # what xml.sax.saxutils.escape does ("&" first), without importing it: it loads urllib.request
    return value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def _duration(value: str, what: str) -> str:
    if duration_seconds(value) is None:
        raise ValueError(f"{what} is not an ISO 8601 duration of days/hours/minutes/seconds: {value!r}")
    return value


def _style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"unknown task style {style!r}; expected one of {', '.join(STYLES)}")
    return style


def task_uri(host: HostConfig) -> str:
    r"""``\<folder>\<name>`` as Windows sets ``RegistrationInfo/URI`` (task_path is ``\`` or ``\a\b\``)."""
    folder = host.renewal.task_path
    if not folder.startswith("\\"):
        folder = "\\" + folder
    if not folder.endswith("\\"):
        folder += "\\"
    return folder + host.renewal.task_name


def task_arguments(host: HostConfig, style: str = DEFAULT_STYLE) -> str:
    """The ``Exec/Arguments`` text (unescaped)."""
    script = host.renewal.script_path
    if '"' in script:
        raise ValueError("renewal.script_path contains '\"', which cannot be quoted on a command line")
    if _style(style) == "manual":
        if _PLAIN_COMMAND_PATH.match(script):
            return f'-Command "{script}"'
        # -Command parses its text as PowerShell: a path with spaces, $, ', ; … must be a quoted literal.
        return f'-Command "& {ps_single_quote(script)}"'
    return f'{HARDENED_ARGUMENTS_PREFIX} "{script}"'


def _body(host: HostConfig, style: str) -> str:
    style = _style(style)
    hardened = style == "hardened"
    r = host.renewal
    start_boundary = f"{r.start_date}T{r.start}:00"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00", start_boundary):
        raise ValueError(f"renewal.start_date/start do not form a date-time: {start_boundary!r}")
    time_limit = _duration(r.time_limit, "renewal.time_limit")
    description = (
        f"poshbridge: Posh-ACME certificate renewal (Submit-Renewal, Set-IISCertificate) for host "
        f"{host.name}, {style} script {r.script_path}"
    )
    lines = [
        f'<Task version="{TASK_VERSION}" xmlns="{TASK_NAMESPACE}">',
        "  <RegistrationInfo>",
        f"    <Author>{AUTHOR}</Author>",
        f"    <Description>{_x(description, 'description')}</Description>",
        f"    <URI>{_x(task_uri(host), 'renewal.task_path/task_name')}</URI>",
        "  </RegistrationInfo>",
        "  <Triggers>",
        "    <CalendarTrigger>",
        "      <Repetition>",
        f"        <Interval>{_x(_duration(r.repeat_every, 'renewal.repeat_every'), 'interval')}</Interval>",
        f"        <Duration>{_x(_duration(r.repeat_for, 'renewal.repeat_for'), 'duration')}</Duration>",
        "        <StopAtDurationEnd>false</StopAtDurationEnd>",
        "      </Repetition>",
        f"      <StartBoundary>{start_boundary}</StartBoundary>",
    ]
    if r.end_boundary is not None:
        lines.append(f"      <EndBoundary>{_x(r.end_boundary, 'renewal.end_boundary')}</EndBoundary>")
    lines += [
        f"      <ExecutionTimeLimit>{_x(time_limit, 'time limit')}</ExecutionTimeLimit>",
        "      <Enabled>true</Enabled>",
        f"      <RandomDelay>{_x(_duration(r.random_delay, 'renewal.random_delay'), 'delay')}</RandomDelay>",
        "      <ScheduleByDay>",
        "        <DaysInterval>1</DaysInterval>",
        "      </ScheduleByDay>",
        "    </CalendarTrigger>",
        "  </Triggers>",
        "  <Principals>",
        '    <Principal id="Author">',
        f"      <UserId>{SYSTEM_SID}</UserId>",
        "      <RunLevel>HighestAvailable</RunLevel>",
        "    </Principal>",
        "  </Principals>",
        "  <Settings>",
        "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>",
        f"    <DisallowStartIfOnBatteries>{_bool(not hardened)}</DisallowStartIfOnBatteries>",
        f"    <StopIfGoingOnBatteries>{_bool(not hardened)}</StopIfGoingOnBatteries>",
        "    <AllowHardTerminate>true</AllowHardTerminate>",
        f"    <StartWhenAvailable>{_bool(hardened)}</StartWhenAvailable>",
        "    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>",
        "    <IdleSettings>",
        "      <StopOnIdleEnd>true</StopOnIdleEnd>",
        "      <RestartOnIdle>false</RestartOnIdle>",
        "    </IdleSettings>",
        "    <AllowStartOnDemand>true</AllowStartOnDemand>",
        "    <Enabled>true</Enabled>",
        "    <Hidden>false</Hidden>",
        "    <RunOnlyIfIdle>false</RunOnlyIfIdle>",
        "    <WakeToRun>false</WakeToRun>",
        f"    <ExecutionTimeLimit>{_x(time_limit, 'time limit')}</ExecutionTimeLimit>",
        "    <Priority>7</Priority>",
        "  </Settings>",
        '  <Actions Context="Author">',
        "    <Exec>",
        f"      <Command>{_x(POWERSHELL_EXE, 'command')}</Command>",
        f"      <Arguments>{_x(task_arguments(host, style), 'renewal.script_path')}</Arguments>",
        "    </Exec>",
        "  </Actions>",
        "</Task>",
    ]
    return "\n".join(lines) + "\n"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def task_xml_text(host: HostConfig, style: str = DEFAULT_STYLE) -> str:
    """The document as text, declaring ``encoding="UTF-16"`` (LF line ends)."""
    return DECLARATION_UTF16 + "\n" + _body(host, style)


def task_xml_file_bytes(host: HostConfig, style: str = DEFAULT_STYLE) -> bytes:
    """The file form: UTF-16 LE with BOM (``FF FE``) and CRLF, as Task Scheduler exports it."""
    text = task_xml_text(host, style).replace("\n", "\r\n")
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def task_xml_for_register(host: HostConfig, style: str = DEFAULT_STYLE) -> str:
    """The string for ``Register-ScheduledTask -Xml``: no encoding declared (a .NET string is UTF-16)."""
    return DECLARATION_PLAIN + "\n" + _body(host, style)
