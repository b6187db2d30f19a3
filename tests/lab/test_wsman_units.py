"""Unit tests of the lab's WSMan/PSRP/auth pieces that do not need a socket."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, cast

import pytest
import spnego
from psrpcore import (
    ClientPowerShell,
    ClientRunspacePool,
    CreatePipelineEvent,
    PipelineStateEvent,
    PSRPEvent,
    ServerPipeline,
    SetMaxRunspacesEvent,
)
from psrpcore.types import (
    ErrorCategoryInfo,
    PSInvocationState,
    PSObject,
    PSRPMessageType,
    add_note_property,
)
from pypsrp.encryption import WinRMEncryption
from pypsrp.wsman import WSMan

from poshbridge.lab.auth import (
    ENCRYPTED_CONTENT_TYPE,
    ConnectionAuth,
    ensure_ntlm_user,
    ntlm_user_lines,
    write_ntlm_user_file,
)
from poshbridge.lab.engine.contract import LabErrorRecord
from poshbridge.lab.psrp import LabRunspacePool, split_statements, to_error_record
from poshbridge.lab.wsman import (
    CODE_OPERATION_TIMEOUT,
    build_fault,
    parse_duration,
    parse_request,
    timed_out_fault,
)


def test_durations_in_wsman_headers() -> None:
    assert parse_duration("PT20S", 0) == 20
    assert parse_duration("PT20.500S", 0) == 20.5
    assert parse_duration("PT1M30S", 0) == 90
    assert parse_duration("P0DT1H0M0S", 0) == 3600
    assert parse_duration("garbage", 7.0) == 7.0


def test_the_timeout_fault_is_what_pypsrp_reads_as_operation_timeout() -> None:
    xml = build_fault(timed_out_fault(), "uuid:ABC", machine="host01")
    fault = WSMan._parse_wsman_fault(xml.decode())
    assert fault.code == CODE_OPERATION_TIMEOUT == 2150858793
    assert fault.machine == "host01"
    assert "OperationTimeout" in (fault.reason or "")
    assert b"<s:Value>w:TimedOut</s:Value>" in xml
    assert b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"' in xml
    assert b"<a:RelatesTo>uuid:ABC</a:RelatesTo>" in xml


def test_parse_request_reads_the_headers_pypsrp_sends() -> None:
    envelope = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        b'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
        b"<s:Header>"
        b"<wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>"
        b"<wsman:MaxEnvelopeSize>512000</wsman:MaxEnvelopeSize>"
        b"<wsa:MessageID>uuid:11111111-2222-3333-4444-555555555555</wsa:MessageID>"
        b"<wsman:OperationTimeout>PT20S</wsman:OperationTimeout>"
        b"<wsman:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</wsman:ResourceURI>"
        b'<wsman:SelectorSet><wsman:Selector Name="ShellId">ABC</wsman:Selector></wsman:SelectorSet>'
        b'<wsman:OptionSet><wsman:Option Name="WSMAN_CMDSHELL_OPTION_KEEPALIVE">True</wsman:Option>'
        b"</wsman:OptionSet>"
        b"</s:Header><s:Body><rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>"
        b"</s:Body></s:Envelope>"
    )
    request = parse_request(envelope)
    assert request.short_action == "Receive"
    assert request.message_id == "uuid:11111111-2222-3333-4444-555555555555"
    assert request.max_envelope_size == 512000
    assert request.operation_timeout == 20
    assert request.shell_id == "ABC"
    assert request.options == {"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"}
    assert request.body is not None and request.body.tag.endswith("Receive")


def test_error_records_carry_category_text_exception_type_and_data() -> None:
    record = to_error_record(
        LabErrorRecord(
            message="Order not found",
            fully_qualified_error_id="OrderNotFound,Get-PAOrder",
            category="ObjectNotFound",
            exception_type="System.Management.Automation.ItemNotFoundException",
            command_name="Get-PAOrder",
            target_object="example.jp",
            exception_data={"status": 404},
        )
    )
    assert str(record) == "Order not found"
    assert (
        str(record.CategoryInfo) == "ObjectNotFound: (example.jp:String) [Get-PAOrder], ItemNotFoundException"
    )
    assert isinstance(record.CategoryInfo, ErrorCategoryInfo)
    assert record.Exception.PSObject.type_names[:2] == [
        "System.Management.Automation.ItemNotFoundException",
        "System.Management.Automation.SessionStateException",
    ]
    assert record.Exception.PSObject.type_names[-2:] == ["System.Exception", "System.Object"]
    assert record.Exception.Data == {"status": 404}
    assert record.FullyQualifiedErrorId == "OrderNotFound,Get-PAOrder"


def test_statements_are_split_where_the_client_called_add_statement() -> None:
    client, server = _opened_pair()
    ps = ClientPowerShell(client)
    ps.add_command("Set-Item").add_parameter("Path", "Env:X").add_parameter("Value", "1")
    ps.add_statement()
    ps.add_command("Get-ChildItem").add_command("Select-Object").add_argument("Name")
    ps.add_statement()
    ps.add_script("Get-Date")
    ps.start()
    ServerPipeline(server, ps.pipeline_id)
    [event] = [e for e in _exchange(client, server) if isinstance(e, CreatePipelineEvent)]
    statements = split_statements(event.pipeline.commands)
    assert [[c.name for c in s] for s in statements] == [
        ["Set-Item"],
        ["Get-ChildItem", "Select-Object"],
        ["Get-Date"],
    ]
    assert statements[0][0].parameters == [("Path", "Env:X"), ("Value", "1")]
    assert statements[1][1].parameters == [(None, "Name")]
    assert statements[2][0].is_script is True


# ----- psrpcore's private "fail" -------------------------------------------------------------------
def _exchange(
    source: ClientRunspacePool | LabRunspacePool, target: ClientRunspacePool | LabRunspacePool
) -> list[PSRPEvent[Any, Any]]:
    events: list[PSRPEvent[Any, Any]] = []
    while True:
        payload = source.data_to_send()
        if payload is None:
            break
        target.receive_data(payload)
        while (event := target.next_event()) is not None:
            events.append(event)
    return events


def _opened_pair() -> tuple[ClientRunspacePool, LabRunspacePool]:
    client = ClientRunspacePool()
    server = LabRunspacePool()
    client.open()
    _exchange(client, server)
    _exchange(server, client)
    return client, server


def test_regression_psrpcore_change_state_failed_sends_the_error_record() -> None:
    """psrpcore 0.3.1 has no public way to fail a pipeline; the lab relies on the private
    ``ServerPipeline._change_state(PSInvocationState.Failed, error=...)``. If psrpcore changes it,
    this test says so before pypsrp's had_errors silently stops working."""
    client, server = _opened_pair()
    ps = ClientPowerShell(client)
    ps.add_command("Get-Thing")
    ps.start()
    pipeline = ServerPipeline(server, ps.pipeline_id)
    _exchange(client, server)
    pipeline.start()
    record = to_error_record(LabErrorRecord("it broke", "Broke", exception_type="System.ArgumentException"))
    pipeline._change_state(PSInvocationState.Failed, error=record)
    events = _exchange(server, client)
    states = [e for e in events if isinstance(e, PipelineStateEvent)]
    assert states[-1].state == PSInvocationState.Failed
    assert str(states[-1].reason) == "it broke"
    assert states[-1].reason is not None
    assert states[-1].reason.FullyQualifiedErrorId == "Broke"


