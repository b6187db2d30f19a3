"""The cmdlet registry and the per-call context (``Invocation``) every emulated cmdlet receives.

A cmdlet is a Python function ``fn(ctx: Invocation) -> None`` registered with :func:`cmdlet`::

    @cmdlet("Get-Thing", params=[Param("Name", position=0, mandatory=True)], output_type="Thing")
    def get_thing(ctx: Invocation) -> None:
        ctx.output(...)

It is called once per pipeline input object (PowerShell's ``process`` block), or once when the
command gets no pipeline input. Streams go through ``ctx`` so that the common parameters
(-ErrorAction, -WarningAction, -Verbose) act the way they do in PowerShell.
"""

from __future__ import annotations

import ntpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from poshbridge.lab.engine.contract import LabErrorRecord, PipelineSink, RunspaceState, TerminatingError
from poshbridge.lab.host import TwinHost

ACTION_PREFERENCES = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")
ACTION_PREFERENCE_TYPE = "System.Management.Automation.ActionPreference"

_DOTNET_TYPES = {
    "string": "System.String",
    "string[]": "System.String[]",
    "int": "System.Int32",
    "uint": "System.UInt32",
    "bool": "System.Boolean",
    "switch": "System.Management.Automation.SwitchParameter",
    "hashtable": "System.Collections.Hashtable",
    "securestring": "System.Security.SecureString",
    "object": "System.Object",
    "object[]": "System.Object[]",
    "psobject": "System.Management.Automation.PSObject",
    "datetime": "System.DateTime",
}


@dataclass(frozen=True)
class Param:
    """One parameter as a cmdlet declares it.

    ``type``: string, string[], int, uint, bool, switch, hashtable, securestring, object, object[],
    psobject, datetime, or ``enum:<.NET type name>`` (then ``choices`` are the enum names).
    ``sets``: parameter set names this parameter belongs to (empty = all sets).
    """

    name: str
    type: str = "string"
    position: int | None = None
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    from_pipeline: bool = False  # ValueFromPipeline
    by_property_name: bool = False  # ValueFromPipelineByPropertyName
    choices: tuple[str, ...] | None = None  # ValidateSet (or enum names)
    sets: tuple[str, ...] = ()
    allow_empty: bool = False  # AllowEmptyString / AllowNull for mandatory parameters

    @property
    def dotnet_type(self) -> str:
        if self.type.startswith("enum:"):
            return self.type[5:]
        return _DOTNET_TYPES.get(self.type, "System.Object")

    @property
    def is_switch(self) -> bool:
        return self.type == "switch"

    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


COMMON_PARAMETERS: tuple[Param, ...] = (
    Param("Verbose", "switch", aliases=("vb",)),
    Param("Debug", "switch", aliases=("db",)),
    Param("ErrorAction", f"enum:{ACTION_PREFERENCE_TYPE}", aliases=("ea",), choices=ACTION_PREFERENCES),
    Param("WarningAction", f"enum:{ACTION_PREFERENCE_TYPE}", aliases=("wa",), choices=ACTION_PREFERENCES),
    Param(
        "InformationAction", f"enum:{ACTION_PREFERENCE_TYPE}", aliases=("infa",), choices=ACTION_PREFERENCES
    ),
    Param("ErrorVariable", aliases=("ev",)),
    Param("WarningVariable", aliases=("wv",)),
    Param("InformationVariable", aliases=("iv",)),
    Param("OutVariable", aliases=("ov",)),
    Param("OutBuffer", "int", aliases=("ob",)),
    Param("PipelineVariable", aliases=("pv",)),
)
SHOULD_PROCESS_PARAMETERS: tuple[Param, ...] = (
    Param("WhatIf", "switch", aliases=("wi",)),
    Param("Confirm", "switch", aliases=("cf",)),
)


@dataclass
class CmdletInfo:
    name: str
    params: list[Param]
    func: Callable[[Invocation], None]
    output_type: str | None = None
    module: str | None = None  # the module that must be installed for the command to exist
    default_set: str | None = None
    should_process: bool = False
    class_name: str | None = None  # compiled cmdlets: FQIDs end with the class name

    @property
    def fqid_suffix(self) -> str:
        return self.class_name or self.name

    def all_params(self) -> list[Param]:
        extra = list(COMMON_PARAMETERS)
        if self.should_process:
            extra.extend(SHOULD_PROCESS_PARAMETERS)
        return [*self.params, *extra]

    def set_names(self) -> set[str]:
        names: set[str] = set()
        for p in self.params:
            names.update(p.sets)
        return names


