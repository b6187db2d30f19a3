"""HostSession against bytes real Windows hosts sent: pypsrp's recorded exchanges, replayed.

The lab twin is written here; these answers were not. Each test opens poshbridge's HostSession (the
real pypsrp RunspacePool, PowerShell, deserializer and poshbridge's own poll_invoke override), with
tests/pypsrp_replay.py's ReplayTransport in place of the HTTP transport, and checks what the session
layer makes of Windows' runspace pool states, objects, streams, error records and had_errors.

The recordings (tests/data/pypsrp_responses/, origin and licence in its README) answer pypsrp's own
test commands, quoted above each scenario; the batch sent here has the same statement layout, and the
replay checks the session sends the same WSMan requests in the same order. Where a recording was a
script, the statement sent here is a cmdlet standing in for it (poshbridge sends cmdlets only): the
answer is what Windows answered to the script.
"""

from __future__ import annotations

from typing import Any

import pytest
from pypsrp.powershell import RunspacePoolState
from pypsrp_replay import ReplayTransport, Scenario

from poshbridge.inventory.model import HostConfig, WinRMConfig
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Secret
from poshbridge.remote.session import BatchResult, HostSession

HOST = HostConfig(
    name="win2016",
    address="replay.invalid",
    domains=("example.jp",),
    webroot="C:\\inetpub\\wwwroot",
    winrm=WinRMConfig(username="vagrant"),
)


def replay(scenario: Scenario, *batches: Batch) -> tuple[list[BatchResult], dict[str, Any]]:
    """Open a HostSession over the recording, run ``batches``, close; every recorded exchange used."""
    transport = ReplayTransport(scenario)
    seen: dict[str, Any] = {}
    with HostSession(HOST, password=Secret("not-sent"), transport=transport, warn=lambda _t: None) as session:
        pool = session._pool
        seen["opened"] = pool.state
        seen["protocol"] = pool.protocol_version
        seen["private_data"] = pool.application_private_data
        results = [session.run(batch) for batch in batches]
    seen["closed"] = pool.state
    seen["transport_closed"] = transport.closed
    transport.assert_finished()
    return results, seen


def statements(*cmds: Cmd) -> Batch:
    batch = Batch()
    for index, cmd in enumerate(cmds):
        batch.add(cmd, label=f"s{index}")
    return batch


# ----- the runspace pool --------------------------------------------------------------------------------
def test_a_pool_opens_on_windows_answers_and_closes_with_a_delete() -> None:
    # recorded: RunspacePool(wsman).open(); .close()  (Windows build 14393, PowerShell 5.1)
    results, seen = replay(Scenario("test_psrp_open_runspace"))
    assert results == []
    assert seen["opened"] == RunspacePoolState.OPENED
    assert seen["protocol"] == "2.3"
    assert seen["private_data"].data["PSVersionTable"]["PSVersion"] == "5.1.14393.2248"
    assert seen["closed"] == RunspacePoolState.CLOSED
    assert seen["transport_closed"]


def test_a_session_that_sends_a_request_windows_was_not_sent_fails_with_the_exchange_number() -> None:
    # the replay itself must be able to fail: a batch where the recording has none (Command vs Delete)
    with pytest.raises(Exception, match=r"exchange 3: HostSession sent Command, pypsrp sent Delete"):
        replay(Scenario("test_psrp_open_runspace", markers=((0,),)), statements(Cmd.of("Get-Date")))


