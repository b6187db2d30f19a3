"""Raw pypsrp 0.9.1 (not poshbridge's client) against an in-process lab WinRM listener.

Given a twin host in tmp_path behind a WinRMListener, when an unmodified pypsrp RunspacePool /
PowerShell talks to it over NTLM+encryption (HTTP) or Basic/NTLM (HTTPS with a lab CA), then it sees
what it would see from Windows PowerShell 5.1: objects, streams, ErrorRecords, faults, timeouts.

Commands named ``Lab-Test-*`` are test hooks served by a stand-in; everything else goes to the real
lab engine (``poshbridge.lab.engine.invoke``) when it is importable, else to a minimal stand-in.
"""

from __future__ import annotations

import datetime
import importlib
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from psrpcore.types import PSObject, PSSecureString, add_note_property
from pypsrp.complex_objects import ObjectMeta, PSInvocationState
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

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

USER = "certadmin"
PASSWORD = "Lab-Passw0rd!"
NOT_RECOGNIZED = (
    "The term '{}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
    "Check the spelling of the name, or if a path was included, verify that the path is correct and "
    "try again."
)


class _ProbeSink:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def output(self, value: Any) -> None:
        self.seen.append(("output", value))

    def error(self, record: LabErrorRecord) -> None:
        self.seen.append(("error", record))

    def warning(self, message: str) -> None:
        self.seen.append(("warning", message))

    def verbose(self, message: str) -> None:
        self.seen.append(("verbose", message))

    def debug(self, message: str) -> None:
        self.seen.append(("debug", message))

    def information(self, message_data: Any, source: str, tags: list[str] | None = None) -> None:
        self.seen.append(("information", message_data))


def _real_engine() -> Callable[..., None] | None:
    """The lab engine's invoke, if it is importable and serves Write-Output and Write-Warning."""
    try:
        invoke = importlib.import_module("poshbridge.lab.engine").invoke
        with tempfile.TemporaryDirectory() as folder:
            host = _twin(Path(folder))
            sink = _ProbeSink()
            invoke(
                host,
                RunspaceState(),
                [[CommandCall("Write-Output", parameters=[("InputObject", "p")])]],
                [],
                sink,
            )
            invoke(
                host,
                RunspaceState(),
                [[CommandCall("Write-Warning", parameters=[("Message", "w")])]],
                [],
                sink,
            )
    except Exception:
        return None
    if sink.seen != [("output", "p"), ("warning", "w")]:
        return None
    return cast(Callable[..., None], invoke)


# ----- a tiny LabServices double (transport tests never issue certificates) -------------------------
class _NoServices:
    @property
    def ca_bundle(self) -> Path:
        raise AssertionError("transport tests do not use the lab CA bundle")

    @property
    def pebble_directory(self) -> str:
        raise AssertionError("transport tests do not use Pebble")

    def register_issued(self, cert_pem: bytes) -> None:
        raise AssertionError("transport tests issue no certificates")

    def register_revoked(self, cert_pem: bytes, reason: int) -> None:
        raise AssertionError("transport tests revoke no certificates")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, 0.01))


REAL_ENGINE: Callable[..., None] | None = None  # set below, once _twin exists


# ----- the engine used by these tests ------------------------------------------------------------
@dataclass
class Hooks:
    """What the Lab-Test-* commands saw, and gates they wait on."""

    calls: list[tuple[list[list[CommandCall]], list[Any]]] = field(default_factory=list)
    runspaces: list[RunspaceState] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)


def _params(call: CommandCall) -> dict[str, Any]:
    return {(name or "").lower(): value for name, value in call.parameters}


