"""Comparisons of what a host holds with what is wanted (files, the task document, the ACL, modules,
the Posh-ACME account, order and server)."""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup.facts import SetupFacts
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import ModuleInfo, PAAccount, PAOrder
from poshbridge.timefmt import parse_wall_clock


def script_file_bytes(script: str) -> bytes:
    """The renewal script as the file Windows PowerShell 5.1 must read: UTF-8 with BOM, CRLF."""
    return codecs.BOM_UTF8 + script.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def normalize_text(text: str | None) -> str | None:
    """Line ends and the trailing newline do not matter (Set-Content adds CRLF; a BOM may appear)."""
    if text is None:
        return None
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


_TASK_NS = "{http://schemas.microsoft.com/windows/2004/02/mit/task}"
# Set by Windows on registration (Date, URI) or not functional (Author): never compared.
_IGNORED_REGISTRATION = {"Date", "Author", "URI"}
# Task Scheduler schema types of the leaves poshbridge writes (task-scheduler-msdocs.xsd).
_TASK_BOOLEANS = {
    "Enabled", "StopAtDurationEnd", "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries",
    "AllowHardTerminate", "StartWhenAvailable", "RunOnlyIfNetworkAvailable", "AllowStartOnDemand", "Hidden",
    "RunOnlyIfIdle", "WakeToRun", "StopOnIdleEnd", "RestartOnIdle", "DisallowStartOnRemoteAppSession",
    "UseUnifiedSchedulingEngine",
}  # fmt: skip
_TASK_DURATIONS = {"Interval", "Duration", "ExecutionTimeLimit", "RandomDelay", "Delay",
                   "DeleteExpiredTaskAfter", "IdleDuration", "WaitTimeout"}  # fmt: skip