# ----- objects --------------------------------------------------------------------------------------------
def test_objects_of_several_types_become_plain_data_per_statement_and_securestrings_are_dropped() -> None:
    # recorded (one invocation, ten statements): Set-Variable sec_string <SS>; PtrToStringAuto($sec_string);
    # ConvertTo-SecureString abc -AsPlainText -Force; Set-Variable unicode_string; $unicode_string;
    # cmd.exe '/c echo hi'; whoami.exe; Set-Variable integer 123; $integer; Get-Service -Name winrm.
    # Exchanges 3-4 are pypsrp's session key exchange (Send PUBLIC_KEY / ENCRYPTED_SESSION_KEY), made only
    # because pypsrp sent a SecureString; poshbridge never sends one, so they are left out.
    scenario = Scenario("test_psrp_multiple_commands", skip=(3, 4), markers=((0, 0, 1, 2, 2, 3, 4, 5, 5, 6),))
    batch = statements(
        Cmd.of("Set-Variable", Name="sec_string", Value="placeholder"),
        Cmd.of("Get-Variable", Name="sec_string", ValueOnly=SWITCH),
        Cmd.of("ConvertTo-SecureString", String="abc", AsPlainText=SWITCH, Force=SWITCH),
        Cmd.of("Set-Variable", Name="unicode_string", Value="x"),
        Cmd.of("Get-Variable", Name="unicode_string", ValueOnly=SWITCH),
        Cmd.of("cmd.exe"),
        Cmd.of("whoami.exe"),
        Cmd.of("Set-Variable", Name="integer", Value=123),
        Cmd.of("Get-Variable", Name="integer", ValueOnly=SWITCH),
        Cmd.of("Get-Service", Name="winrm"),
    )
    (result,), _ = replay(scenario, batch)
    assert not result.had_errors and result.errors == [] and result.failed_statement is None
    assert all(s.ran for s in result.statements)
    outputs = [s.output for s in result.statements]
    assert outputs[0] == [] and outputs[3] == [] and outputs[7] == []
    assert outputs[1] == ["Hello World"]
    assert outputs[2] == []  # the SecureString Windows sent back: dropped, never decrypted
    assert outputs[4] == ["こんにちは - actual_x000A_string\nnewline: \U00010437"]  # _xHHHH_ escapes decoded
    assert outputs[5] == ['hi"'] and outputs[6] == ["win-nnmu24vvkj0\\vagrant"]
    assert outputs[8] == [123] and isinstance(outputs[8][0], int)
    (service,) = outputs[9]
    assert service["_types"][0] == "System.ServiceProcess.ServiceController" and service["_string"] == "winrm"
    assert service["DisplayName"] == "Windows Remote Management (WS-Management)"
    assert service["Name"] == "winrm" and service["ServiceName"] == "winrm"  # extended + adapted
    assert service["Status"] == "Running" and service["StartType"] == "Automatic"  # enums by name
    assert service["RequiredServices"] == ["RPCSS", "HTTP"]


def test_a_psobject_wrapping_a_base_object_keeps_the_base_objects_properties() -> None:
    # recorded (JEA endpoint): Get-Item -Path WSMan:\localhost\Service\AllowUnencrypted. Windows sends the
    # PSObject (PSPath, ...) around the base object, whose Value/Name are the properties that matter.
    scenario = Scenario("test_psrp_with_jea_configuration", markers=((0,), (0, 1)))
    first = statements(Cmd.of("Get-Item", Path="WSMan:\\localhost\\Service\\AllowUnencrypted"))
    second = statements(
        Cmd.of("Get-Item", Path="C:\\Windows"),
        Cmd.of("Set-Item", Path="WSMan:\\localhost\\Service\\AllowUnencrypted", Value=False),
    )
    (result, _), _ = replay(scenario, first, second)
    (item,) = result.output("s0")
    assert item["Value"] == "true" and item["Name"] == "AllowUnencrypted"
    assert item["PSChildName"] == "AllowUnencrypted" and item["PSIsContainer"] is False
    assert item["_types"][0] == "Microsoft.WSMan.Management.WSManConfigLeafElement"


# ----- records and errors --------------------------------------------------------------------------------
def test_every_stream_is_attributed_and_a_non_terminating_error_leaves_had_errors_false() -> None:
    # recorded: Write-Debug; Write-Verbose; Write-Error 'error stream'; Write-Output; Write-Warning;
    # Write-Information (one script, Preference = Continue). The pipeline Completed: had_errors is false
    # on Windows although an error record was written, so the session must read the error stream too.
    (result,), _ = replay(
        Scenario("test_psrp_stream_output_invocation", markers=((0,),)), statements(Cmd.of("Write-Error"))
    )
    (statement,) = result.statements
    assert statement.ran and statement.output == ["output stream"]
    assert result.had_errors is False and result.failed_statement is None
    (error,) = result.errors
    assert statement.errors == [error] and not statement.ok
    assert error.message == "error stream" and error.terminating is False and error.statement == 0
    assert error.fq_error_id == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert error.category == "NotSpecified (WriteErrorException)" and error.command == "Write-Error"
    assert error.exception_type == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert error.exception_data is None  # Exception.Data was an empty ListDictionaryInternal
    assert statement.warnings == ["warning stream"] and statement.verbose == ["verbose stream"]
    assert statement.information == ["information stream"]