REGISTRY: dict[str, CmdletInfo] = {}
# Cmdlets that behave differently in PowerShell 7 (a PowerShell.7 endpoint): looked up first there.
CORE_REGISTRY: dict[str, CmdletInfo] = {}
EDITION = "__lab_ps_edition"  # runspace variable: "Desktop" (5.1, default) or "Core" (PowerShell 7)


def cmdlet(
    name: str,
    params: list[Param] | None = None,
    *,
    output_type: str | None = None,
    module: str | None = None,
    default_set: str | None = None,
    should_process: bool = False,
    aliases: tuple[str, ...] = (),
    class_name: str | None = None,
    edition: str = "Desktop",
) -> Callable[[Callable[[Invocation], None]], Callable[[Invocation], None]]:
    """Register ``fn`` as the emulation of the cmdlet ``name``."""

    def register(fn: Callable[[Invocation], None]) -> Callable[[Invocation], None]:
        info = CmdletInfo(
            name=name,
            params=list(params or []),
            func=fn,
            output_type=output_type,
            module=module,
            default_set=default_set,
            should_process=should_process,
            class_name=class_name,
        )
        table = CORE_REGISTRY if edition == "Core" else REGISTRY
        for key in (name, *aliases):
            table[key.lower()] = info
        return fn

    return register


def lookup(name: str, edition: str | None = None) -> CmdletInfo | None:
    text = name.strip()
    if "\\" in text:  # module-qualified: Posh-ACME\Get-PAOrder
        text = text.rsplit("\\", 1)[-1]
    if edition == "Core" and text.lower() in CORE_REGISTRY:
        return CORE_REGISTRY[text.lower()]
    return REGISTRY.get(text.lower())


