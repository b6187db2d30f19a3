"""The lab's runspace pool: what a Windows Server 2019 endpoint announces, and two client quirks.

:func:`application_private_data` is the PSVersionTable a pool sends after it opens (Windows PowerShell 5.1
Desktop, or PowerShell 7 behind the PowerShell.7 configuration). :class:`LabRunspacePool` accepts pypsrp's
``CI`` call id, records whether the client holds the session key (see ``psrp.py`` on SecureString) and
reads CREATE_PIPELINE with ``psrp_create_pipeline`` (the generic reader for any other shape).
"""

from __future__ import annotations

from typing import Any, cast

from psrpcore import (
    CreatePipelineEvent,
    PSRPEvent,
    PublicKeyEvent,
    ServerRunspacePool,
    SetMaxRunspacesEvent,
    SetMinRunspacesEvent,
)
from psrpcore._pipeline import PowerShell
from psrpcore.types import PSRPMessageType, PSVersion, add_note_property

from poshbridge.lab.psrp_create_pipeline import read_create_pipeline

PS_BUILD = "5.1.17763.6054"  # Windows Server 2019, PowerShell 5.1 Desktop
PS7_BUILD = "7.4.6"
CORE = "Core"


def application_private_data(edition: str = "Desktop") -> dict[str, Any]:
    """What a Windows Server 2019 endpoint sends after the pool opens: Windows PowerShell 5.1 Desktop,
    or PowerShell 7 (``PSEdition`` Core) behind the PowerShell.7 configuration."""
    if edition == CORE:
        return {
            "DebugMode": 1,
            "DebugStop": False,
            "DebugBreakpointCount": 0,
            "PSVersionTable": {
                "PSVersion": PSVersion(PS7_BUILD),
                "PSEdition": CORE,
                "GitCommitId": PS7_BUILD,
                "OS": "Microsoft Windows 10.0.17763",
                "Platform": "Win32NT",
                "PSCompatibleVersions": [
                    PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", "5.1", PS7_BUILD)
                ],
                "PSRemotingProtocolVersion": PSVersion("2.3"),
                "SerializationVersion": PSVersion("1.1.0.1"),
                "WSManStackVersion": PSVersion("3.0"),
            },
        }
    return {
        "DebugMode": 1,
        "DebugStop": False,
        "DebugBreakpointCount": 0,
        "PSVersionTable": {
            "PSVersion": PSVersion(PS_BUILD),
            "PSEdition": "Desktop",
            "PSCompatibleVersions": [PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", PS_BUILD)],
            "BuildVersion": PSVersion("10.0.17763.6054"),
            "CLRVersion": PSVersion("4.0.30319.42000"),
            "WSManStackVersion": PSVersion("3.0"),
            "PSRemotingProtocolVersion": PSVersion("2.3"),
            "SerializationVersion": PSVersion("1.1.0.1"),
        },
    }


def _prop_value_any_case(ps_object: Any, name: str) -> Any:
    meta = ps_object.PSObject
    for prop in [*meta.extended_properties, *meta.adapted_properties]:
        if prop.name.lower() == name.lower():
            return prop.get_value(ps_object)
    raise AttributeError(name)


def _fix_ci(event: PSRPEvent[Any, Any]) -> None:
    """pypsrp 0.9.1 names SET_MAX/MIN_RUNSPACES' call id ``CI``; psrpcore reads ``ci``. PowerShell's
    property lookup is case-insensitive, so accept both."""
    ps_object = getattr(event, "_ps_object", None)
    if ps_object is None:
        return
    meta = ps_object.PSObject
    names = [p.name for p in [*meta.extended_properties, *meta.adapted_properties]]
    if "ci" not in names:
        add_note_property(ps_object, "ci", int(_prop_value_any_case(ps_object, "ci")))


class LabRunspacePool(ServerRunspacePool):
    """ServerRunspacePool with the CI/ci fix and a record of whether the client holds the session key."""

    def __init__(self, edition: str = "Desktop") -> None:
        super().__init__(application_private_data=application_private_data(edition))
        self.client_has_session_key = False

    def _process_SetMaxRunspaces(self, event: SetMaxRunspacesEvent) -> None:
        _fix_ci(event)
        super()._process_SetMaxRunspaces(event)

    def _process_SetMinRunspaces(self, event: SetMinRunspacesEvent) -> None:
        _fix_ci(event)
        super()._process_SetMinRunspaces(event)

    def _process_message(self, message: Any) -> PSRPEvent[Any, Any]:
        """CREATE_PIPELINE through the lab's reader (same objects, a fifth of the CPU); the rest, and
        a CREATE_PIPELINE of an unexpected shape, through psrpcore (``psrpcore/_base.py``)."""
        if message.message_type == PSRPMessageType.CreatePipeline:
            pipeline = read_create_pipeline(
                bytes(message.data),
                self._cipher,
                our_capability=self.our_capability,
                their_capability=self.their_capability,
            )
            if pipeline is not None:
                event = _ReadCreatePipelineEvent(
                    message.message_type, cast(Any, None), message.runspace_pool_id, message.pipeline_id
                )
                event.read_pipeline = pipeline
                self._process_CreatePipeline(event)
                return event
        return super()._process_message(message)

    def _process_PublicKey(self, event: PublicKeyEvent) -> None:
        super()._process_PublicKey(event)
        self.client_has_session_key = True


class _ReadCreatePipelineEvent(CreatePipelineEvent):
    """A CreatePipelineEvent whose pipeline the lab's reader built (psrpcore's builds it on each access)."""

    read_pipeline: PowerShell

    @property
    def pipeline(self) -> PowerShell:
        return self.read_pipeline
