"""ScheduledTasks (CDXML over MSFT_ScheduledTask), emulated on ``<host root>/tasks/*.json``.

Register-ScheduledTask validates the XML the way Task Scheduler does where it matters for poshbridge
(``taskxml.py``): a ``encoding="UTF-8"`` declaration in the -Xml string is refused with Windows' own
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
import threading
from pathlib import Path
from typing import Any

from poshbridge.lab.cmdlets.taskxml import (
    TaskXmlError,
    next_run_time,
    parse_boundary,
    parse_task_xml,
    reserialize,
    validate_task,
)
from poshbridge.lab.engine.objects import TaskState, cim_instance
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.host import TwinHost

MODULE = "ScheduledTasks"
NEVER_RAN = 267011  # SCHED_S_TASK_HAS_NOT_RUN
RUNNING = 267009  # SCHED_S_TASK_RUNNING
NEVER_TIME = datetime.datetime(1999, 11, 30, tzinfo=datetime.timezone.utc)
_CIM_EXCEPTION = "Microsoft.Management.Infrastructure.CimException"


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
    last_run = parse_boundary(task.get("last_run_time")) or NEVER_TIME
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
    registered = parse_boundary(task.get("registered")) or NEVER_TIME
    return reserialize(parse_task_xml(task["xml"]), task["path"] + task["name"], registered)


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
