"""ScheduledTasks (CDXML over MSFT_ScheduledTask), emulated on ``<host root>/tasks/*.json``.

Register-ScheduledTask validates the XML the way Task Scheduler does where it matters for poshbridge:
a ``encoding="UTF-8"`` declaration in the -Xml string is refused with Windows' own
``(1,39)::ERROR: switch from current encoding to specified encoding not supported``; structure and
values are checked (namespace, version, principal id vs. Actions Context, RunLevel, ISO 8601 durations,
Repetition Interval >= PT1M, Exec/Command) and reported with Task Scheduler's HRESULT texts and
``(line,column):Element:value`` positions. Start-ScheduledTask hands the action to
:mod:`poshbridge.lab.cmdlets.renewal_runner`.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import math
import re
import threading
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poshbridge.lab.engine.objects import TaskState, cim_instance
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.host import TwinHost

MODULE = "ScheduledTasks"
NS = "http://schemas.microsoft.com/windows/2004/02/mit/task"
NEVER_RAN = 267011  # SCHED_S_TASK_HAS_NOT_RUN
RUNNING = 267009  # SCHED_S_TASK_RUNNING
NEVER_TIME = datetime.datetime(1999, 11, 30, tzinfo=datetime.timezone.utc)
_CIM_EXCEPTION = "Microsoft.Management.Infrastructure.CimException"

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


# ----- storage -----------------------------------------------------------------------------------------
def _folder(host: TwinHost) -> Path:
    return host.root / "tasks"


def normalize_path(path: str | None) -> str:
    text = (path or "\\").replace("/", "\\")
    if not text.startswith("\\"):
        text = "\\" + text
    if not text.endswith("\\"):
        text += "\\"
    return text


def _file(host: TwinHost, path: str, name: str) -> Path:
    key = (normalize_path(path) + name).lower().encode("utf-8").hex()
    return _folder(host) / f"{key}.json"


def load_tasks(host: TwinHost) -> list[dict[str, Any]]:
    folder = _folder(host)
    if not folder.is_dir():
        return []
    tasks = []
    for file in sorted(folder.glob("*.json")):
        try:
            tasks.append(json.loads(file.read_text("utf-8")))
        except ValueError:
            continue
    return sorted(tasks, key=lambda t: (t["path"].lower(), t["name"].lower()))


def save_task(host: TwinHost, task: dict[str, Any]) -> None:
    with host.lock:
        file = _file(host, task["path"], task["name"])
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(task, indent=2), "utf-8")
        tmp.replace(file)


def delete_task(host: TwinHost, task: dict[str, Any]) -> None:
    with host.lock:
        _file(host, task["path"], task["name"]).unlink(missing_ok=True)


def update_task(host: TwinHost, path: str, name: str, **changes: Any) -> dict[str, Any] | None:
    with host.lock:
        file = _file(host, path, name)
        if not file.exists():
            return None
        task = dict(json.loads(file.read_text("utf-8")))
        task.update(changes)
        save_task(host, task)
        return task


# ----- next run time ------------------------------------------------------------------------------------
def _boundary(text: str | None) -> datetime.datetime | None:
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
        start = _boundary(trigger.value("StartBoundary"))
        if start is None:
            continue
        end = _boundary(trigger.value("EndBoundary"))
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


# ----- objects -------------------------------------------------------------------------------------
def task_object(task: dict[str, Any]) -> Any:
    root = parse_task_xml(task["xml"])
    exec_node = root.find("Actions", "Exec")
    actions = (
        [
            cim_instance(
                "MSFT_TaskExecAction",
                [
                    ("Id", None),
                    ("Arguments", exec_node.value("Arguments")),
                    ("Execute", exec_node.value("Command")),
                    ("WorkingDirectory", exec_node.value("WorkingDirectory")),
                    ("PSComputerName", None),
                ],
            )
        ]
        if exec_node is not None
        else []
    )
    principal = root.find("Principals", "Principal")
    principal_obj = cim_instance(
        "MSFT_TaskPrincipal2",
        [
            ("DisplayName", principal.value("DisplayName") if principal else None),
            ("GroupId", principal.value("GroupId") if principal else None),
            ("Id", principal.attrs.get("id") if principal else None),
            ("LogonType", principal.value("LogonType") or "ServiceAccount" if principal else None),
            (
                "RunLevel",
                {"HighestAvailable": "Highest", "LeastPrivilege": "Limited"}.get(
                    principal.value("RunLevel") or "LeastPrivilege", "Limited"
                )
                if principal
                else None,
            ),
            (
                "UserId",
                {"S-1-5-18": "SYSTEM"}.get(principal.value("UserId") or "", principal.value("UserId"))
                if principal
                else None,
            ),
            ("ProcessTokenSidType", "Default"),
            ("RequiredPrivilege", None),
        ],
    )
    triggers_node = root.find("Triggers")
    triggers = [
        cim_instance(
            f"MSFT_Task{'Daily' if t.tag == 'CalendarTrigger' else 'Time'}Trigger",
            [
                ("Enabled", t.value("Enabled") != "false"),
                ("EndBoundary", t.value("EndBoundary")),
                ("ExecutionTimeLimit", t.value("ExecutionTimeLimit")),
                ("Id", t.value("Id")),
                (
                    "Repetition",
                    {
                        "Interval": t.value("Repetition", "Interval"),
                        "Duration": t.value("Repetition", "Duration"),
                        "StopAtDurationEnd": t.value("Repetition", "StopAtDurationEnd") == "true",
                    },
                ),
                ("StartBoundary", t.value("StartBoundary")),
                ("RandomDelay", t.value("RandomDelay")),
                ("DaysInterval", int(t.value("ScheduleByDay", "DaysInterval") or 1)),
            ],
        )
        for t in (triggers_node.children if triggers_node else [])
    ]
    settings = root.find("Settings")
    settings_obj = cim_instance(
        "MSFT_TaskSettings3",
        [(c.tag, c.text.strip()) for c in (settings.children if settings else []) if not c.children],
    )
    state = (
        TaskState.Disabled
        if task.get("state") == "Disabled"
        else (TaskState.Running if task.get("running") else TaskState.Ready)
    )
    return cim_instance(
        "MSFT_ScheduledTask",
        [
            ("Actions", actions),
            ("Author", root.value("RegistrationInfo", "Author")),
            ("Date", root.value("RegistrationInfo", "Date")),
            ("Description", root.value("RegistrationInfo", "Description")),
            ("Documentation", root.value("RegistrationInfo", "Documentation")),
            ("Principal", principal_obj),
            ("SecurityDescriptor", root.value("RegistrationInfo", "SecurityDescriptor")),
            ("Settings", settings_obj),
            ("Source", root.value("RegistrationInfo", "Source")),
            ("State", state),
            ("TaskName", task["name"]),
            ("TaskPath", task["path"]),
            ("Triggers", triggers),
            ("URI", task["path"] + task["name"]),
            ("Version", root.value("RegistrationInfo", "Version")),
        ],
    )


def info_object(ctx: Invocation, task: dict[str, Any]) -> Any:
    root = parse_task_xml(task["xml"])
    now = datetime.datetime.fromtimestamp(ctx.host.clock(), datetime.timezone.utc)
    settings_enabled = root.value("Settings", "Enabled") != "false"
    next_run = next_run_time(root, now) if task.get("state") != "Disabled" and settings_enabled else None
    last_run = _boundary(task.get("last_run_time")) or NEVER_TIME
    result = RUNNING if task.get("running") else int(task.get("last_result", NEVER_RAN))
    return cim_instance(
        "MSFT_TaskDynamicInfo",
        [
            ("LastRunTime", _local(last_run)),
            ("LastTaskResult", result),
            ("NextRunTime", _local(next_run) if next_run else None),
            ("NumberOfMissedRuns", 0),
            ("TaskName", task["name"]),
            ("TaskPath", task["path"]),
        ],
    )


def _local(value: datetime.datetime) -> datetime.datetime:
    return value.astimezone(datetime.timezone(datetime.timedelta(0), "Local"))


# ----- cmdlets -------------------------------------------------------------------------------------
def _cim_error(
    ctx: Invocation, message: str, hresult: int, category: str = "NotSpecified", target: Any = None
) -> None:
    ctx.error(
        error_record(
            message, f"HRESULT 0x{hresult:08x}", category, exception_type=_CIM_EXCEPTION, target=target
        )
    )


def find_tasks(
    ctx: Invocation, names: list[str] | None, paths: list[str] | None, report_missing: bool = True
) -> list[dict[str, Any]]:
    tasks = load_tasks(ctx.host)
    if paths:
        tasks = [
            t
            for t in tasks
            if any(
                fnmatch.fnmatchcase(t["path"].lower(), normalize_path(p).lower())
                or fnmatch.fnmatchcase(t["path"].lower(), p.lower())
                for p in paths
            )
        ]
    if not names:
        return tasks
    found: list[dict[str, Any]] = []
    for name in names:
        matches = [t for t in tasks if fnmatch.fnmatchcase(t["name"].lower(), name.lower())]
        if not matches and report_missing:
            ctx.error(
                error_record(
                    f"No MSFT_ScheduledTask objects found with property 'TaskName' equal to '{name}'.  "
                    "Verify the "
                    "value of the property and retry.",
                    "CmdletizationQuery_NotFound_TaskName",
                    "ObjectNotFound",
                    exception_type="Microsoft.PowerShell.Cmdletization.Cim.CimJobException",
                    target=name,
                )
            )
        found.extend(m for m in matches if m not in found)
    return found


_NAME_PARAMS = [
    Param("TaskName", "string[]", position=0, by_property_name=True),
    Param("TaskPath", "string[]", position=1, by_property_name=True),
    Param("CimSession", "object"),
    Param("ThrottleLimit", "int"),
    Param("AsJob", "switch"),
]


@cmdlet(
    "Register-ScheduledTask",
    [
        Param("TaskName", position=0, mandatory=True),
        Param("TaskPath", position=1),
        Param("Xml", mandatory=True, sets=("Xml",)),
        Param("Action", "object[]", sets=("Simple",), mandatory=True),
        Param("Trigger", "object[]", sets=("Simple",)),
        Param("Settings", "object", sets=("Simple",)),
        Param("User"),
        Param("Password"),
        Param("Force", "switch"),
        Param("CimSession", "object"),
        Param("Description", sets=("Simple",)),
        Param("RunLevel", sets=("Simple",)),
    ],
    module=MODULE,
    default_set="Xml",
)
def register_scheduled_task(ctx: Invocation) -> None:
    if ctx.has("Action"):
        ctx.throw_script("The poshbridge lab registers tasks from -Xml only.")
    name = str(ctx.get("TaskName"))
    path = normalize_path(ctx.get("TaskPath"))
    text = str(ctx.get("Xml"))
    try:
        root = parse_task_xml(text)
        validate_task(root)
    except TaskXmlError as exc:
        _cim_error(ctx, exc.message, exc.hresult or 0x80041318, "NotSpecified", name)
        return
    existing = next(
        (
            t
            for t in load_tasks(ctx.host)
            if t["name"].lower() == name.lower() and t["path"].lower() == path.lower()
        ),
        None,
    )
    if existing is not None and not ctx.switch("Force"):
        _cim_error(
            ctx, "Cannot create a file when that file already exists.", 0x800700B7, "ResourceExists", name
        )
        return
    now = datetime.datetime.fromtimestamp(ctx.host.clock(), datetime.timezone.utc)
    registered = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    task = {
        "name": name,
        "path": path,
        # the service keeps its own serialization, not the text it was given
        "xml": reserialize(root, path + name, now),
        "user": ctx.get("User"),
        "state": "Ready" if root.value("Settings", "Enabled") != "false" else "Disabled",
        "registered": registered,
        "last_run_time": existing.get("last_run_time") if existing else None,
        "last_result": existing.get("last_result", NEVER_RAN) if existing else NEVER_RAN,
        "running": False,
    }
    save_task(ctx.host, task)
    ctx.output(task_object(task))


@cmdlet(
    "Get-ScheduledTask",
    _NAME_PARAMS,
    module=MODULE,
    output_type="Microsoft.Management.Infrastructure.CimInstance#MSFT_ScheduledTask",
)
def get_scheduled_task(ctx: Invocation) -> None:
    for task in find_tasks(ctx, ctx.get("TaskName"), ctx.get("TaskPath")):
        ctx.output(task_object(task))


@cmdlet(
    "Get-ScheduledTaskInfo",
    [*_NAME_PARAMS, Param("InputObject", "psobject", from_pipeline=True)],
    module=MODULE,
    output_type="Microsoft.Management.Infrastructure.CimInstance#MSFT_TaskDynamicInfo",
)
def get_scheduled_task_info(ctx: Invocation) -> None:
    names, paths = ctx.get("TaskName"), ctx.get("TaskPath")
    if ctx.get("InputObject") is not None:
        from poshbridge.lab.engine.values import get_property

        names = [str(get_property(ctx.get("InputObject"), "TaskName")[1])]
        paths = [str(get_property(ctx.get("InputObject"), "TaskPath")[1])]
    for task in find_tasks(ctx, names, paths):
        ctx.output(info_object(ctx, task))


@cmdlet("Export-ScheduledTask", _NAME_PARAMS, module=MODULE, output_type="System.String")
def export_scheduled_task(ctx: Invocation) -> None:
    for task in find_tasks(ctx, ctx.get("TaskName"), ctx.get("TaskPath")):
        ctx.output(export_xml(task))


def export_xml(task: dict[str, Any]) -> str:
    """What Windows hands back: the task as Task Scheduler re-serializes it (see :func:`reserialize`)."""
    registered = _boundary(task.get("registered")) or NEVER_TIME
    return reserialize(parse_task_xml(task["xml"]), task["path"] + task["name"], registered)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----- re-serialization ---------------------------------------------------------------------------
# Windows does not keep the registered text: the service stores the definition and writes it back from
# its own model (the XML under C:\Windows\System32\Tasks, Export-ScheduledTask, schtasks /query /xml).
# Sources: ../shared/reference/task-scheduler.md §2 (element order as Windows exports it) and §5 (an
# export); MS-TSCH §2.5.1 RegistrationInfo ("If this field is not present, the time/date value used is
# set to the current time/date of when the task is registered"); the schema defaults of
# task-scheduler-msdocs.xsd (settingsType, idleSettingsType, triggerBaseType). What the lab writes:
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


@cmdlet(
    "Start-ScheduledTask",
    [*_NAME_PARAMS, Param("InputObject", "psobject", from_pipeline=True)],
    module=MODULE,
)
def start_scheduled_task(ctx: Invocation) -> None:
    for task in find_tasks(ctx, ctx.get("TaskName"), ctx.get("TaskPath")):
        if task.get("state") == "Disabled":
            _cim_error(ctx, "The task is disabled.", 0x80041326, "NotSpecified", task["name"])
            continue
        if task.get("running"):
            continue  # MultipleInstancesPolicy IgnoreNew
        from poshbridge.lab.cmdlets.renewal_runner import start_task

        start_task(ctx.host, task)


def _set_state(ctx: Invocation, state: str) -> None:
    for task in find_tasks(ctx, ctx.get("TaskName"), ctx.get("TaskPath")):
        updated = update_task(ctx.host, task["path"], task["name"], state=state)
        if updated is not None:
            ctx.output(task_object(updated))


@cmdlet(
    "Enable-ScheduledTask",
    [*_NAME_PARAMS, Param("InputObject", "psobject", from_pipeline=True)],
    module=MODULE,
)
def enable_scheduled_task(ctx: Invocation) -> None:
    _set_state(ctx, "Ready")


@cmdlet(
    "Disable-ScheduledTask",
    [*_NAME_PARAMS, Param("InputObject", "psobject", from_pipeline=True)],
    module=MODULE,
)
def disable_scheduled_task(ctx: Invocation) -> None:
    _set_state(ctx, "Disabled")


@cmdlet(
    "Unregister-ScheduledTask",
    [*_NAME_PARAMS, Param("InputObject", "psobject", from_pipeline=True)],
    module=MODULE,
    should_process=True,
)
def unregister_scheduled_task(ctx: Invocation) -> None:
    for task in find_tasks(ctx, ctx.get("TaskName"), ctx.get("TaskPath")):
        if ctx.flags.confirm is not False:
            ctx.prompt_required(
                "Confirm",
                f"Are you sure you want to perform this action?\r\nPerforming the "
                f'operation "Delete" on target "{task["name"]}".',
            )
        if not ctx.flags.whatif:
            delete_task(ctx.host, task)
