"""The seam between the lab's PSRP front (``lab.psrp``) and its emulated cmdlets (``lab.engine``).

The front turns each CREATE_PIPELINE into ``statements`` (``add_statement`` splits them; each
statement is a pipeline of :class:`CommandCall`) and calls :func:`poshbridge.lab.engine.invoke`
in a worker thread with a :class:`PipelineSink` that forwards to psrpcore's ``ServerPipeline``.

- returning normally  -> PIPELINE_STATE Completed (pypsrp ``had_errors`` False)
- raising :class:`TerminatingError` -> what PowerShell does with an exception that ends a statement.
  In a batch (several statements, pypsrp ``add_statement``) only an ActionPreferenceStopException
  (``action_preference_stop``: a non-terminating error or warning of a command run with
  ``-ErrorAction``/``-WarningAction Stop``) stops the batch: PIPELINE_STATE Failed with that ErrorRecord.
  Any other terminating error (``throw``, ``$PSCmdlet.ThrowTerminatingError``, a binding error, an
  unknown command) goes to the error stream and the next statement runs; the state ends Completed.
  PowerShell engine/hostifaces/PowerShell.cs, ``BatchInvocationCallback`` / ``BatchInvocationWorkItem``
  (``catch (ActionPreferenceStopException)`` sets ``_stopBatchExecution``; ``catch (Exception)`` calls
  ``AppendExceptionToErrorStream`` and lets the batch continue). One statement alone: Failed.
- ``sink.error(record)`` -> a non-terminating error (state stays Completed), like ``Write-Error`` or
  Set-IISCertificate's trapped errors.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class LabErrorRecord:
    """What PowerShell puts in an ErrorRecord, in PowerShell's own words."""

    message: str
    fully_qualified_error_id: str  # e.g. "CommandNotFoundException" or "...,Set-IISCertificate"
    category: str = "NotSpecified"  # System.Management.Automation.ErrorCategory member name
    exception_type: str = "System.Management.Automation.RuntimeException"
    command_name: str | None = None  # InvocationInfo.MyCommand / CategoryInfo.Activity
    target_object: Any = None
    reason: str | None = None  # CategoryInfo.Reason; None: short name of exception_type
    exception_data: dict[str, Any] | None = None  # Exception.Data (Posh-ACME: type, status, detail)
    # The .NET type a script sees in $_.Exception.Data: PSCUSTOMOBJECT for Posh-ACME's AcmeException
    # (Private/AcmeException.ps1 `[PSObject]$Data`, filled by Invoke-ACME.ps1 with `$body |
    # ConvertFrom-Json`); None = System.Exception.Data, an IDictionary.
    exception_data_type: str | None = None

    def __str__(self) -> str:
        return self.message


PSCUSTOMOBJECT = "System.Management.Automation.PSCustomObject"
HASHTABLE = "System.Collections.Hashtable"


class TerminatingError(Exception):
    def __init__(self, record: LabErrorRecord, *, action_preference_stop: bool = False) -> None:
        super().__init__(record.message)
        self.record = record
        # True for System.Management.Automation.ActionPreferenceStopException: what MshCommandRuntime
        # (engine/MshCommandRuntime.cs, DoWriteError / DoWriteWarning -> ActionPreferenceStopException)
        # throws when a command writes an error or warning under the preference Stop.
        self.action_preference_stop = action_preference_stop


@dataclass
class CommandCall:
    """One command as the client sent it (``add_cmdlet``/``add_script`` + parameters)."""

    name: str  # cmdlet name, or the script text when is_script
    is_script: bool = False
    parameters: list[tuple[str | None, Any]] = field(default_factory=list)  # None name = positional


class PipelineSink(Protocol):
    def output(self, value: Any) -> None:
        """A primitive (str, int, bool, datetime, bytes, list, dict) or a psrpcore PSObject."""

    def error(self, record: LabErrorRecord) -> None: ...

    def warning(self, message: str) -> None: ...

    def verbose(self, message: str) -> None: ...

    def debug(self, message: str) -> None: ...

    def information(self, message_data: Any, source: str, tags: list[str] | None = None) -> None:
        """Write-Information / Write-Host (Write-Host uses tags ['PSHOST'])."""


@dataclass
class RunspaceState:
    """State that lives as long as one runspace pool (one ``wsmprovhost`` process on Windows)."""

    env: dict[str, str] = field(default_factory=dict)  # process environment ($env:...)
    variables: dict[str, Any] = field(default_factory=dict)
    location: str = "C:\\Users\\certadmin\\Documents"
    user: str = "certadmin"
    cancel: threading.Event = field(default_factory=threading.Event)  # set on Stop (Signal ctrl_c)
