"""The Task Scheduler task XML as the lab handles it: parsed with positions, validated, re-serialized.

:func:`parse_task_xml` reads a task document with expat, keeping each element's (line, column), and
refuses an ``encoding="UTF-8"`` declaration in the string with Windows' own ``(1,39)::ERROR: switch from
current encoding to specified encoding not supported``. :func:`validate_task` checks structure and values
(namespace, version, principal id vs. Actions Context, RunLevel, ISO 8601 durations, Repetition Interval
>= PT1M, Exec/Command) and reports them with Task Scheduler's HRESULT texts (:data:`HRESULTS`) and
``(line,column):Element:value`` positions. :func:`next_run_time` is the trigger arithmetic behind
NextRunTime; :func:`reserialize` is the document as Windows writes it back after registration.
"""

from __future__ import annotations

import datetime
import math
import re
import xml.parsers.expat
from dataclasses import dataclass, field

NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"

HRESULTS = {
    "unexpected": (0x80041317, "The task XML contains an unexpected node."),
    "invalid": (0x80041318, "The task XML contains a value which is incorrectly formatted or out of range."),
    "missing": (0x80041319, "The task XML is missing a required element or attribute."),
    "malformed": (0x8004131A, "The task XML is malformed."),
}
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_DURATION_ELEMENTS = {
    "Interval",
    "Duration",
    "ExecutionTimeLimit",
    "RandomDelay",
    "Delay",
    "DeleteExpiredTaskAfter",
    "IdleDuration",
    "WaitTimeout",
    "RestartInterval",
    "PeriodicityDuration",
    "Deadline",
}
_CHILDREN: dict[str, set[str]] = {
    "Task": {"RegistrationInfo", "Triggers", "Principals", "Settings", "Actions", "Data"},
    "Triggers": {
        "BootTrigger",
        "RegistrationTrigger",
        "IdleTrigger",
        "TimeTrigger",
        "EventTrigger",
        "LogonTrigger",
        "SessionStateChangeTrigger",
        "CalendarTrigger",
        "WnfStateChangeTrigger",
    },
    "Actions": {"Exec", "ComHandler", "SendEmail", "ShowMessage"},
    "Principals": {"Principal"},
    "Principal": {
        "UserId",
        "GroupId",
        "LogonType",
        "RunLevel",
        "DisplayName",
        "ProcessTokenSidType",
        "RequiredPrivileges",
    },
    "Exec": {"Command", "Arguments", "WorkingDirectory"},
    "Repetition": {"Interval", "Duration", "StopAtDurationEnd"},
    "CalendarTrigger": {
        "Repetition",
        "StartBoundary",
        "EndBoundary",
        "ExecutionTimeLimit",
        "Enabled",
        "RandomDelay",
        "ScheduleByDay",
        "ScheduleByWeek",
        "ScheduleByMonth",
        "ScheduleByMonthDayOfWeek",
        "Id",
    },
    "TimeTrigger": {
        "Repetition",
        "StartBoundary",
        "EndBoundary",
        "ExecutionTimeLimit",
        "Enabled",
        "RandomDelay",
        "Id",
    },
}


def duration_seconds(text: str) -> float | None:
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    years, months, weeks, days, hours, minutes, seconds = match.groups()
    total = (int(years or 0) * 365 + int(months or 0) * 30 + int(weeks or 0) * 7 + int(days or 0)) * 86400
    return total + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


# ----- a small XML tree with positions (expat) -------------------------------------------------------
@dataclass
class Node:
    tag: str  # local name
    ns: str
    attrs: dict[str, str]
    line: int
    col: int
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def find(self, *path: str) -> Node | None:
        node: Node | None = self
        for name in path:
            if node is None:
                return None
            node = next((c for c in node.children if c.tag == name), None)
        return node

    def value(self, *path: str) -> str | None:
        node = self.find(*path)
        return node.text.strip() if node is not None else None


