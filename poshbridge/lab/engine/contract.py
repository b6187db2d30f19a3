"""The seam between the lab's PSRP front (``lab.psrp``) and its emulated cmdlets (``lab.engine``).

The front turns each CREATE_PIPELINE into ``statements`` (``add_statement`` splits them; each
statement is a pipeline of :class:`CommandCall`) and calls :func:`poshbridge.lab.engine.invoke`
in a worker thread with a :class:`PipelineSink` that forwards to psrpcore's ``ServerPipeline``.

- returning normally  -> PIPELINE_STATE Completed (pypsrp ``had_errors`` False)
- raising :class:`TerminatingError` -> PIPELINE_STATE Failed with that ErrorRecord
  (pypsrp ``had_errors`` True; the record is appended to ``streams.error``). Like a script-terminating
  ``throw`` in PowerShell (Posh-ACME throws), the remaining statements do not run.
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

    def __str__(self) -> str:
        return self.message


class TerminatingError(Exception):
    def __init__(self, record: LabErrorRecord) -> None:
        super().__init__(record.message)
        self.record = record


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