def error_record(
    message: str,
    error_id: str,
    category: str = "NotSpecified",
    *,
    exception_type: str = "System.Management.Automation.RuntimeException",
    target: Any = None,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> LabErrorRecord:
    """A record whose FullyQualifiedErrorId gets ``,<command>`` appended by :class:`Invocation`."""
    return LabErrorRecord(
        message=message,
        fully_qualified_error_id=error_id,
        category=category,
        exception_type=exception_type,
        target_object=target,
        exception_data=data,
        reason=reason,
    )


@dataclass
class Flags:
    """Common-parameter state, inherited by commands a cmdlet calls internally (like preference variables)."""

    error_action: str = "Continue"
    warning_action: str = "Continue"
    information_action: str = "SilentlyContinue"
    verbose: bool = False
    debug: bool = False
    confirm: bool | None = None
    whatif: bool = False


@dataclass
class Invocation:
    """What an emulated cmdlet sees: its bound parameters, the twin, the runspace and the streams."""

    host: TwinHost
    runspace: RunspaceState
    sink: PipelineSink
    info: CmdletInfo
    args: dict[str, Any]
    flags: Flags
    collect: list[Any] | None = None  # outputs go here when the command is not last in its pipeline
    bound_by_pipeline: set[str] = field(default_factory=set)
    state: dict[str, Any] = field(default_factory=dict)  # kept across the input objects of one call
    _fqid_suffix: bool = True

    @property
    def name(self) -> str:
        return self.info.name

    # ----- parameters -------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return name.lower() in {k.lower() for k in self.args}

    def get(self, name: str, default: Any = None) -> Any:
        for key, value in self.args.items():
            if key.lower() == name.lower():
                return value
        return default

    def switch(self, name: str) -> bool:
        return bool(self.get(name, False))

    # ----- streams ----------------------------------------------------------------------------
    def output(self, value: Any) -> None:
        if self.collect is not None:
            self.collect.append(value)
        else:
            self.sink.output(value)

    def output_many(self, values: list[Any]) -> None:
        for value in values:
            self.output(value)

    def warning(self, message: str) -> None:
        action = self.flags.warning_action
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            # MshCommandRuntime.DoWriteWarning -> ActionPreferenceStopException (stops a batch too)
            raise TerminatingError(
                self._complete(
                    error_record(
                        'The running command stopped because the preference variable "WarningPreference" or '
                        f"common parameter is set to Stop: {message}",
                        "ActionPreferenceStop",
                        "OperationStopped",
                        exception_type="System.Management.Automation.ActionPreferenceStopException",
                    ),
                    False,
                ),
                action_preference_stop=True,
            )
        self.sink.warning(message)

    def verbose(self, message: str) -> None:
        if self.flags.verbose:
            self.sink.verbose(message)

    def debug(self, message: str) -> None:
        if self.flags.debug:
            self.sink.debug(message)

    def information(self, message: Any, tags: list[str] | None = None) -> None:
        self.sink.information(message, self.name, tags)

    def host_write(self, message: str) -> None:
        """Write-Host: an information record tagged PSHOST (always recorded)."""
        self.sink.information(message, self.name, ["PSHOST"])

    def _complete(self, record: LabErrorRecord, suffix: bool) -> LabErrorRecord:
        if record.command_name is None:
            record.command_name = self.name
        if suffix and self._fqid_suffix and "," not in record.fully_qualified_error_id:
            record.fully_qualified_error_id = f"{record.fully_qualified_error_id},{self.info.fqid_suffix}"
        return record

    def error(self, record: LabErrorRecord, *, suffix: bool = True) -> None:
        """A non-terminating error (WriteError): -ErrorAction decides what happens to it."""
        record = self._complete(record, suffix)
        action = self.flags.error_action
        if action in ("SilentlyContinue", "Ignore"):
            return
        if action == "Stop":
            # MshCommandRuntime.DoWriteError: preference Stop -> ActionPreferenceStopException
            raise TerminatingError(record, action_preference_stop=True)
        self.sink.error(record)

    def throw(self, record: LabErrorRecord, *, suffix: bool = True) -> NoReturn:
        """A terminating error (ThrowTerminatingError, or a script's ``throw``)."""
        raise TerminatingError(self._complete(record, suffix))

    def throw_script(
        self,
        message: str,
        *,
        data: dict[str, Any] | None = None,
        data_type: str | None = None,
        exception_type: str = "System.Management.Automation.RuntimeException",
    ) -> NoReturn:
        """PowerShell's ``throw`` inside a module function: the error id is the message, the category
        OperationStopped; a thrown string is also the target object, a thrown exception object has none.

        A thrown string is caught and rethrown with ``$PSCmdlet.ThrowTerminatingError($_)`` (Posh-ACME's
        ``try { throw "..." } catch { $PSCmdlet.ThrowTerminatingError($_) }``): MshCommandRuntime.cs
        ThrowTerminatingError calls ``errorRecord.SetInvocationInfo(MyInvocation)``, and ErrorPackage.cs
        ``FullyQualifiedErrorId`` appends ``,<function name>`` for a script command (GetInvocationTypeName)
        - as a real host shows it (rmbolger/Posh-ACME#322: ``FullyQualifiedErrorId : No ACME account
        configured. Run New-PAAccount or specify an account ID.,Set-PAAccount``). A thrown exception
        object keeps the message alone (not checked against a real host)."""
        thrown_string = exception_type.endswith("RuntimeException") and data is None
        raise TerminatingError(
            LabErrorRecord(
                message=message,
                fully_qualified_error_id=f"{message},{self.info.fqid_suffix}" if thrown_string else message,
                category="OperationStopped",
                exception_type=exception_type,
                command_name=self.name,
                target_object=message
                if exception_type.endswith("RuntimeException") and data is None
                else None,
                exception_data=data,
                exception_data_type=data_type if data is not None else None,
            )
        )

    def prompt_required(self, caption: str, query: str) -> NoReturn:
        """ShouldContinue/ShouldProcess needing an answer: a remote host without UI cannot give one."""
        self.throw(
            error_record(
                "A command that prompts the user failed because the host program or the command type does "
                "not "
                "support user interaction. The host was attempting to request confirmation with the "
                "following "
                f"message: {query}",
                "HostFunctionNotImplemented",
                "NotImplemented",
                exception_type="System.Management.Automation.Host.HostException",
                target=caption,
            )
        )

    def check_cancel(self) -> None:
        if self.runspace.cancel.is_set():
            raise TerminatingError(
                LabErrorRecord(
                    "The pipeline has been stopped.",
                    "PipelineStopped",
                    "OperationStopped",
                    exception_type="System.Management.Automation.PipelineStoppedException",
                )
            )

    def child(self, info: CmdletInfo, args: dict[str, Any]) -> Invocation:
        """Context for a command this cmdlet calls itself (inherits the streams and preferences)."""
        return Invocation(self.host, self.runspace, self.sink, info, args, self.flags, self.collect)

    # ----- paths -----------------------------------------------------------------------------
    def full_path(self, path: str) -> str:
        """A path as PowerShell would resolve it against the current location (C:\\ only in the lab)."""
        text = path.replace("/", "\\")
        if text.lower().startswith("microsoft.powershell.core\\filesystem::"):
            text = text.split("::", 1)[1]  # a provider-qualified path (PSPath of a FileInfo)
        if text.startswith("\\\\"):
            return text  # UNC: left as is, the sandbox refuses it
        drive, rest = ntpath.splitdrive(text)
        if drive:
            if not rest.startswith("\\"):
                rest = "\\" + rest  # C:foo is relative to C:'s current folder; the lab uses the root
            # Windows clamps ".." at the root, so normalising can never leave the drive.
            return ntpath.normpath(drive.upper() + rest)
        if text.startswith("\\"):
            return ntpath.normpath("C:" + text)
        return ntpath.normpath(ntpath.join(self.runspace.location, text))


# ----- the process environment of a runspace ($env:) ------------------------------------------------
_ENV_READY = "__lab_env_ready"


def default_env(host: TwinHost, user: str) -> dict[str, str]:
    """What a wsmprovhost (or a task's powershell.exe) starts with, plus the machine variables."""
    computer = host.name.upper()
    if user.upper() == "SYSTEM":
        profile = "C:\\Windows\\system32\\config\\systemprofile"
        username = computer + "$"
    else:
        profile = f"C:\\Users\\{user}"
        username = user
    env = {
        "ALLUSERSPROFILE": "C:\\ProgramData",
        "APPDATA": f"{profile}\\AppData\\Roaming",
        "COMPUTERNAME": computer,
        "LOCALAPPDATA": f"{profile}\\AppData\\Local",
        "ProgramData": "C:\\ProgramData",
        "ProgramFiles": "C:\\Program Files",
        "PSModulePath": f"{profile}\\Documents\\WindowsPowerShell\\Modules;C:\\Program "
        "Files\\WindowsPowerShell"
        "\\Modules;C:\\Windows\\system32\\WindowsPowerShell\\v1.0\\Modules",
        "SystemDrive": "C:",
        "SystemRoot": "C:\\Windows",
        "TEMP": f"{profile}\\AppData\\Local\\Temp",
        "TMP": f"{profile}\\AppData\\Local\\Temp",
        "USERDOMAIN": "WORKGROUP" if user.upper() == "SYSTEM" else computer,
        "USERNAME": username,
        "USERPROFILE": profile,
        "windir": "C:\\Windows",
    }
    env.update(host.machine_env())
    return env


def ensure_env(host: TwinHost, runspace: RunspaceState) -> None:
    if runspace.variables.get(_ENV_READY):
        return
    seeded = default_env(host, runspace.user)
    seeded.update(runspace.env)  # anything set before the first command wins
    runspace.env.clear()
    runspace.env.update(seeded)
    runspace.variables[_ENV_READY] = True


def env_get(runspace: RunspaceState, name: str) -> str | None:
    for key, value in runspace.env.items():
        if key.lower() == name.lower():
            return value
    return None


def env_set(runspace: RunspaceState, name: str, value: str | None) -> None:
    existing = next((k for k in runspace.env if k.lower() == name.lower()), None)
    if value is None or value == "":  # PowerShell removes a variable set to an empty string
        if existing is not None:
            del runspace.env[existing]
        return
    runspace.env[existing or name] = value