class TaskXmlError(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        code, text = HRESULTS.get(kind, (0, kind))
        self.hresult = code
        self.message = text + (f"\r\n{detail}" if detail else "") if code else kind
        super().__init__(self.message)


def parse_task_xml(text: str) -> Node:
    declaration = re.match(r"^\ufeff?\s*<\?xml[^>]*\?>", text)
    if declaration:
        encoding = re.search(r"encoding\s*=\s*[\"']([^\"']+)[\"']", declaration.group(0))
        if encoding and encoding.group(1).lower().replace("-", "") not in ("utf16", "unicode", "ucs2"):
            col = declaration.end() + 1
            raise TaskXmlError(
                f"(1,{col})::ERROR: switch from current encoding to specified encoding not supported"
            )
        body = (
            text[: declaration.start()]
            + " " * (declaration.end() - declaration.start())
            + text[declaration.end() :]
        )
    else:
        body = text
    parser = xml.parsers.expat.ParserCreate(namespace_separator="}")
    stack: list[Node] = []
    roots: list[Node] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        ns, _, local = name.rpartition("}")
        node = Node(local, ns, dict(attrs), parser.CurrentLineNumber, parser.CurrentColumnNumber + 1)
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)

    def end(name: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(body.lstrip("\ufeff"), True)
    except xml.parsers.expat.ExpatError as exc:
        raise TaskXmlError(f"({exc.lineno},{exc.offset + 1})::ERROR: incorrect document syntax") from None
    return roots[0]


def validate_task(root: Node) -> None:
    def where(node: Node, value: str | None = None) -> str:
        return f"({node.line},{node.col}):{node.tag}:{value if value is not None else ''}"

    if root.tag != "Task" or root.ns != NS:
        raise TaskXmlError("unexpected", where(root))
    version = root.attrs.get("version", "1.2")
    if version not in ("1.1", "1.2", "1.3", "1.4", "1.5", "1.6"):
        raise TaskXmlError("invalid", f"({root.line},{root.col}):version:{version}")

    def walk(node: Node) -> None:
        allowed = _CHILDREN.get(node.tag)
        for child in node.children:
            if child.ns != NS or (allowed is not None and child.tag not in allowed):
                raise TaskXmlError("unexpected", where(child))
            if child.tag in _DURATION_ELEMENTS and not child.children:
                seconds = duration_seconds(child.text.strip())
                if seconds is None:
                    raise TaskXmlError("invalid", where(child, child.text.strip()))
                if child.tag == "Interval" and node.tag == "Repetition" and not 60 <= seconds <= 31 * 86400:
                    raise TaskXmlError("invalid", where(child, child.text.strip()))
                if seconds > 3650 * 86400 * 10:
                    raise TaskXmlError("invalid", where(child, child.text.strip()))
            if child.tag in ("StartBoundary", "EndBoundary") and not _DATETIME.match(child.text.strip()):
                raise TaskXmlError("invalid", where(child, child.text.strip()))
            if child.tag == "RunLevel" and child.text.strip() not in ("LeastPrivilege", "HighestAvailable"):
                raise TaskXmlError("invalid", where(child, child.text.strip()))
            if child.tag == "Priority" and not (child.text.strip().isdigit() and 0 <= int(child.text) <= 10):
                raise TaskXmlError("invalid", where(child, child.text.strip()))
            if child.tag == "DaysInterval" and not (
                child.text.strip().isdigit() and 1 <= int(child.text) <= 365
            ):
                raise TaskXmlError("invalid", where(child, child.text.strip()))
            if child.tag in (
                "Enabled",
                "StopAtDurationEnd",
                "Hidden",
                "AllowStartOnDemand",
            ) and child.text.strip() not in ("true", "false", "1", "0"):
                raise TaskXmlError("invalid", where(child, child.text.strip()))
            walk(child)
        if node.tag == "CalendarTrigger":
            names = [c.tag for c in node.children]
            schedule = next((i for i, n in enumerate(names) if n.startswith("ScheduleBy")), None)
            if schedule is None:
                raise TaskXmlError("missing", where(node))
            if "RandomDelay" in names and names.index("RandomDelay") > schedule:
                raise TaskXmlError("unexpected", where(node.children[names.index("RandomDelay")]))
        if node.tag == "Exec" and node.find("Command") is None:
            raise TaskXmlError("missing", where(node) + "Command")

    walk(root)
    actions = root.find("Actions")
    if actions is None or not actions.children:
        raise TaskXmlError("missing", f"({root.line},{root.col}):Actions:")
    principals = root.find("Principals")
    ids = {p.attrs.get("id") for p in (principals.children if principals else [])}
    context = actions.attrs.get("Context")
    if context is not None and context not in ids:
        raise TaskXmlError("invalid", f"({actions.line},{actions.col}):Context:{context}")


# ----- next run time ------------------------------------------------------------------------------------
def parse_boundary(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (
        value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    )  # the lab's local time is UTC


def next_run_time(root: Node, now: datetime.datetime) -> datetime.datetime | None:
    best: datetime.datetime | None = None
    triggers = root.find("Triggers")
    for trigger in triggers.children if triggers else []:
        if trigger.tag not in ("CalendarTrigger", "TimeTrigger") or trigger.value("Enabled") == "false":
            continue
        start = parse_boundary(trigger.value("StartBoundary"))
        if start is None:
            continue
        end = parse_boundary(trigger.value("EndBoundary"))
        period = 0.0
        if trigger.tag == "CalendarTrigger":
            days = trigger.value("ScheduleByDay", "DaysInterval")
            period = (int(days) if days else 1) * 86400.0 if trigger.find("ScheduleByDay") else 7 * 86400.0
        interval = duration_seconds(trigger.value("Repetition", "Interval") or "") or 0.0
        repeat_for = duration_seconds(trigger.value("Repetition", "Duration") or "") or (
            period if interval else 0.0
        )
        candidate = _next_after(start, now, period, interval, repeat_for)
        if candidate is None or (end is not None and candidate > end):
            continue
        if best is None or candidate < best:
            best = candidate
    return best


def _next_after(
    start: datetime.datetime, now: datetime.datetime, period: float, interval: float, repeat_for: float
) -> datetime.datetime | None:
    """First trigger time >= now: day starts every ``period`` s, repeated every ``interval`` s within
    ``repeat_for`` s of each start."""
    if now <= start:
        return start
    elapsed = (now - start).total_seconds()
    bases = [0.0]
    if period:
        k = int(elapsed // period)
        bases = [k * period, (k + 1) * period]
    for base in bases:
        if base >= elapsed:
            return start + datetime.timedelta(seconds=base)
        if interval:
            steps = math.ceil((elapsed - base) / interval)
            if steps * interval < repeat_for:
                return start + datetime.timedelta(seconds=base + steps * interval)
    return None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----- re-serialization ---------------------------------------------------------------------------
# Windows does not keep the registered text: the service stores the definition and writes it back from
# its own model (the XML under C:\Windows\System32\Tasks, Export-ScheduledTask, schtasks /query /xml).
# Sources: docs/reference/task-scheduler.md §2 (element order as Windows exports it) and §5 (an
# export's UTF-16 declaration); MS-TSCH §2.5.1 RegistrationInfo ("If this field is not present, the
# time/date value used is set to the current time/date of when the task is registered"); the schema
# defaults of Microsoft's Task Scheduler schema, tests/data/task-scheduler.xsd (settingsType,
# idleSettingsType, triggerBaseType). What the lab writes:
#   - UTF-16 declaration, two-space indentation, CRLF;
#   - elements in Windows' export order (children it does not know keep their order, after the known);
#   - RegistrationInfo/Date filled with the registration time (7 fractional digits, local time),
#     RegistrationInfo/URI = the task path;
#   - each trigger's Enabled and the v1.2 Settings block filled with the schema defaults;
#   - xs:boolean values written canonically (true/false).
# Knowingly not emulated: normalization of duration spellings (PT72H vs P3D) and of date-times.
_ORDER: dict[str, tuple[str, ...]] = {
    "Task": ("RegistrationInfo", "Triggers", "Principals", "Settings", "Actions", "Data"),
    "RegistrationInfo": (
        "Date",
        "Author",
        "Version",
        "Description",
        "URI",
        "Source",
        "Documentation",
        "SecurityDescriptor",
    ),
    "Repetition": ("Interval", "Duration", "StopAtDurationEnd"),
    "Principal": (
        "UserId",
        "GroupId",
        "LogonType",
        "DisplayName",
        "RunLevel",
        "ProcessTokenSidType",
        "RequiredPrivileges",
    ),
    "Settings": (
        "MultipleInstancesPolicy",
        "DisallowStartIfOnBatteries",
        "StopIfGoingOnBatteries",
        "AllowHardTerminate",
        "StartWhenAvailable",
        "RunOnlyIfNetworkAvailable",
        "NetworkSettings",
        "IdleSettings",
        "AllowStartOnDemand",
        "Enabled",
        "Hidden",
        "RunOnlyIfIdle",
        "DisallowStartOnRemoteAppSession",
        "UseUnifiedSchedulingEngine",
        "WakeToRun",
        "DeleteExpiredTaskAfter",
        "ExecutionTimeLimit",
        "Priority",
        "RestartOnFailure",
    ),
    "IdleSettings": ("Duration", "WaitTimeout", "StopOnIdleEnd", "RestartOnIdle"),
    "Exec": ("Command", "Arguments", "WorkingDirectory"),
}
_TRIGGER_ORDER = (
    "Repetition", "StartBoundary", "EndBoundary", "ExecutionTimeLimit", "Enabled", "RandomDelay", "Delay",
    "ScheduleByDay", "ScheduleByWeek", "ScheduleByMonth", "ScheduleByMonthDayOfWeek",
)  # fmt: skip
_SETTINGS_DEFAULTS = (
    ("MultipleInstancesPolicy", "IgnoreNew"),
    ("DisallowStartIfOnBatteries", "true"),
    ("StopIfGoingOnBatteries", "true"),
    ("AllowHardTerminate", "true"),
    ("StartWhenAvailable", "false"),
    ("RunOnlyIfNetworkAvailable", "false"),
    ("AllowStartOnDemand", "true"),
    ("Enabled", "true"),
    ("Hidden", "false"),
    ("RunOnlyIfIdle", "false"),
    ("WakeToRun", "false"),
    ("ExecutionTimeLimit", "PT72H"),
    ("Priority", "7"),
)
_IDLE_DEFAULTS = (("StopOnIdleEnd", "true"), ("RestartOnIdle", "false"))
_BOOLEANS = {
    "Enabled", "StopAtDurationEnd", "DisallowStartIfOnBatteries", "StopIfGoingOnBatteries",
    "AllowHardTerminate", "StartWhenAvailable", "RunOnlyIfNetworkAvailable", "AllowStartOnDemand", "Hidden",
    "RunOnlyIfIdle", "WakeToRun", "StopOnIdleEnd", "RestartOnIdle", "DisallowStartOnRemoteAppSession",
    "UseUnifiedSchedulingEngine", "Volatile",
}  # fmt: skip


def _sorted_children(node: Node) -> list[Node]:
    order = _TRIGGER_ORDER if node.tag.endswith("Trigger") else _ORDER.get(node.tag)
    if order is None:
        return list(node.children)
    rank = {name: i for i, name in enumerate(order)}
    return sorted(node.children, key=lambda c: rank.get(c.tag, len(order)))  # stable: unknowns keep order


def _leaf(tag: str, text: str) -> Node:
    return Node(tag, NS, {}, 0, 0, [], text)


def _fill_defaults(root: Node, uri: str, registered: datetime.datetime) -> None:
    info = root.find("RegistrationInfo")
    if info is None:
        info = Node("RegistrationInfo", NS, {}, 0, 0)
        root.children.insert(0, info)
    if info.find("Date") is None:
        stamp = registered.astimezone(datetime.timezone.utc).replace(
            tzinfo=None
        )  # the lab's local time is UTC
        info.children.append(
            _leaf("Date", stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}0")
        )
    uri_node = info.find("URI")
    if uri_node is None:
        info.children.append(_leaf("URI", uri))
    else:
        uri_node.text = uri
    triggers = root.find("Triggers")
    for trigger in triggers.children if triggers is not None else []:
        if trigger.find("Enabled") is None:
            trigger.children.append(_leaf("Enabled", "true"))
    settings = root.find("Settings")
    if settings is None:
        settings = Node("Settings", NS, {}, 0, 0)
        root.children.append(settings)
    for name, value in _SETTINGS_DEFAULTS:
        if settings.find(name) is None:
            settings.children.append(_leaf(name, value))
    idle = settings.find("IdleSettings")
    if idle is None:
        idle = Node("IdleSettings", NS, {}, 0, 0)
        settings.children.append(idle)
    for name, value in _IDLE_DEFAULTS:
        if idle.find(name) is None:
            idle.children.append(_leaf(name, value))


def _attrs(node: Node) -> str:
    return "".join(f' {k}="{_escape(v).replace(chr(34), "&quot;")}"' for k, v in node.attrs.items())


def _write(node: Node, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if node.children:
        out.append(f"{pad}<{node.tag}{_attrs(node)}>")
        for child in _sorted_children(node):
            _write(child, depth + 1, out)
        out.append(f"{pad}</{node.tag}>")
        return
    text = node.text.strip()
    if node.tag in _BOOLEANS and text in ("1", "0"):
        text = "true" if text == "1" else "false"
    out.append(
        f"{pad}<{node.tag}{_attrs(node)}>{_escape(text)}</{node.tag}>"
        if text
        else f"{pad}<{node.tag}{_attrs(node)} />"
    )


def reserialize(root: Node, uri: str, registered: datetime.datetime) -> str:
    """The task document as Windows writes it back after registration (idempotent)."""
    _fill_defaults(root, uri, registered)
    attrs = {k: v for k, v in root.attrs.items() if not k.startswith("xmlns")}
    root.attrs = {"version": attrs.pop("version", "1.2"), **attrs, "xmlns": NS}
    out = ['<?xml version="1.0" encoding="UTF-16"?>']
    _write(root, 0, out)
    return "\r\n".join(out) + "\r\n"
