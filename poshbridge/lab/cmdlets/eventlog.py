"""The Windows event log, as far as poshbridge uses it: New-EventLog and Write-EventLog (Windows
PowerShell 5.1's Microsoft.PowerShell.Management) and Get-WinEvent (Microsoft.PowerShell.Diagnostics).

State: ``<twin root>/eventlog.json`` = registered sources (source -> log) and the records written,
newest last; a log keeps at most ``MAX_RECORDS`` (Windows' "overwrite events as needed").

Sources of the behaviour:
- Get-WinEvent: github PowerShell/PowerShell, src/Microsoft.PowerShell.Commands.Diagnostics/
  GetEventCommand.cs (``GetWinEventCommand``: parameter sets GetLogSet (default), ListProviderSet,
  GetProviderSet, HashQuerySet; ``MaxEvents`` ValidateRange 1..; newest first unless ``-Oldest``; no
  match -> the non-terminating error ``NoMatchingEventsFound`` "No events were found that match the
  specified selection criteria.", an unknown provider for ``-ListProvider`` -> ``NoMatchingProvidersFound``
  (resources/GetEventResources.txt)). Records are ``System.Diagnostics.Eventing.Reader.EventLogRecord``
  (properties as in .NET's EventRecord), providers ``ProviderMetadata``.
- New-EventLog / Write-EventLog exist in Windows PowerShell 5.1 only (removed in PowerShell 6, so not in
  the PowerShell repository): parameters and messages per Microsoft Learn (New-EventLog: LogName,
  Source, ComputerName, CategoryResourceFile, MessageResourceFile, ParameterResourceFile; Write-EventLog:
  LogName, Source, EntryType, Category, EventId (0-65535), Message, RawData, ComputerName). A classic
  event's level: Error 2, Warning 3, Information 4 (EventLogEntryType mapped as the event log service
  does); its message is the text given (New-EventLog registers EventLogMessages.dll, whose message
  for every id is "%1").
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poshbridge.lab.engine.objects import dotnet_object
from poshbridge.lab.engine.registry import Invocation, Param, cmdlet, error_record
from poshbridge.lab.engine.values import hashtable_get
from poshbridge.lab.host import TwinHost

MANAGEMENT = "Microsoft.PowerShell.Management"
DIAGNOSTICS = "Microsoft.PowerShell.Diagnostics"
MAX_RECORDS = 2000
ENTRY_TYPES = ("Error", "Warning", "Information", "SuccessAudit", "FailureAudit")
_LEVELS = {"Error": 2, "Warning": 3, "Information": 4, "SuccessAudit": 0, "FailureAudit": 0}
_LEVEL_NAMES = {2: "Error", 3: "Warning", 4: "Information", 0: "Information"}
_KEYWORDS = {"SuccessAudit": 0x0020000000000000, "FailureAudit": 0x0010000000000000}
_BUILTIN_LOGS = ("Application", "System", "Security")
RECORD_TYPE = "System.Diagnostics.Eventing.Reader.EventLogRecord"


# ----- state ---------------------------------------------------------------------------------------------
def _file(host: TwinHost) -> Path:
    return host.root / "eventlog.json"


def load(host: TwinHost) -> dict[str, Any]:
    path = _file(host)
    if not path.exists():
        return {"sources": {}, "records": [], "next_id": 1}
    return dict(json.loads(path.read_text("utf-8")))


def save(host: TwinHost, state: dict[str, Any]) -> None:
    path = _file(host)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state), "utf-8")
    tmp.replace(path)


def source_log(state: Mapping[str, Any], source: str) -> str | None:
    return next((log for name, log in state["sources"].items() if name.lower() == source.lower()), None)


def write_event(host: TwinHost, log: str, source: str, event_id: int, entry_type: str, message: str) -> None:
    """What Write-EventLog leaves in the log (also used by the lab's renewal runner)."""
    with host.lock:
        state = load(host)
        when = datetime.datetime.fromtimestamp(host.clock(), datetime.timezone.utc)
        state["records"].append(
            {
                "record_id": state["next_id"],
                "log": log,
                "source": source,
                "event_id": event_id,
                "entry_type": entry_type,
                "message": message,
                "time_created": when.isoformat(),
            }
        )
        state["next_id"] += 1
        in_log = [r for r in state["records"] if r["log"].lower() == log.lower()]
        if len(in_log) > MAX_RECORDS:
            drop = {r["record_id"] for r in in_log[: len(in_log) - MAX_RECORDS]}
            state["records"] = [r for r in state["records"] if r["record_id"] not in drop]
        save(host, state)


# ----- objects -------------------------------------------------------------------------------------------
def event_record(host: TwinHost, record: Mapping[str, Any]) -> Any:
    level = _LEVELS.get(record["entry_type"], 4)
    created = datetime.datetime.fromisoformat(record["time_created"])
    return dotnet_object(
        [RECORD_TYPE, "System.Diagnostics.Eventing.Reader.EventRecord", "System.Object"],
        [
            ("Id", record["event_id"]),
            ("Version", None),
            ("Qualifiers", 0),
            ("Level", level),
            ("Task", 0),
            ("Opcode", None),
            ("Keywords", _KEYWORDS.get(record["entry_type"], 0x0080000000000000)),
            ("RecordId", record["record_id"]),
            ("ProviderName", record["source"]),
            ("ProviderId", None),
            ("LogName", record["log"]),
            ("ProcessId", None),
            ("ThreadId", None),
            ("MachineName", host.name.upper()),
            ("UserId", None),
            ("TimeCreated", created),
            ("ActivityId", None),
            ("RelatedActivityId", None),
            ("ContainerLog", record["log"]),
            ("MatchedQueryIds", []),
            ("Bookmark", None),
            ("LevelDisplayName", _LEVEL_NAMES.get(level, "Information")),
            ("OpcodeDisplayName", None),
            ("TaskDisplayName", "None"),
            ("KeywordsDisplayNames", ["Classic"]),
            ("Properties", [record["message"]]),
        ],
        [("Message", record["message"])],
        to_string=RECORD_TYPE,
    )


def provider_metadata(name: str, log: str) -> Any:
    return dotnet_object(
        ["System.Diagnostics.Eventing.Reader.ProviderMetadata", "System.Object"],
        [
            ("Name", name),
            ("Id", "00000000-0000-0000-0000-000000000000"),
            ("MessageFilePath", "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll"),
            ("ResourceFilePath", None),
            ("ParameterFilePath", None),
            ("HelpLink", None),
            ("DisplayName", None),
            ("LogLinks", [log]),
            ("Levels", []),
            ("Opcodes", []),
            ("Keywords", []),
            ("Tasks", []),
            ("Events", []),
        ],
        to_string="System.Diagnostics.Eventing.Reader.ProviderMetadata",
    )


# ----- cmdlets -------------------------------------------------------------------------------------------
@cmdlet(
    "New-EventLog",
    [
        Param("LogName", position=0, mandatory=True, aliases=("LN",)),
        Param("Source", "string[]", position=1, mandatory=True, aliases=("SRC",)),
        Param("ComputerName", "string[]", aliases=("CN",)),
        Param("CategoryResourceFile", aliases=("CRF",)),
        Param("MessageResourceFile", aliases=("MRF",)),
        Param("ParameterResourceFile", aliases=("PRF",)),
    ],
    module=MANAGEMENT,
    class_name="Microsoft.PowerShell.Commands.NewEventLogCommand",
)
def new_event_log(ctx: Invocation) -> None:
    log = str(ctx.get("LogName"))
    with ctx.host.lock:
        state = load(ctx.host)
        for source in ctx.get("Source") or []:
            if source_log(state, str(source)) is not None:
                ctx.error(
                    error_record(
                        f'The "{source}" source is already registered on the "localhost" computer.',
                        "SourceExistInComp",
                        "InvalidOperation",
                        exception_type="System.InvalidOperationException",
                        target=str(source),
                    )
                )
                continue
            state["sources"][str(source)] = log
        save(ctx.host, state)


@cmdlet(
    "Write-EventLog",
    [
        Param("LogName", position=0, mandatory=True, aliases=("LN",)),
        Param("Source", position=1, mandatory=True, aliases=("SRC",)),
        Param(
            "EntryType",
            "enum:System.Diagnostics.EventLogEntryType",
            position=2,
            choices=ENTRY_TYPES,
            aliases=("ET",),
        ),
        Param("Category", "int", aliases=("Cat",)),
        Param("EventId", "int", position=3, mandatory=True, aliases=("ID", "EID")),
        Param("Message", position=4, mandatory=True, aliases=("MSG",)),
        Param("RawData", "object", aliases=("RD",)),
        Param("ComputerName", aliases=("CN",)),
    ],
    module=MANAGEMENT,
    class_name="Microsoft.PowerShell.Commands.WriteEventLogCommand",
)
def write_event_log(ctx: Invocation) -> None:
    log, source = str(ctx.get("LogName")), str(ctx.get("Source"))
    event_id = int(ctx.get("EventId"))
    if not 0 <= event_id <= 65535:
        ctx.throw(
            error_record(
                f"Cannot validate argument on parameter 'EventId'. The {event_id} argument is outside the "
                "range 0 to 65535. Supply an argument in that range and then try the command again.",
                "ParameterArgumentValidationError",
                "InvalidData",
                exception_type="System.Management.Automation.ParameterBindingValidationException",
            )
        )
    registered = source_log(load(ctx.host), source)
    if registered is None or registered.lower() != log.lower():
        ctx.error(
            error_record(
                f'The source name "{source}" does not exist on computer "localhost".',
                "System.InvalidOperationException",
                "InvalidOperation",
                exception_type="System.InvalidOperationException",
            )
        )
        return
    write_event(ctx.host, registered, source, event_id, str(ctx.get("EntryType") or "Information"),
                str(ctx.get("Message")))  # fmt: skip


def _no_events(ctx: Invocation) -> None:
    ctx.error(
        error_record(
            "No events were found that match the specified selection criteria.",
            "NoMatchingEventsFound",
            "ObjectNotFound",
            exception_type="System.Exception",
        )
    )


@cmdlet(
    "Get-WinEvent",
    [
        Param("LogName", "string[]", position=0, sets=("GetLogSet",)),
        Param("ListProvider", "string[]", position=0, mandatory=True, sets=("ListProviderSet",)),
        Param("ProviderName", "string[]", position=0, mandatory=True, sets=("GetProviderSet",)),
        Param("FilterHashtable", "object[]", position=0, mandatory=True, sets=("HashQuerySet",)),
        Param("MaxEvents", "int", sets=("GetLogSet", "GetProviderSet", "HashQuerySet")),
        Param("Oldest", "switch", sets=("GetLogSet", "GetProviderSet", "HashQuerySet")),
        Param("ComputerName", aliases=("Cn",)),
        Param("Force", "switch"),
    ],
    default_set="GetLogSet",
    output_type=RECORD_TYPE,
    module=DIAGNOSTICS,
    class_name="Microsoft.PowerShell.Commands.GetWinEventCommand",
)
def get_win_event(ctx: Invocation) -> None:
    state = load(ctx.host)
    if ctx.has("ListProvider"):
        for wanted in ctx.get("ListProvider") or []:
            log = source_log(state, str(wanted))
            if log is None:
                ctx.error(
                    error_record(
                        f'There is not an event provider on the localhost computer that matches "{wanted}".',
                        "NoMatchingProvidersFound",
                        "ObjectNotFound",
                        exception_type="System.Exception",
                    )
                )
                continue
            name = next(n for n in state["sources"] if n.lower() == str(wanted).lower())
            ctx.output(provider_metadata(name, log))
        return
    logs: set[str] | None = None
    providers: set[str] | None = None
    ids: set[int] | None = None
    if ctx.has("FilterHashtable"):
        tables = ctx.get("FilterHashtable")
        for table in tables if isinstance(tables, list) else [tables]:
            if not isinstance(table, Mapping):
                continue
            logs = _names(hashtable_get(table, "LogName"), logs)
            providers = _names(hashtable_get(table, "ProviderName"), providers)
            wanted_ids = hashtable_get(table, "Id")
            if wanted_ids is not None:
                ids = {int(i) for i in (wanted_ids if isinstance(wanted_ids, list) else [wanted_ids])}
    elif ctx.has("ProviderName"):
        providers = _names(ctx.get("ProviderName"), None)
    elif ctx.has("LogName"):
        logs = _names(ctx.get("LogName"), None)
    known_logs = {
        *(log.lower() for log in _BUILTIN_LOGS),
        *(log.lower() for log in state["sources"].values()),
    }
    if logs is not None and not logs & known_logs:
        ctx.error(
            error_record(
                f'There is not an event log on the localhost computer that matches "{sorted(logs)[0]}".',
                "NoMatchingLogsFound",
                "ObjectNotFound",
                exception_type="System.Exception",
            )
        )
        return
    records = [
        r
        for r in state["records"]
        if (logs is None or r["log"].lower() in logs)
        and (providers is None or r["source"].lower() in providers)
        and (ids is None or r["event_id"] in ids)
    ]
    if not ctx.switch("Oldest"):
        records.reverse()  # Get-WinEvent reads a log newest first
    limit = ctx.get("MaxEvents")
    if limit is not None:
        records = records[: int(limit)]
    if not records:
        _no_events(ctx)
        return
    for record in records:
        ctx.output(event_record(ctx.host, record))


def _names(value: Any, current: set[str] | None) -> set[str] | None:
    if value is None:
        return current
    names = {str(v).lower() for v in (value if isinstance(value, list) else [value])}
    return names if current is None else current | names