_TASK_INTEGERS = {"Priority", "DaysInterval", "WeeksInterval"}
_TASK_DATETIMES = {"StartBoundary", "EndBoundary"}
# Schema defaults: Windows may leave an element out of its export when it holds the default.
_TASK_DEFAULTS = {
    "Enabled": "true", "StopAtDurationEnd": "false", "MultipleInstancesPolicy": "IgnoreNew",
    "DisallowStartIfOnBatteries": "true", "StopIfGoingOnBatteries": "true", "AllowHardTerminate": "true",
    "StartWhenAvailable": "false", "RunOnlyIfNetworkAvailable": "false", "AllowStartOnDemand": "true",
    "Hidden": "false", "RunOnlyIfIdle": "false", "WakeToRun": "false", "ExecutionTimeLimit": "PT72H",
    "Priority": "7", "StopOnIdleEnd": "true", "RestartOnIdle": "false", "RandomDelay": "PT0M",
    "Delay": "PT0M",
}  # fmt: skip
_ISO_DURATION = re.compile(r"^P(?!$)(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _task_leaves(text: str) -> dict[tuple[str, str], str] | None:
    """Every leaf value and attribute of a task document: (path, tag or ``@attribute``) -> text.
    The path is made of local names with the index among same-named siblings."""
    cleaned = re.sub(r"^\s*<\?xml[^>]*\?>", "", text.lstrip("\ufeff"))
    try:
        root = ET.fromstring(cleaned)  # noqa: S314 - our own task document or the host's export of it
    except ET.ParseError:
        return None
    leaves: dict[tuple[str, str], str] = {}

    def walk(element: ET.Element, path: str, tag: str) -> None:
        for name, value in element.attrib.items():
            leaves[(path, "@" + name)] = value
        children = list(element)
        if not children:
            leaves[(path, tag)] = (element.text or "").strip()
            return
        seen: dict[str, int] = {}
        for child in children:
            child_tag = child.tag.replace(_TASK_NS, "")
            if path == "/Task[0]/RegistrationInfo[0]" and child_tag in _IGNORED_REGISTRATION:
                continue
            seen[child_tag] = seen.get(child_tag, 0) + 1
            walk(child, f"{path}/{child_tag}[{seen[child_tag] - 1}]", child_tag)

    root_tag = root.tag.replace(_TASK_NS, "")
    walk(root, f"/{root_tag}[0]", root_tag)
    return leaves


def _task_value(tag: str, text: str) -> object:
    """A leaf value as Task Scheduler understands it (so re-serialized spellings compare equal)."""
    if tag in _TASK_BOOLEANS and text in ("true", "1", "false", "0"):
        return text in ("true", "1")
    if tag in _TASK_INTEGERS and text.isdigit():
        return int(text)
    if tag in _TASK_DURATIONS:
        match = _ISO_DURATION.match(text)
        if match:
            d, h, m, sec = (int(x or 0) for x in match.groups())
            return ((d * 24 + h) * 60 + m) * 60 + sec
    if tag in _TASK_DATETIMES:
        moment = parse_wall_clock(text)  # zone-less is the host's local time: never equal to a zoned one
        return moment if moment is not None else text
    return text


def task_documents_equal(wanted: str, exported: str | None) -> bool:
    """Whether the registered task holds every value poshbridge sets (issue 8 item 10).

    Windows re-serializes a task on registration: its own element order, declaration and whitespace,
    RegistrationInfo Date/URI added, defaults filled in, values in its own spelling. So this compares
    the leaves and attributes of ``wanted`` (ignoring RegistrationInfo Date/Author/URI) with the same
    paths in ``exported``, as typed values; elements only Windows writes are ignored, and an element
    Windows left out counts as its schema default."""
    if exported is None:
        return False
    want, have = _task_leaves(wanted), _task_leaves(exported)
    if want is None or have is None:
        return False
    for key, text in want.items():
        tag = key[1]
        if key in have:
            if _task_value(tag, have[key]) != _task_value(tag, text):
                return False
        elif tag.startswith("@") or tag not in _TASK_DEFAULTS:
            return False  # an attribute, or an element without a default, that Windows does not hold
        elif _task_value(tag, _TASK_DEFAULTS[tag]) != _task_value(tag, text):
            return False
    return True


_SDDL_ACE = re.compile(r"\(([^()]*)\)")
_SDDL_SIDS = {"S-1-5-18": "SY", "S-1-5-32-544": "BA"}
_SDDL_FULL = {"FA", "0X1F01FF"}


def home_acl_drift(sddl: str | None) -> str | None:
    """None when the DACL of POSHACME_HOME is protected and allows exactly SYSTEM and Administrators
    full control (inherited to subfolders and files); otherwise what is wrong. Linear-time parsing."""
    if sddl is None:
        return "ACL not read"
    if len(sddl) > 16384:
        return "ACL too long"
    start = sddl.find("D:")
    if start < 0:
        return "no DACL"
    dacl = sddl[start + 2 :]
    sacl = dacl.find("S:")  # a SACL section may follow (SIDs are written S-1-..., never S:)
    dacl = dacl[:sacl] if sacl >= 0 else dacl
    flags = dacl.split("(", 1)[0]
    if "P" not in flags:
        return "inherits from its parent folder"
    wanted = {("SY", "FA"), ("BA", "FA")}
    found: set[tuple[str, str]] = set()
    for ace in _SDDL_ACE.findall(dacl):
        parts = ace.split(";")
        if len(parts) != 6:
            return "unreadable ACE"
        kind, ace_flags, rights, _obj, _inh, sid = parts
        sid = _SDDL_SIDS.get(sid.upper(), sid.upper())
        tokens = {ace_flags[i : i + 2].upper() for i in range(0, len(ace_flags), 2)}
        if (
            kind.upper() != "A"
            or tokens != {"OI", "CI"}
            or rights.upper() not in _SDDL_FULL
            or sid not in ("SY", "BA")
        ):
            return f"grants {sid}" if kind.upper() == "A" else f"has a {kind} entry for {sid}"
        found.add((sid, "FA"))
    if found != wanted:
        return "missing " + ", ".join(sorted(s for s, _r in wanted - found))
    return None


def _version_key(text: str | None) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text or "")[:4]
    return tuple(int(p) for p in parts) + (0,) * (4 - len(parts))


def module_gaps(modules: Sequence[ModuleInfo]) -> list[tuple[str, str]]:
    """(module, why) for each required module that is absent or older than its minimum version."""
    gaps: list[tuple[str, str]] = []
    for name in calls.REQUIRED_MODULES:
        versions = [m.version for m in modules if (m.name or "").lower() == name.lower()]
        minimum = calls.MINIMUM_MODULE_VERSIONS.get(name)
        if not versions:
            gaps.append((name, name + (f" (>= {minimum})" if minimum else "")))
        elif minimum and max(_version_key(v) for v in versions) < _version_key(minimum):
            newest = max(versions, key=_version_key)
            gaps.append((name, f"{name} {newest} is older than {minimum}"))
    return gaps


def same_names(order: PAOrder, domains: Sequence[str]) -> bool:
    return order.same_names(domains)


def reusable_account(facts: SetupFacts, host: HostConfig) -> PAAccount | None:
    for account in facts.accounts:
        if account.is_valid and account.contacts_match(host.acme.contacts):
            return account
    return None


def reusable_order(facts: SetupFacts, host: HostConfig) -> PAOrder | None:
    order = facts.order_named(host.order_name)
    if order is None or not order.is_valid or not order.same_names(host.domains):
        return None
    if (order.key_length or host.acme.cert_key_length) != host.acme.cert_key_length:
        return None
    return order


def server_matches(facts: SetupFacts, host: HostConfig) -> bool:
    server = facts.server
    return (
        server is not None
        and (server.location or "").rstrip("/") == host.acme.directory.rstrip("/")
        and bool(server.disable_telemetry)
    )