def _stand_in(call: CommandCall, sink: PipelineSink) -> None:
    params = _params(call)
    name = call.name.lower()
    if call.is_script:
        raise TerminatingError(
            LabErrorRecord("The lab does not interpret script text.", "ScriptNotSupported", "NotImplemented")
        )
    if name == "write-output":
        value = params.get("inputobject", params.get("", None))
        sink.output(value)
    elif name == "write-warning":
        sink.warning(str(params.get("message", params.get(""))))
    else:
        raise TerminatingError(
            LabErrorRecord(
                NOT_RECOGNIZED.format(call.name),
                "CommandNotFoundException",
                category="ObjectNotFound",
                exception_type="System.Management.Automation.CommandNotFoundException",
                target_object=call.name,
            )
        )


def _pa_certificate(pfx_pass: str) -> PSObject:
    obj = PSObject()
    obj.PSObject.type_names = [
        "PoshACME.PACertificate",
        "System.Management.Automation.PSCustomObject",
        "System.Object",
    ]
    add_note_property(obj, "Subject", "CN=host01.poshbridge.test")
    add_note_property(obj, "Thumbprint", "0123456789ABCDEF0123456789ABCDEF01234567")
    add_note_property(obj, "PfxPass", PSSecureString(pfx_pass))
    return obj


def make_invoke(hooks: Hooks, *, use_real_engine: bool = True) -> Callable[..., None]:
    def invoke(
        host: TwinHost,
        runspace: RunspaceState,
        statements: list[list[CommandCall]],
        input_objects: list[Any],
        sink: PipelineSink,
    ) -> None:
        hooks.calls.append((statements, input_objects))
        hooks.runspaces.append(runspace)
        tests_only = all(c.name.lower().startswith("lab-test-") for s in statements for c in s)
        if not tests_only:
            if use_real_engine and REAL_ENGINE is not None:
                REAL_ENGINE(host, runspace, statements, input_objects, sink)
                return
            for statement in statements:
                for call in statement:
                    _stand_in(call, sink)
            return
        for statement in statements:
            for call in statement:
                params = _params(call)
                name = call.name.lower()
                if name == "lab-test-wait":  # blocks until the test releases it (or Stop)
                    hooks.entered.set()
                    while not hooks.release.wait(0.02):
                        if runspace.cancel.is_set():
                            hooks.cancelled.set()
                            return
                    sink.output("released")
                elif name == "lab-test-throw":
                    raise TerminatingError(
                        LabErrorRecord(
                            "Authorization invalid for host01.poshbridge.test: "
                            "urn:ietf:params:acme:error:unauthorized",
                            "Submit-ChallengeValidation",
                            category="InvalidOperation",
                            exception_type="System.Net.WebException",
                            command_name="New-PACertificate",
                            exception_data={"type": "urn:ietf:params:acme:error:unauthorized", "status": 403},
                        )
                    )
                elif name == "lab-test-writeerror":
                    sink.error(
                        LabErrorRecord(
                            "The binding was not found.",
                            "BindingNotFound,Set-IISCertificate",
                            category="ObjectNotFound",
                            command_name="Set-IISCertificate",
                            target_object="host01.poshbridge.test",
                        )
                    )
                    sink.output("after the error")
                elif name == "lab-test-bug":
                    raise RuntimeError("emulation fell over")
                elif name == "lab-test-streams":
                    sink.verbose("verbose text")
                    sink.debug("debug text")
                    sink.information("information text", "Lab-Test-Streams", ["PSHOST"])
                    sink.warning("warning text")
                elif name == "lab-test-setvar":
                    runspace.variables["marker"] = params.get("value")
                elif name == "lab-test-getvar":
                    sink.output(runspace.variables.get("marker"))
                elif name == "lab-test-secret":
                    secret = params["secret"]
                    assert isinstance(secret, PSSecureString)
                    sink.output(f"length {len(str(secret.decrypt()))}")
                    sink.output(_pa_certificate(str(secret.decrypt())))
                elif name == "lab-test-pfx":
                    sink.output(_pa_certificate("pfx-Pa55"))
                elif name == "lab-test-big":
                    sink.output("x" * int(params["size"]))
                elif name == "lab-test-input":
                    for item in input_objects:
                        sink.output(f"got {item}")
                else:
                    raise AssertionError(f"unknown test hook {call.name}")

    return invoke


