"""A lab error as it goes on the wire: :class:`LabErrorRecord` -> psrpcore ``ErrorRecord``.

The exception's .NET type names (with the base classes PowerShell lists in ``PSObject.TypeNames``), the
CategoryInfo text (``Category: (Target:Type) [Activity], Reason``), the InvocationInfo of the cmdlet that
wrote it, and the record the lab sends when its own emulation fails (a lab bug, never a Windows error).
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import (
    CommandTypes,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    InvocationInfo,
    NETException,
    PSNoteProperty,
    PSObject,
)

from poshbridge.lab.engine.contract import PSCUSTOMOBJECT, CommandCall, LabErrorRecord
from poshbridge.lab.engine.objects import custom_object

_EXCEPTION_BASES: dict[str, list[str]] = {
    "System.Management.Automation.RuntimeException": ["System.SystemException"],
    "System.Management.Automation.CommandNotFoundException": [
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ],
    "System.Management.Automation.ParameterBindingException": [
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ],
    "System.Management.Automation.ItemNotFoundException": [
        "System.Management.Automation.SessionStateException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ],
    "System.Management.Automation.PipelineStoppedException": [
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ],
    "Microsoft.PowerShell.Commands.WriteErrorException": ["System.SystemException"],
    "System.ArgumentException": ["System.SystemException"],
    "System.InvalidOperationException": ["System.SystemException"],
    "System.UnauthorizedAccessException": ["System.SystemException"],
    "System.IO.IOException": ["System.SystemException"],
    "System.IO.FileNotFoundException": ["System.IO.IOException", "System.SystemException"],
    "System.IO.DirectoryNotFoundException": ["System.IO.IOException", "System.SystemException"],
    "System.Net.WebException": ["System.InvalidOperationException", "System.SystemException"],
    "System.Xml.XmlException": ["System.SystemException"],
    "System.Management.Automation.MethodInvocationException": [
        "System.Management.Automation.MethodException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ],
}


class _LabCategoryInfo(ErrorCategoryInfo):
    """ErrorCategoryInfo whose text is PowerShell's ``Category: (Target:Type) [Activity], Reason``
    (psrpcore 0.3.1 leaves out the colon after the category)."""

    def __str__(self) -> str:
        return (
            f"{self.Category.name}: ({self.TargetName or ''}:{self.TargetType or ''}) "
            f"[{self.Activity or ''}], {self.Reason or ''}"
        )


class _MyCommand:
    """The bits of a CommandInfo psrpcore serializes into InvocationInfo (CommandInfo_*)."""

    def __init__(self, name: str) -> None:
        self.Name = name
        self.CommandType = CommandTypes.Cmdlet
        self.Definition = name
        self.Visibility = None


def _target_type(target: Any) -> str:
    if target is None:
        return ""
    if isinstance(target, PSObject) and not isinstance(target, (str, int, float, bool)):
        names = target.PSObject.type_names
        return names[0].rsplit(".", 1)[-1] if names else ""
    short_names = {str: "String", bool: "Boolean", int: "Int32", float: "Double"}
    return short_names.get(type(target), type(target).__name__)


def to_error_record(record: LabErrorRecord) -> ErrorRecord:
    """LabErrorRecord -> psrpcore ErrorRecord: FullyQualifiedErrorId, CategoryInfo, Exception of
    ``exception_type`` with ``exception_data`` as the exception's ``Data`` dictionary."""
    as_object = record.exception_data_type == PSCUSTOMOBJECT
    exception = NETException(
        Message=record.message,
        Data=dict(record.exception_data) if record.exception_data and not as_object else None,
        HResult=-2146233087,
    )
    if record.exception_data and as_object:
        # AcmeException.Data is a PSCustomObject (Posh-ACME Private/AcmeException.ps1, Invoke-ACME.ps1):
        # on the wire a property bag (<MS>), not a dictionary (psrpcore types Data as a PSDict)
        props = exception.PSObject.adapted_properties
        index = [p.name for p in props].index("Data")
        props[index] = PSNoteProperty("Data", custom_object(None, dict(record.exception_data)))
    exception_type = record.exception_type or "System.Management.Automation.RuntimeException"
    bases = _EXCEPTION_BASES.get(exception_type, [])
    exception.PSObject.type_names = [exception_type, *bases, "System.Exception", "System.Object"]
    try:
        category = ErrorCategory[record.category]
    except KeyError:
        category = ErrorCategory.NotSpecified
    target = record.target_object
    category_info = _LabCategoryInfo(
        Category=category,
        Activity=record.command_name or "",
        Reason=record.reason or exception_type.rsplit(".", 1)[-1],
        TargetName="" if target is None else str(target),
        TargetType=_target_type(target),
    )
    invocation = None
    if record.command_name:
        invocation = InvocationInfo(
            BoundParameters={},
            CommandOrigin=None,
            ExpectingInput=False,
            HistoryId=1,
            InvocationName=record.command_name,
            Line="",
            MyCommand=_MyCommand(record.command_name),
            OffsetInLine=0,
            PipelineLength=1,
            PipelinePosition=1,
            PositionMessage="",
            ScriptLineNumber=0,
            UnboundArguments=[],
        )
    error = ErrorRecord(
        Exception=exception,
        CategoryInfo=category_info,
        TargetObject=target,
        FullyQualifiedErrorId=record.fully_qualified_error_id,
        InvocationInfo=invocation,
        PipelineIterationInfo=[0, 1] if invocation else None,
    )
    error.serialize_extended_info = invocation is not None
    return error


def lab_bug_record(exc: BaseException, statements: list[list[CommandCall]]) -> ErrorRecord:
    names = ", ".join(c.name if not c.is_script else "<script>" for s in statements for c in s)
    return to_error_record(
        LabErrorRecord(
            message=(
                f"The poshbridge lab failed while running '{names}': {type(exc).__name__}: {exc}. "
                "This is a bug in the lab's emulation, not an error a Windows host would report."
            ),
            fully_qualified_error_id="PoshbridgeLabInternalError",
            category="NotSpecified",
            exception_type="System.InvalidOperationException",
        )
    )
