"""How the lab runs the statements of one invocation: PowerShell's batch rule (issue 8 item 1).

PowerShell engine/hostifaces/PowerShell.cs, BatchInvocationCallback / BatchInvocationWorkItem: only an
ActionPreferenceStopException (a command run with -ErrorAction Stop that writes an error) stops the
batch; any other exception (a Posh-ACME throw / ThrowTerminatingError, a binding error, an unknown
command) is appended to the error stream and the next statement runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_engine_kit import Twin

NO_SERVER = "No ACME server configured. Run Set-PAServer first."


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


def test_a_posh_acme_throw_does_not_stop_the_batch(twin: Twin) -> None:
    result = twin.run(
        ("New-PAAccount", {"Contact": ["a@b.test"], "AcceptTOS": None, "Force": None}),
        ("Write-Output", {"InputObject": "next statement"}),
    )
    assert result.terminating is None
    assert [e.message for e in result.errors] == [NO_SERVER]
    assert result.output == ["next statement"]


def test_an_unknown_command_does_not_stop_the_batch(twin: Twin) -> None:
    result = twin.run(("Get-NoSuchThing", {}), ("Write-Output", {"InputObject": "ran"}))
    assert result.terminating is None and result.output == ["ran"]
    assert result.errors[0].fully_qualified_error_id == "CommandNotFoundException"


def test_error_action_stop_stops_the_batch(twin: Twin) -> None:
    result = twin.run(
        ("Write-Error", {"Message": "soft"}),
        ("Write-Error", {"Message": "hard", "ErrorAction": "Stop"}),
        ("Write-Output", {"InputObject": "not reached"}),
    )
    assert [e.message for e in result.errors] == ["soft"]
    assert result.terminating is not None and result.terminating.message == "hard"
    assert result.output == []


def test_warning_action_stop_stops_the_batch(twin: Twin) -> None:
    result = twin.run(
        ("Write-Warning", {"Message": "careful", "WarningAction": "Stop"}),
        ("Write-Output", {"InputObject": "not reached"}),
    )
    assert result.terminating is not None
    assert result.terminating.exception_type == "System.Management.Automation.ActionPreferenceStopException"
    assert result.output == []


def test_a_single_statement_still_fails_the_invocation(twin: Twin) -> None:
    result = twin.run(("New-PAAccount", {"Contact": ["a@b.test"], "AcceptTOS": None, "Force": None}))
    assert result.terminating is not None and result.terminating.message == NO_SERVER
    assert result.errors == []


def test_posh_acme_reads_before_set_pa_server_throw(twin: Twin) -> None:
    """Issue 8 item 7: Get-PAAccount.ps1's Begin block throws without a server; Get-PAOrder.ps1 and
    Get-PACertificate.ps1 call Get-PAAccount inside their try and re-throw its error."""
    twin.run(("Set-Item", {"Path": "Env:POSHACME_HOME", "Value": "C:\\ProgramData\\poshbridge\\Posh-ACME"}))
    assert twin.run(("Get-PAServer", {})).terminating is None
    for name, params in (
        ("Get-PAAccount", {}),
        ("Get-PAAccount", {"List": None}),
        ("Get-PAOrder", {"List": None}),
        ("Get-PAOrder", {}),
        ("Get-PACertificate", {}),
        ("Set-PAOrder", {"Name": "example.jp"}),
    ):
        record = twin.run((name, params)).terminating
        assert record is not None and record.message == NO_SERVER, name
        assert record.command_name == name


def test_new_pa_account_parameter_sets(twin: Twin) -> None:
    """Posh-ACME New-PAAccount.ps1: -KeyLength only in 'Generate', -KeyFile (mandatory) and
    -OnlyReturnExisting only in 'ImportKey'."""
    both = twin.run(("New-PAAccount", {"KeyFile": "C:\\key.pem", "KeyLength": "2048"})).terminating
    assert both is not None
    assert both.message == "Parameter set cannot be resolved using the specified named parameters."
    only = twin.run(("New-PAAccount", {"OnlyReturnExisting": None})).terminating
    assert only is not None
    assert only.message == (
        "Cannot process command because of one or more missing mandatory parameters: KeyFile."
    )
