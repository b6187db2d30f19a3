"""HostSession against the lab's real WinRM listener (WSMan + PSRP + NTLM), with a stand-in engine.

Given a twin's WinRM endpoint whose cmdlets are served by a small stand-in (so these tests do not
depend on the emulated Posh-ACME), when poshbridge's HostSession runs a Batch, then output is split
per statement, records are attributed to their statement, SecureStrings never come back, the
account's private key is dropped, and connection failures are classified.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from psrpcore.types import PSObject, PSSecureString, add_note_property

from poshbridge.inventory.model import HostConfig, WinRMConfig
from poshbridge.lab.auth import write_ntlm_user_file
from poshbridge.lab.engine.contract import (
    CommandCall,
    LabErrorRecord,
    PipelineSink,
    RunspaceState,
    TerminatingError,
)
from poshbridge.lab.host import TwinHost
from poshbridge.lab.server import WinRMListener
from poshbridge.poshacme.model import PAAccount, PACertificate
from poshbridge.poshacme.problems import problem_from_exception_data
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Secret
from poshbridge.remote.session import HostSession, RemoteConnectionError

USER = "certadmin"
PASSWORD = "Sentinel-WinRM-Pw-7731"
PFX_PASSWORD = "Sentinel-Pfx-Pw-4242"
HMAC = "Sentinel-Hmac-9901"


def _obj(types: list[str], **props: Any) -> PSObject:
    obj = PSObject()
    obj.PSObject.type_names = [*types, "System.Management.Automation.PSCustomObject", "System.Object"]
    for key, value in props.items():
        add_note_property(obj, key, value)
    return obj


def _stand_in(
    host: TwinHost,
    runspace: RunspaceState,
    statements: list[list[CommandCall]],
    input_objects: list[Any],
    sink: PipelineSink,
) -> None:
    for statement in statements:
        piped: list[Any] = []
        for call in statement:
            params = {(n or "").lower(): v for n, v in call.parameters}
            name = call.name.lower()
            out: list[Any] = []
            if name == "write-output":
                out.append(params.get("inputobject"))
            elif name == "get-pacertificate":
                out.append(
                    _obj(
                        ["PoshACME.PACertificate"],
                        Subject="CN=host01.poshbridge.test",
                        Thumbprint="0123456789abcdef0123456789abcdef01234567",
                        NotAfter="2025-03-01T10:00:00.1234567+09:00",
                        AllSANs=["host01.poshbridge.test", "www.host01.poshbridge.test"],
                        PfxPass=PSSecureString(PFX_PASSWORD),
                    )
                )
            elif name == "get-paaccount":
                out.append(
                    _obj(
                        ["PoshACME.PAAccount"],
                        id="acct1",
                        status="valid",
                        contact=["mailto:admin@example.jp"],
                        key=_obj(["System.Object"], kty="EC", d="PRIVATE-D-VALUE"),
                    )
                )
            elif name == "echo-secret":  # proves the session revealed the Secret on the wire
                out.append(f"len={len(str(params.get('value')))}")
            elif name == "set-iiscertificate":
                if not piped:
                    raise AssertionError("expected pipeline input")
                sink.warning("binding updated")
                out.append(f"bound {len(piped)}")
            elif name == "echo-error":  # a cmdlet that quotes a bound value everywhere in its record
                value = str(params.get("value"))
                sink.error(
                    LabErrorRecord(
                        f'Cannot process "{value}"',
                        f"Bad{value},Echo-Error",
                        command_name=f"Echo-Error {value}",
                        target_object=value,
                        exception_data={"detail": f"value {value}", "nested": {value: [value]}},
                    )
                )
                sink.warning(f"warning about {value}")
                sink.verbose(f"verbose about {value}")
            elif name == "write-error":
                sink.error(
                    LabErrorRecord(str(params.get("message")), "WriteErrorException", command_name="X")
                )
            elif name == "new-pacertificate":
                raise TerminatingError(
                    LabErrorRecord(
                        "Authorization invalid for host01.poshbridge.test: Non-200 status code from HTTP: "
                        "http://host01.poshbridge.test/.well-known/acme-challenge/abc returned 404",
                        "AcmeException,New-PACertificate",
                        command_name="New-PACertificate",
                        exception_data={"type": "urn:ietf:params:acme:error:unauthorized", "status": 403},
                    )
                )
            else:
                raise TerminatingError(
                    LabErrorRecord(f"not recognized: {call.name}", "CommandNotFoundException")
                )
            piped = out
        for value in piped:
            sink.output(value)


@dataclass
class Endpoint:
    twin: TwinHost
    listener: WinRMListener

    def host(self, **winrm: Any) -> HostConfig:
        options: dict[str, Any] = {
            "transport": "http",
            "port": self.listener.port,
            "auth": "ntlm",
            "username": USER,
            "operation_timeout": 5,
            "read_timeout": 10,
            "connection_timeout": 5,
        }
        options.update(winrm)
        return HostConfig(
            name="host01",
            address="127.0.0.1",
            domains=("host01.poshbridge.test",),
            webroot="C:\\inetpub\\wwwroot",
            winrm=WinRMConfig(**options),
        )


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Endpoint]:
    monkeypatch.setenv("NTLM_USER_FILE", str(write_ntlm_user_file(tmp_path / "ntlm", USER, PASSWORD)))

    class _NoServices:
        ca_bundle = tmp_path
        pebble_directory = ""

        def register_issued(self, cert_pem: bytes) -> None: ...

        def register_revoked(self, cert_pem: bytes, reason: int) -> None: ...

        def sleep(self, seconds: float) -> None: ...

    twin = TwinHost(
        "host01",
        tmp_path / "h",
        ["host01.poshbridge.test"],
        "host01.poshbridge.test",
        0,
        0,
        0,
        0,
        _NoServices(),
    )
    (twin.root / "C").mkdir(parents=True)
    listener = WinRMListener(twin, 0, tls=None, username=USER, password=PASSWORD, invoke=_stand_in)
    listener.start()
    try:
        yield Endpoint(twin, listener)
    finally:
        listener.stop()


def test_statements_are_split_and_pipelines_run_on_the_host(endpoint: Endpoint) -> None:
    batch = Batch()
    batch.add(Cmd.of("Write-Output", InputObject="first"), label="one")
    batch.add(Cmd.of("Get-PACertificate", Name="x"), Cmd.of("Set-IISCertificate", SiteName="s"), label="bind")
    batch.add(Cmd.of("Echo-Secret", Value=Secret(HMAC), Flag=SWITCH), label="secret")
    with HostSession(endpoint.host(), password=Secret(PASSWORD)) as session:
        result = session.run(batch)
    assert [s.label for s in result.statements] == ["one", "bind", "secret"]
    assert result.output("one") == ["first"]
    assert result.output("bind") == ["bound 1"]
    assert result.by_label("bind").warnings == ["binding updated"]  # type: ignore[union-attr]
    assert result.output("secret") == [f"len={len(HMAC)}"]
    assert not result.had_errors and result.failed_statement is None
    assert all(s.ran for s in result.statements)


def test_secure_strings_and_private_keys_never_come_back(endpoint: Endpoint) -> None:
    batch = Batch().add(Cmd.of("Get-PACertificate", Name="x")).add(Cmd.of("Get-PAAccount"))
    with HostSession(endpoint.host(), password=Secret(PASSWORD)) as session:
        result = session.run(batch)
    (cert,) = result.statements[0].output
    assert "PfxPass" not in cert
    assert PFX_PASSWORD not in repr(result)
    assert "PoshACME.PACertificate" in cert["_types"]
    typed = PACertificate.from_obj(cert)
    assert typed.thumbprint == "0123456789ABCDEF0123456789ABCDEF01234567"
    assert typed.not_after is not None and typed.not_after.isoformat() == "2025-03-01T01:00:00.123456+00:00"
    (account,) = result.statements[1].output
    assert "key" not in account and "PRIVATE-D-VALUE" not in repr(result)
    assert PAAccount.from_obj(account).contacts_match(["admin@example.jp"])


def test_errors_are_attributed_and_a_terminating_error_stops_the_batch(endpoint: Endpoint) -> None:
    batch = Batch()
    batch.add(Cmd.of("Write-Output", InputObject="a"), label="a")
    batch.add(Cmd.of("Write-Error", Message="soft failure"), label="soft")
    batch.add(Cmd.of("New-PACertificate", Domain=["host01.poshbridge.test"]), label="issue")
    batch.add(Cmd.of("Write-Output", InputObject="never"), label="after")
    with HostSession(endpoint.host(), password=Secret(PASSWORD)) as session:
        result = session.run(batch)
    assert result.had_errors
    assert result.failed_statement == 2
    soft = result.by_label("soft")
    assert soft is not None and [e.message for e in soft.errors] == ["soft failure"]
    assert not soft.errors[0].terminating
    issue = result.by_label("issue")
    assert issue is not None and len(issue.errors) == 1
    error = issue.errors[0]
    assert error.terminating and error.statement == 2
    after = result.by_label("after")
    assert after is not None and not after.ran and after.output == []
    problem = problem_from_exception_data(error.exception_data, error.message)
    assert problem.fqdn == "host01.poshbridge.test"
    assert problem.type == "unauthorized"
    assert problem.hint is not None and "web.config" in problem.hint


def test_wrong_password_is_an_auth_error_without_the_password(endpoint: Endpoint) -> None:
    wrong = "Wrong-Sentinel-Pw-123"
    with pytest.raises(RemoteConnectionError) as caught, HostSession(endpoint.host(), password=Secret(wrong)):
        pass
    assert caught.value.kind == "auth"
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)


def test_closed_port_is_unreachable(endpoint: Endpoint) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        pytest.raises(RemoteConnectionError) as caught,
        HostSession(endpoint.host(port=port), password=Secret(PASSWORD)),
    ):
        pass
    assert caught.value.kind == "unreachable"
    assert caught.value.host == "host01"


def test_basic_over_http_needs_insecure(endpoint: Endpoint) -> None:
    with (
        pytest.raises(RemoteConnectionError) as caught,
        HostSession(endpoint.host(auth="basic"), password=Secret(PASSWORD)),
    ):
        pass
    assert caught.value.kind == "config" and "--insecure" in str(caught.value)


def test_a_dropped_connection_is_classified(endpoint: Endpoint) -> None:
    with HostSession(endpoint.host(), password=Secret(PASSWORD)) as session:
        endpoint.twin.faults.drop_next_receive = True
        with pytest.raises(RemoteConnectionError) as caught:
            session.run(Batch().add(Cmd.of("Write-Output", InputObject="x")))
    assert caught.value.kind in ("dropped", "auth", "protocol")
    assert caught.value.kind == "dropped"


def test_a_bound_secret_echoed_in_an_error_record_is_scrubbed_everywhere(endpoint: Endpoint) -> None:
    batch = Batch().add(Cmd.of("Echo-Error", Value=Secret(HMAC)), label="echo")
    with HostSession(endpoint.host(), password=Secret(PASSWORD)) as session:
        result = session.run(batch)
    (error,) = result.errors
    assert "Cannot process" in error.message and error.exception_data is not None
    assert result.warnings and result.verbose
    assert HMAC not in repr(result), repr(result)
    assert HMAC not in str(error.to_json()) and HMAC not in str(error.target)


def test_a_missing_ca_bundle_is_a_config_error_naming_the_key(endpoint: Endpoint, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with (
        pytest.raises(RemoteConnectionError) as caught,
        HostSession(endpoint.host(transport="https", verify=str(missing)), password=Secret(PASSWORD)),
    ):
        pass
    assert caught.value.kind == "config"
    assert "winrm.verify" in caught.value.message and str(missing) in caught.value.message


def test_an_unresolvable_password_is_a_config_error(
    endpoint: Endpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from poshbridge.inventory.model import SecretRef

    monkeypatch.delenv("POSHBRIDGE_TEST_UNSET_PW", raising=False)
    host = endpoint.host(password=SecretRef("env", "POSHBRIDGE_TEST_UNSET_PW"))
    with pytest.raises(RemoteConnectionError) as caught, HostSession(host, base_dir=tmp_path):
        pass
    assert caught.value.kind == "config"
    assert "winrm.password" in caught.value.message and "POSHBRIDGE_TEST_UNSET_PW" in caught.value.message