def test_set_max_runspaces_with_pypsrps_upper_case_ci_property() -> None:
    """pypsrp 0.9.1 serializes SET_MAX_RUNSPACES' call id as ``CI``; psrpcore reads ``ci``."""
    _, server = _opened_pair()
    message = PSObject()
    add_note_property(message, "MaxRunspaces", 5)
    add_note_property(message, "CI", 7)
    event = cast(
        SetMaxRunspacesEvent,
        PSRPEvent.create(PSRPMessageType.SetMaxRunspaces, message, server.runspace_pool_id, None),
    )
    with pytest.raises(AttributeError):
        _ = event.ci  # what unpatched psrpcore trips over
    server._process_SetMaxRunspaces(event)
    assert event.ci == 7
    server.runspace_availability_response(7, True)
    assert server.max_runspaces == 5


# ----- auth ---------------------------------------------------------------------------------------
def test_ntlm_user_lines_cover_no_domain_the_given_domain_and_dot() -> None:
    assert ntlm_user_lines("certadmin", "pw") == [":certadmin:pw", ".:certadmin:pw"]
    assert ntlm_user_lines("CONTOSO\\certadmin", "pw") == [
        ":certadmin:pw",
        "CONTOSO:certadmin:pw",
        ".:certadmin:pw",
    ]