# ----- TLS material ------------------------------------------------------------------------------
@dataclass
class TLSFiles:
    ca_file: Path
    context: ssl.SSLContext


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "poshbridge transport test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "server.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return TLSFiles(ca_file=ca_file, context=context)


# ----- the twin and its listeners -------------------------------------------------------------------
@dataclass
class Lab:
    host: TwinHost
    hooks: Hooks
    http: WinRMListener
    https: WinRMListener
    ca_file: Path

    def wsman(
        self, *, tls: bool = False, auth: str = "ntlm", password: str = PASSWORD, **kwargs: Any
    ) -> WSMan:
        listener = self.https if tls else self.http
        options: dict[str, Any] = {"operation_timeout": 5, "read_timeout": 10, "connection_timeout": 5}
        options["cert_validation"] = str(self.ca_file) if tls else False  # pypsrp takes a CA path too
        options.update(kwargs)
        return WSMan(
            "127.0.0.1",
            port=listener.port,
            ssl=tls,
            username=USER,
            password=password,
            auth=auth,
            **options,
        )


def _twin(root: Path) -> TwinHost:
    host = TwinHost(
        name="host01",
        root=root / "hosts" / "host01",
        domains=["host01.poshbridge.test", "www.host01.poshbridge.test"],
        site_name="host01.poshbridge.test",
        winrm_http_port=0,
        winrm_https_port=0,
        site_http_port=0,
        site_https_port=0,
        services=_NoServices(),
    )
    (host.root / "C").mkdir(parents=True)
    return host


REAL_ENGINE = _real_engine()