def test_a_terminating_error_fails_the_pipeline_with_its_error_record_in_pipeline_state() -> None:
    # recorded: $ErrorActionPreference = 'Stop'; Write-Output before; Write-Error error; Write-Output after.
    # Windows sends no ERROR_RECORD: the record comes inside the Failed PIPELINE_STATE.
    (result,), _ = replay(
        Scenario("test_psrp_error_failed", markers=((0,),)),
        statements(Cmd.of("Write-Error", Message="error", ErrorAction="Stop")),
    )
    assert result.had_errors is True and result.failed_statement == 0
    assert result.output("s0") == ["before"]
    (error,) = result.errors
    assert error.terminating is True and error.statement == 0 and error.message == "error"
    assert error.command == "Write-Error"
    assert error.fq_error_id == "Microsoft.PowerShell.Commands.WriteErrorException"


def test_after_a_non_terminating_error_the_next_statement_runs_and_its_failure_is_terminating() -> None:
    # recorded (JEA, second invocation on the same pool): Get-Item -Path C:\Windows (no FileSystem
    # provider: a non-terminating error), then a script statement the no-language runspace refuses
    # (ParseException, the pipeline Fails). Windows ran statement 1 after statement 0's error.
    scenario = Scenario("test_psrp_with_jea_configuration", markers=((0,), (0, 1)))
    first = statements(Cmd.of("Get-Item", Path="WSMan:\\localhost\\Service\\AllowUnencrypted"))
    second = statements(
        Cmd.of("Get-Item", Path="C:\\Windows"),
        Cmd.of("Set-Item", Path="WSMan:\\localhost\\Service\\AllowUnencrypted", Value=False),
    )
    (ok, failed), seen = replay(scenario, first, second)
    assert not ok.had_errors and ok.errors == []
    assert failed.had_errors is True and failed.failed_statement == 1
    assert [s.ran for s in failed.statements] == [True, True]
    provider, parse = failed.errors
    assert provider.statement == 0 and provider.terminating is False
    assert provider.message == "Cannot find a provider with the name 'FileSystem'."
    assert provider.fq_error_id == "ProviderNotFound,Microsoft.PowerShell.Commands.GetItemCommand"
    assert (
        provider.category == "ObjectNotFound (ProviderNotFoundException)" and provider.command == "Get-Item"
    )
    assert provider.exception_type == "System.Management.Automation.ProviderNotFoundException"
    assert parse.statement == 1 and parse.terminating is True and parse.fq_error_id == "ScriptsNotAllowed"
    assert parse.exception_type == "System.Management.Automation.ParseException"
    assert parse.message.startswith("The syntax is not supported by this runspace.")
    assert seen["closed"] == RunspacePoolState.CLOSED


def test_receives_that_time_out_on_the_host_are_polled_again() -> None:
    # recorded with a 5 s OperationTimeout: Start-Sleep -Seconds 10; echo hi. Windows answered two
    # Receives with WSManFault 2150858793 (HTTP 500) before the output: poshbridge's poll_invoke polls on.
    (result,), _ = replay(
        Scenario("test_psrp_long_running_cmdlet", markers=((0, 0),)),
        statements(Cmd.of("Start-Sleep", Seconds=10), Cmd.of("Write-Output", InputObject="hi")),
    )
    assert not result.had_errors and result.errors == []
    assert result.output("s0") == [] and result.output("s1") == ["hi"]


# ----- the log (-v) ---------------------------------------------------------------------------------------
def test_the_debug_log_shows_each_cmdlet_sent_masked_and_each_wsman_request_timed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sentinel = "Sentinel-Logged-Secret-2718"
    caplog.set_level("DEBUG", logger="poshbridge")
    replay(
        Scenario("test_psrp_stream_output_invocation", markers=((0,),)),
        statements(Cmd.of("Write-Error", Message=Secret(sentinel))),
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "poshbridge.remote.session"]
    assert "win2016: send [0] s0: Write-Error -Message '********'" in lines, lines
    timed = [line for line in lines if line.startswith("win2016: WSMan ")]
    assert {line.split()[2] for line in timed} >= {"Create", "Command", "Receive", "Delete"}, timed
    assert all(line.endswith(" s") for line in timed)
    assert not any(sentinel in r.getMessage() or sentinel in str(r.args) for r in caplog.records)