def test_ensure_ntlm_user_sets_the_env_appends_and_refuses_a_second_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NTLM_USER_FILE", raising=False)
    path = ensure_ntlm_user("certadmin", "pw1", tmp_path / "users")
    assert os.environ["NTLM_USER_FILE"] == str(path)
    assert ensure_ntlm_user("certadmin", "pw1", tmp_path / "other") == path  # idempotent
    ensure_ntlm_user("operator", "pw2", tmp_path / "other")
    assert ":operator:pw2" in path.read_text().splitlines()
    with pytest.raises(ValueError, match="different password"):
        ensure_ntlm_user("certadmin", "pw3", tmp_path / "other")
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def _handshake(auth: ConnectionAuth, client: spnego.ContextProxy) -> None:
    token = client.step() or b""
    while True:
        decision = auth.authenticate("Negotiate " + base64.b64encode(token).decode())
        answer = [v for k, v in decision.headers if k == "WWW-Authenticate" and v.startswith("Negotiate ")]
        if decision.ok:
            if answer:
                client.step(base64.b64decode(answer[0].split(" ", 1)[1]))
            return
        if not answer:  # refused: a bare challenge, no token
            return
        token = client.step(base64.b64decode(answer[0].split(" ", 1)[1])) or b""


def test_message_sealing_round_trips_with_pypsrps_framing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTLM_USER_FILE", str(write_ntlm_user_file(tmp_path / "u", "certadmin", "pw")))
    auth = ConnectionAuth("certadmin", "pw", tls=False)
    client = spnego.client("certadmin", "pw", protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm)
    _handshake(auth, client)
    assert auth.authenticated and auth.principal == "certadmin"
    encryption = WinRMEncryption(client, WinRMEncryption.SPNEGO)
    request = b"<s:Envelope>" + b"x" * 5000 + b"</s:Envelope>"
    content_type, sealed = encryption.wrap_message(request)
    header = f'{content_type};protocol="{WinRMEncryption.SPNEGO}";boundary="Encrypted Boundary"'
    assert auth.unwrap(header, sealed) == request
    response = b"<s:Envelope>ok</s:Envelope>"
    assert encryption.unwrap_message(auth.wrap(response), "Encrypted Boundary") == response
    assert ENCRYPTED_CONTENT_TYPE.startswith("multipart/encrypted;")


def test_a_different_user_with_a_valid_file_entry_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "u"
    write_ntlm_user_file(users, "certadmin", "pw")
    with users.open("a") as handle:
        handle.write(":intruder:pw\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))
    auth = ConnectionAuth("certadmin", "pw", tls=False)
    _handshake(auth, spnego.client("intruder", "pw", protocol="ntlm"))
    assert not auth.authenticated


def test_basic_is_only_accepted_over_tls() -> None:
    header = "Basic " + base64.b64encode(b"certadmin:pw").decode()
    assert ConnectionAuth("certadmin", "pw", tls=True).authenticate(header).ok
    assert not ConnectionAuth("certadmin", "pw", tls=False).authenticate(header).ok
    assert (
        not ConnectionAuth("certadmin", "pw", tls=True)
        .authenticate("Basic " + base64.b64encode(b"certadmin:nope").decode())
        .ok
    )
    challenge = ConnectionAuth("certadmin", "pw", tls=False).authenticate(None).headers
    assert challenge == [("WWW-Authenticate", "Negotiate")]
