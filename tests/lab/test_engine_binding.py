"""Parameter binding and error records in PowerShell's words (in-process, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from psrpcore.types import PSSecureString
from test_engine_kit import Twin

from poshbridge.lab.engine.objects import custom_object


@pytest.fixture
def twin(tmp_path: Path) -> Twin:
    return Twin(tmp_path)


def test_names_are_case_insensitive_and_unique_prefixes_bind(twin: Twin) -> None:
    result = twin.run(("write-OUTPUT", {"inputob": "hello"}))
    assert result.terminating is None
    assert result.output == ["hello"]


def test_an_unknown_parameter_is_refused_in_powershells_words_and_the_batch_goes_on(twin: Twin) -> None:
    # PowerShell.cs BatchInvocationCallback: a ParameterBindingException is appended to the error
    # stream and the next statement runs; alone, the statement fails the invocation.
    result = twin.run(("Write-Output", {"Colour": "red"}), ("Write-Output", {"InputObject": "reached"}))
    assert result.terminating is None and result.output == ["reached"]
    assert twin.run(("Write-Output", {"Colour": "red"})).terminating == result.errors[0]
    (record,) = result.errors
    assert record.message == "A parameter cannot be found that matches parameter name 'Colour'."
    assert record.fully_qualified_error_id == (
        "NamedParameterNotFound,Microsoft.PowerShell.Commands.WriteOutputCommand"
    )
    assert record.category == "InvalidArgument"
    assert record.exception_type == "System.Management.Automation.ParameterBindingException"


def test_an_ambiguous_prefix_lists_the_candidates(twin: Twin) -> None:
    record = twin.run(("Write-Output", {"InputObject": 1, "Error": "x"})).terminating
    assert record is not None
    assert record.message == (
        "Parameter cannot be processed because the parameter name 'Error' is ambiguous. "
        "Possible matches include: -ErrorAction -ErrorVariable."
    )
    assert record.fully_qualified_error_id.startswith("AmbiguousParameter,")


def test_a_missing_mandatory_parameter_is_named(twin: Twin) -> None:
    record = twin.run(("New-PACertificate", {"Plugin": "WebRoot"})).terminating
    assert record is not None
    assert record.message == (
        "Cannot process command because of one or more missing mandatory parameters: Domain."
    )
    assert record.fully_qualified_error_id == "MissingMandatoryParameter,New-PACertificate"


def test_positional_arguments_bind_by_position_and_extra_ones_are_refused(twin: Twin) -> None:
    assert twin.run(("Test-Path", [(None, "C:\\inetpub")])).output == [True]
    record = twin.run(("Test-Path", [(None, "C:\\inetpub"), (None, "extra")])).terminating
    assert record is not None
    assert record.message == "A positional parameter cannot be found that accepts argument 'extra'."
    assert record.fully_qualified_error_id.startswith("PositionalParameterNotFound,")


def test_aliases_bind_to_their_parameter(twin: Twin) -> None:
    twin.c("C:\\a.txt").write_bytes(b"x\r\n")
    assert twin.run(("Get-Content", {"LP": "C:\\a.txt"})).output == ["x"]
    assert twin.run(("Get-Content", {"PSPath": "C:\\a.txt"})).output == ["x"]


def test_conversion_errors_use_powershells_text(twin: Twin) -> None:
    record = twin.run(("Set-IISCertificate", {"Port": "abc"})).terminating
    assert record is not None
    assert record.message == (
        'Cannot bind parameter \'Port\'. Cannot convert value "abc" to type "System.UInt32". '
        'Error: "Input string was not in a correct format."'
    )
    assert record.fully_qualified_error_id == "CannotConvertArgumentNoMessage,Set-IISCertificate"
    record = twin.run(("Set-IISCertificate", {"PfxPass": "not-secure"})).terminating
    assert record is not None
    assert record.message.endswith('to type "System.Security.SecureString".')
    assert record.fully_qualified_error_id == "CannotConvertArgument,Set-IISCertificate"


def test_enum_values_are_checked(twin: Twin) -> None:
    record = twin.run(("Write-Output", {"InputObject": 1, "ErrorAction": "Sometimes"})).terminating
    assert record is not None
    assert 'to type "System.Management.Automation.ActionPreference"' in record.message
    assert "SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend" in record.message


def test_switches_take_explicit_values(twin: Twin) -> None:
    quiet = twin.run(("Write-Verbose", {"Message": "hidden", "Verbose": False}))
    loud = twin.run(("Write-Verbose", {"Message": "shown", "Verbose": None}))
    assert quiet.verbose == []
    assert loud.verbose == ["shown"]


def test_verbose_records_only_with_verbose(twin: Twin) -> None:
    assert twin.run(("Write-Verbose", {"Message": "x"})).verbose == []


def test_error_action_decides_about_non_terminating_errors(twin: Twin) -> None:
    missing = {"LiteralPath": "C:\\missing.txt"}
    plain = twin.run(("Get-Content", missing), ("Write-Output", {"InputObject": "after"}))
    assert [e.message for e in plain.errors] == [
        "Cannot find path 'C:\\missing.txt' because it does not exist."
    ]
    assert (
        plain.errors[0].fully_qualified_error_id
        == "PathNotFound,Microsoft.PowerShell.Commands.GetContentCommand"
    )
    assert plain.errors[0].category == "ObjectNotFound"
    assert plain.output == ["after"] and plain.terminating is None
    silent = twin.run(("Get-Content", {**missing, "ErrorAction": "SilentlyContinue"}))
    assert silent.errors == [] and silent.terminating is None
    stop = twin.run(("Get-Content", {**missing, "ea": "Stop"}), ("Write-Output", {"InputObject": "after"}))
    assert stop.terminating is not None and stop.terminating.message.startswith("Cannot find path")
    assert stop.output == []


def test_warning_action(twin: Twin) -> None:
    assert twin.run(("Write-Warning", {"Message": "w"})).warnings == ["w"]
    assert twin.run(("Write-Warning", {"Message": "w", "WarningAction": "SilentlyContinue"})).warnings == []
    record = twin.run(("Write-Warning", {"Message": "w", "WarningAction": "Stop"})).terminating
    assert record is not None
    assert record.message == (
        'The running command stopped because the preference variable "WarningPreference" or common parameter '
        "is set to Stop: w"
    )


def test_unknown_commands_and_script_text(twin: Twin) -> None:
    record = twin.run(("Get-Frobnicator", {})).terminating
    assert record is not None
    assert record.fully_qualified_error_id == "CommandNotFoundException"
    assert record.message.startswith("The term 'Get-Frobnicator' is not recognized as the name of a cmdlet")
    scripted = twin.run(("Get-Date | Out-String", {}), script=True).terminating
    assert scripted is not None and scripted.fully_qualified_error_id == "ScriptNotSupported"


def test_pipeline_binds_by_property_name(twin: Twin) -> None:
    twin.c("C:\\logs").mkdir()
    twin.c("C:\\logs\\a.txt").write_bytes(b"alpha\r\n")
    result = twin.run([("Get-ChildItem", {"Path": "C:\\logs"}), ("Get-Content", {})])
    assert result.terminating is None
    assert result.output == ["alpha"]


def test_pipeline_input_that_binds_nowhere_is_a_non_terminating_error(twin: Twin) -> None:
    thing = custom_object("Some.Thing", {"Unrelated": 1})
    result = twin.pipe(("Set-IISCertificate", {"SiteName": "host01.poshbridge.test"}), items=[thing])
    assert result.terminating is None
    assert result.errors[0].fully_qualified_error_id == "InputObjectNotBound,Set-IISCertificate"


def test_secure_string_parameters_accept_secure_strings(twin: Twin) -> None:
    result = twin.run(
        (
            "Set-IISCertificate",
            {"PfxPass": PSSecureString("x"), "CertThumbprint": "00", "SiteName": "host01.poshbridge.test"},
        )
    )
    assert result.terminating is None
    assert "no PfxFile" in result.errors[0].message  # bound; the cmdlet itself then reports the missing PFX


def test_unrecognised_switch_value_and_remaining_arguments(twin: Twin) -> None:
    # New-PAAccount swallows unknown (splatted) parameters through -ExtraParams
    result = twin.run(("New-PAAccount", {"Whatever": "x", "AcceptTOS": None}))
    assert result.terminating is not None
    assert result.terminating.message == "No ACME server configured. Run Set-PAServer first."