@pytest.fixture
def lab(tmp_path: Path, tls_files: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    # The NTLM acceptor reads NTLM_USER_FILE; scope it to this test so no other test inherits it.
    monkeypatch.setenv("NTLM_USER_FILE", str(write_ntlm_user_file(tmp_path / "ntlm-users", USER, PASSWORD)))
    host = _twin(tmp_path)
    hooks = Hooks()
    invoke = make_invoke(hooks)
    http = WinRMListener(host, 0, tls=None, username=USER, password=PASSWORD, invoke=invoke)
    https = WinRMListener(host, 0, tls=tls_files.context, username=USER, password=PASSWORD, invoke=invoke)
    http.start()
    https.start()
    try:
        yield Lab(host, hooks, http, https, tls_files.ca_file)
    finally:
        hooks.release.set()
        http.stop()
        https.stop()


def _run(pool: RunspacePool, *commands: tuple[str, dict[str, Any]]) -> PowerShell:
    ps = PowerShell(pool)
    for index, (name, params) in enumerate(commands):
        if index:
            ps.add_statement()
        ps.add_cmdlet(name)
        for key, value in params.items():
            ps.add_parameter(key, value)
    ps.invoke()
    return ps


# ----- pools, cmdlets, streams ---------------------------------------------------------------------
def test_pool_opens_and_closes_over_ntlm_with_message_encryption(lab: Lab) -> None:
    pool = RunspacePool(lab.wsman())
    pool.open()
    assert pool.protocol_version == "2.3"
    assert pool.application_private_data is not None
    table = pool.application_private_data.data["PSVersionTable"]
    assert table["PSVersion"].startswith("5.1.17763.")
    assert table["PSEdition"] == "Desktop"
    assert len(lab.http.shells) == 1
    assert pool.is_alive()
    pool.close()
    assert len(lab.http.shells) == 0
    assert not pool.is_alive()


def test_a_cmdlet_with_parameters_returns_its_output(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Write-Output", {"InputObject": "hello from the twin"}))
    assert ps.output == ["hello from the twin"]
    assert ps.had_errors is False
    assert ps.state == PSInvocationState.COMPLETED


def test_an_unknown_cmdlet_fails_with_powershells_command_not_found_error(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Get-Frobnicator", {}))
    assert ps.had_errors is True  # PowerShell.Invoke of an unknown command fails the pipeline
    error = ps.streams.error[-1]
    assert str(error) == NOT_RECOGNIZED.format("Get-Frobnicator")
    assert error.fq_error == "CommandNotFoundException"
    assert error.message == "ObjectNotFound: (Get-Frobnicator:String) [], CommandNotFoundException"
    assert error.exception is not None
    assert "System.Management.Automation.CommandNotFoundException" in error.exception.types[0]


def test_a_warning_arrives_on_the_warning_stream(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Write-Warning", {"Message": "the order is not due yet"}))
    assert [w.message for w in ps.streams.warning] == ["the order is not due yet"]
    assert ps.had_errors is False


def test_verbose_debug_and_information_streams(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Lab-Test-Streams", {}))
    assert [r.message for r in ps.streams.verbose] == ["verbose text"]
    assert [r.message for r in ps.streams.debug] == ["debug text"]
    assert [r.message_data for r in ps.streams.information] == ["information text"]
    assert ps.streams.information[0].tags == ["PSHOST"]
    assert [r.message for r in ps.streams.warning] == ["warning text"]


def test_basic_over_https_with_the_lab_ca(lab: Lab) -> None:
    with RunspacePool(lab.wsman(tls=True, auth="basic")) as pool:
        ps = _run(pool, ("Write-Output", {"InputObject": "over TLS"}))
    assert ps.output == ["over TLS"]


def test_ntlm_over_https_and_negotiate_with_sealing_over_https(lab: Lab) -> None:
    with RunspacePool(lab.wsman(tls=True, auth="ntlm")) as pool:
        assert _run(pool, ("Write-Output", {"InputObject": "ntlm"})).output == ["ntlm"]
    with RunspacePool(lab.wsman(tls=True, auth="negotiate", encryption="always")) as pool:
        assert _run(pool, ("Write-Output", {"InputObject": "sealed"})).output == ["sealed"]


def test_negotiate_spnego_over_http(lab: Lab) -> None:
    with RunspacePool(lab.wsman(auth="negotiate")) as pool:
        assert _run(pool, ("Write-Output", {"InputObject": "spnego"})).output == ["spnego"]


@pytest.mark.parametrize("tls,auth", [(False, "ntlm"), (True, "ntlm"), (True, "basic")])
def test_a_wrong_password_is_an_authentication_error(lab: Lab, tls: bool, auth: str) -> None:
    with pytest.raises(AuthenticationError):
        RunspacePool(lab.wsman(tls=tls, auth=auth, password="not-the-password")).open()
    assert lab.host.counters.wsman_requests == 0


def test_basic_over_http_is_refused_like_a_default_winrm_service(lab: Lab) -> None:
    with pytest.raises(AuthenticationError):
        RunspacePool(lab.wsman(auth="basic", encryption="never")).open()


def test_unencrypted_ntlm_over_http_is_refused(lab: Lab) -> None:
    with pytest.raises(AuthenticationError):
        RunspacePool(lab.wsman(auth="ntlm", encryption="never")).open()


# ----- errors ------------------------------------------------------------------------------------
def test_a_terminating_error_fails_the_pipeline_with_the_error_record(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Lab-Test-Throw", {}), ("Lab-Test-Streams", {}))
    assert ps.had_errors is True
    assert ps.state == PSInvocationState.FAILED
    error = ps.streams.error[-1]
    assert str(error).startswith("Authorization invalid for host01.poshbridge.test")
    assert error.fq_error == "Submit-ChallengeValidation"
    assert error.reason == "WebException"
    assert error.activity == "New-PACertificate"
    assert error.exception is not None
    assert error.exception.types[0] == "System.Net.WebException"
    data = error.exception.adapted_properties["Data"]
    assert data == {"type": "urn:ietf:params:acme:error:unauthorized", "status": 403}
    # the statements were passed on as two statements; the engine stops at the throw
    statements, _ = lab.hooks.calls[-1]
    assert [[c.name for c in s] for s in statements] == [["Lab-Test-Throw"], ["Lab-Test-Streams"]]


def test_a_non_terminating_error_leaves_had_errors_false(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Lab-Test-WriteError", {}))
    assert ps.had_errors is False
    assert ps.state == PSInvocationState.COMPLETED
    assert ps.output == ["after the error"]
    [error] = ps.streams.error
    assert str(error) == "The binding was not found."
    assert error.fq_error == "BindingNotFound,Set-IISCertificate"
    assert error.message == (
        "ObjectNotFound: (host01.poshbridge.test:String) [Set-IISCertificate], RuntimeException"
    )
    assert error.command_name == "Set-IISCertificate"


def test_a_python_exception_in_the_emulation_is_a_failed_pipeline_not_a_dropped_connection(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = _run(pool, ("Lab-Test-Bug", {}))
        assert ps.had_errors is True
        assert "bug in the lab" in str(ps.streams.error[-1])
        assert "emulation fell over" in str(ps.streams.error[-1])
        # the same pool keeps working
        assert _run(pool, ("Write-Output", {"InputObject": "still here"})).output == ["still here"]


def test_script_text_is_passed_to_the_engine_as_a_script(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = PowerShell(pool)
        ps.add_script("Get-Date | Out-String")
        ps.invoke()
    statements, _ = lab.hooks.calls[-1]
    assert statements[0][0].is_script is True
    assert statements[0][0].name == "Get-Date | Out-String"
    assert ps.had_errors is True
    assert ps.streams.error


# ----- timeouts, stop, input, runspace state -----------------------------------------------------
def test_receive_times_out_with_the_standard_fault_and_pypsrp_polls_again(lab: Lab) -> None:
    lab.http.receive_wait_cap = 0.2
    with RunspacePool(lab.wsman()) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Lab-Test-Wait")
        ps.begin_invoke()
        assert lab.hooks.entered.wait(10)
        ps.poll_invoke()  # the PIPELINE_STATE Running message
        with pytest.raises(WSManFaultError) as fault:
            pool._receive(ps.id)
        assert fault.value.code == 2150858793
        assert "OperationTimeout" in (fault.value.reason or "")
        ps.poll_invoke()  # swallows the timeout fault
        assert ps.state == PSInvocationState.RUNNING
        lab.hooks.release.set()
        assert ps.end_invoke() == ["released"]
    assert ps.state == PSInvocationState.COMPLETED


def test_stop_sets_the_runspace_cancel_event_and_ends_the_pipeline_stopped(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Lab-Test-Wait")
        ps.begin_invoke()
        assert lab.hooks.entered.wait(10)
        ps.stop()
        assert ps.state == PSInvocationState.STOPPED
        assert lab.hooks.cancelled.wait(10)
        ps.close()  # Signal Terminate for a stopped pipeline
        lab.hooks.release.set()
        assert _run(pool, ("Write-Output", {"InputObject": "after stop"})).output == ["after stop"]


def test_pipeline_input_reaches_the_engine(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Lab-Test-Input")
        # pypsrp sends each item of a list as one PIPELINE_INPUT
        assert ps.invoke(input=["a", "b"]) == ["got a", "got b"]  # type: ignore[arg-type]


def test_one_runspace_state_per_pool(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        _run(pool, ("Lab-Test-SetVar", {"Value": "kept"}))
        assert _run(pool, ("Lab-Test-GetVar", {})).output == ["kept"]
        assert lab.hooks.runspaces[-1] is lab.hooks.runspaces[-2]
        pool.reset_runspace_state()
        assert _run(pool, ("Lab-Test-GetVar", {})).output == [None]
    with RunspacePool(lab.wsman()) as other:
        assert _run(other, ("Lab-Test-GetVar", {})).output == [None]


def test_set_max_and_min_runspaces_work_despite_the_ci_case_mismatch(lab: Lab) -> None:
    with RunspacePool(lab.wsman(), max_runspaces=3) as pool:
        pool.max_runspaces = 4
        pool.min_runspaces = 2
        assert pool.max_runspaces == 4
        assert pool.min_runspaces == 2
        assert pool.get_available_runspaces() == 4


def test_a_two_megabyte_string_round_trips(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        [text] = _run(pool, ("Lab-Test-Big", {"Size": 2 * 1024 * 1024})).output
    assert text == "x" * (2 * 1024 * 1024)


# ----- SecureString -------------------------------------------------------------------------------
def test_securestring_round_trip_after_exchange_keys(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        pool.exchange_keys()
        secret = pool.serialize("s3cret-PfxPass", ObjectMeta("SS"))
        ps = PowerShell(pool)
        ps.add_cmdlet("Lab-Test-Secret").add_parameter("Secret", secret)
        length, cert = ps.invoke()
    assert ps.had_errors is False, [str(e) for e in ps.streams.error]
    assert length == "length 14"
    assert cert.types[0] == "PoshACME.PACertificate"
    assert cert.extended_properties["PfxPass"] == "s3cret-PfxPass"


def test_securestring_output_is_null_until_the_client_exchanged_keys(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        [cert] = _run(pool, ("Lab-Test-PFX", {})).output
        assert cert.extended_properties["Thumbprint"] == "0123456789ABCDEF0123456789ABCDEF01234567"
        assert cert.extended_properties["PfxPass"] is None
        pool.exchange_keys()
        [cert] = _run(pool, ("Lab-Test-PFX", {})).output
        assert cert.extended_properties["PfxPass"] == "pfx-Pa55"


# ----- WSMan odds and ends ----------------------------------------------------------------------
def test_unsupported_actions_get_an_action_not_supported_fault(lab: Lab) -> None:
    wsman = lab.wsman()
    with pytest.raises(WSManFaultError) as fault:
        wsman.enumerate("http://schemas.microsoft.com/wbem/wsman/1/windows/shell")
    assert fault.value.code == 2150858753
    assert "not supported" in (fault.value.reason or "")


def test_the_service_config_reports_max_envelope_size(lab: Lab) -> None:
    wsman = lab.wsman()
    wsman.update_max_payload_size()
    assert wsman.max_envelope_size == 500 * 1024


# ----- fault injection and counting ----------------------------------------------------------------
def test_requests_are_counted_per_action(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        _run(pool, ("Write-Output", {"InputObject": 1}))
    counters = lab.host.counters
    assert counters.by_action["Create"] == 1
    assert counters.by_action["Command"] == 1
    assert counters.by_action["Delete"] == 1
    assert counters.by_action["Receive"] >= 2
    assert counters.wsman_requests == sum(counters.by_action.values())
    assert counters.http_requests > counters.wsman_requests  # the NTLM legs
    assert counters.connections >= 1


def test_latency_is_applied_and_requests_are_still_counted(lab: Lab) -> None:
    lab.host.faults.latency_ms = 30
    with RunspacePool(lab.wsman(tls=True, auth="basic")) as pool:
        assert _run(pool, ("Write-Output", {"InputObject": "slow"})).output == ["slow"]
    assert lab.host.counters.by_action["Command"] == 1
    assert lab.host.counters.wsman_requests >= 4


def test_fault_500_answers_the_next_request_with_an_internal_error_fault(lab: Lab) -> None:
    with RunspacePool(lab.wsman()) as pool:
        lab.host.faults.fault_500_next = 1
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", "x")
        with pytest.raises(WSManFaultError) as fault:
            ps.invoke()
        assert isinstance(fault.value, (WSManFaultError, WinRMTransportError))
        assert "Injected fault" in (fault.value.reason or "")
        assert lab.host.faults.fault_500_next == 0
        # the connection and its NTLM sealing survive a fault
        assert _run(pool, ("Write-Output", {"InputObject": "recovered"})).output == ["recovered"]


def test_drop_next_receive_closes_the_connection_and_loses_no_output(lab: Lab) -> None:
    with RunspacePool(lab.wsman(tls=True, auth="basic")) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", "kept")
        lab.host.faults.drop_next_receive = True
        with pytest.raises(requests.exceptions.ConnectionError):
            ps.invoke()
        assert lab.host.faults.drop_next_receive is False
        assert ps.end_invoke() == ["kept"]  # polling again on a new connection finds the output
    assert lab.host.counters.connections >= 2


def test_hang_next_outlasts_a_short_client_read_timeout(lab: Lab) -> None:
    with RunspacePool(lab.wsman(tls=True, auth="basic", read_timeout=1)) as pool:
        lab.http.receive_wait_cap = lab.https.receive_wait_cap = 0.2
        lab.host.faults.hang_next = True
        ps = PowerShell(pool)
        ps.add_cmdlet("Write-Output").add_parameter("InputObject", "x")
        with pytest.raises(requests.exceptions.ReadTimeout):
            ps.invoke()
        assert lab.host.faults.hang_next is False
        assert _run(pool, ("Write-Output", {"InputObject": "after the hang"})).output == ["after the hang"]


@pytest.mark.parametrize("tls,auth", [(False, "ntlm"), (True, "basic")])
def test_auth_fail_refuses_every_authentication(lab: Lab, tls: bool, auth: str) -> None:
    lab.host.faults.auth_fail = True
    with pytest.raises(AuthenticationError):
        RunspacePool(lab.wsman(tls=tls, auth=auth)).open()
    assert lab.host.counters.wsman_requests == 0
    assert lab.host.counters.http_requests >= 1
    lab.host.faults.auth_fail = False
    with RunspacePool(lab.wsman(tls=tls, auth=auth)) as pool:
        assert _run(pool, ("Write-Output", {"InputObject": "ok again"})).output == ["ok again"]


def test_stop_closes_connections_and_aborts_running_pipelines(lab: Lab) -> None:
    pool = RunspacePool(lab.wsman())
    pool.open()
    ps = PowerShell(pool)
    ps.add_cmdlet("Lab-Test-Wait")
    ps.begin_invoke()
    assert lab.hooks.entered.wait(10)
    lab.http.stop()
    assert lab.hooks.cancelled.wait(10)
    assert len(lab.http.shells) == 0
    with pytest.raises(requests.exceptions.ConnectionError):
        ps.poll_invoke()


# ----- Get-Content -Encoding Byte on the wire (issue 8 item 6) --------------------------------------
def test_get_content_bytes_on_the_wire_are_one_by_element_per_byte_without_raw(lab: Lab) -> None:
    (lab.host.root / "C" / "f.bin").write_bytes(bytes(range(256)) * 4)
    with RunspacePool(lab.wsman()) as pool:
        boxed = _run(pool, ("Get-Content", {"LiteralPath": "C:\\f.bin", "Encoding": "Byte", "ReadCount": 0}))
        raw = _run(pool, ("Get-Content", {"LiteralPath": "C:\\f.bin", "Encoding": "Byte", "Raw": True}))
    # 5.1 answers object[] of boxed bytes without -Raw: pypsrp sees a list of ints (one <By> each) ...
    assert len(boxed.output) == 1 and isinstance(boxed.output[0], list)
    assert bytes(boxed.output[0]) == bytes(range(256)) * 4
    # ... and one byte[] (<BA>, base64) with -Raw
    assert raw.output == [bytes(range(256)) * 4]


def test_the_powershell_7_configuration_is_a_core_endpoint(lab: Lab) -> None:
    with RunspacePool(lab.wsman(), configuration_name="PowerShell.7") as pool:
        assert pool.application_private_data is not None
        table = pool.application_private_data.data["PSVersionTable"]
        assert table["PSEdition"] == "Core" and table["PSVersion"].startswith("7.")
        written = _run(
            pool, ("Set-Content", {"LiteralPath": "C:\\ps7.txt", "Value": "é", "Encoding": "UTF8"})
        )
    assert written.had_errors is False
    assert (lab.host.root / "C" / "ps7.txt").read_bytes() == b"\xc3\xa9\r\n"  # UTF-8 without BOM
