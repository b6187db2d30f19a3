"""HostSession against the lab's twins: real WSMan + PSRP + NTLM/Negotiate, real emulated cmdlets, Pebble.

Given a lab twin on which ``poshbridge setup`` has created Posh-ACME state (account, order, certificate,
IIS binding), when poshbridge's HostSession runs a Batch, then output is split per statement, pipelines
run on the host, records are attributed to their statement, only an error under -ErrorAction Stop stops
the batch, SecureStrings never come back, the account's private key is dropped, and connection failures are
classified. Only one check still uses a stand-in engine (see the last section) because no real cmdlet
can produce what it needs.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from labkit import LabHandle, bind_certificate, pfx_bytes, self_signed, thumbprint

from poshbridge.inventory.load import load_inventory
from poshbridge.inventory.model import HostConfig, SecretRef, WinRMConfig
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import PAAccount, PACertificate
from poshbridge.poshacme.problems import problem_from_exception_data
from poshbridge.powershell.command import SWITCH, Batch, Cmd, Secret
from poshbridge.remote.control import HostControl
from poshbridge.remote.retry import RetryPolicy
from poshbridge.remote.session import HostSession, RemoteConnectionError

PFX_PASSWORD = "Sentinel-Pfx-Pw-4242"
HMAC = "Sentinel-Hmac-9901"
WRONG_EAB_HMAC = "d3JvbmctaG1hYy1rZXktZm9yLXRoZS1zZXNzaW9uLXRlc3RzLTAwMDAwMDAwMDA"


# ----- real twins ---------------------------------------------------------------------------------------
def host_config(lab: LabHandle, name: str, **winrm: Any) -> HostConfig:
    """The lab inventory's HostConfig for ``name`` (HTTPS + Negotiate + lab CA), WinRM fields overridden."""
    host = load_inventory(lab.inventory).hosts[name]
    return dataclasses.replace(host, winrm=dataclasses.replace(host.winrm, **winrm)) if winrm else host


def open_session(lab: LabHandle, host: HostConfig, **kwargs: Any) -> HostSession:
    return HostSession(host, base_dir=lab.inventory.parent, **kwargs)


def posh_acme_batch(host: HostConfig) -> Batch:
    """A batch whose first statement points Posh-ACME at the home poshbridge uses (as setup does)."""
    return Batch().add(calls.set_poshacme_home(host.acme.poshacme_home), label="home")


@dataclasses.dataclass
class Prepared:
    name: str
    host: HostConfig


@pytest.fixture(scope="module")
def prepared(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prepared]:
    """A twin of this module on which the real ``poshbridge setup`` ran (Posh-ACME state exists)."""
    from poshbridge.cli.main import main

    name = lab.claim("tests/remote/test_session.py: twin with Posh-ACME state")
    try:
        out = io.StringIO()
        with (
            pytest.MonkeyPatch.context() as patch,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            patch.setenv("POSHBRIDGE_STATE_DIR", str(tmp_path_factory.mktemp("session-state")))
            code = main(["-i", str(lab.inventory), "setup", name, "--json"])
        assert code == 0, out.getvalue()[-4000:]
        yield Prepared(name, host_config(lab, name))
    finally:
        lab.release(name)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


# ----- batches on a real twin -----------------------------------------------------------------------------
def test_statements_are_split_and_pipelines_run_on_the_host(lab: LabHandle, prepared: Prepared) -> None:
    host = prepared.host
    twin = lab.twin(prepared.name)
    # the site serves something else, so only the on-host pipeline can bring the Posh-ACME cert back
    other_cert, other_key = self_signed(host.domains[0], list(host.domains))
    other = bind_certificate(twin, pfx_bytes(other_cert, other_key))
    secret_file = "C:\\poshbridge\\session-test-secret.txt"
    batch = posh_acme_batch(host)
    batch.add(Cmd.of("Write-Output", InputObject="first"), label="one")
    batch.add(
        Cmd.of("Get-PACertificate", MainDomain=host.domains[0]),
        Cmd.of("Set-IISCertificate", SiteName=host.iis.site, Port=host.iis.port, Verbose=SWITCH),
        label="bind",
    )
    batch.add(Cmd.of("Get-PACertificate", MainDomain=host.domains[0]), label="cert")
    batch.add(
        Cmd.of("Set-Content", LiteralPath=secret_file, Value=Secret(HMAC), NoNewline=SWITCH), label="secret"
    )
    with open_session(lab, host) as session:
        result = session.run(batch)
    assert [s.label for s in result.statements] == ["home", "one", "bind", "cert", "secret"]
    assert result.output("one") == ["first"]
    assert result.output("bind") == []  # Set-IISCertificate writes no objects
    (cert,) = result.output("cert")
    assert cert["Thumbprint"] != other
    bind = result.by_label("bind")
    assert bind is not None
    assert f"Adding IIS site binding for *:{host.iis.port}:" in bind.verbose, bind
    assert [s.label for s in result.statements if s.verbose] == ["bind"]  # attributed to its statement
    bound = [
        b["certificate_hash"]
        for site in twin.iis().load()["sites"].values()
        for b in site["bindings"]
        if b["protocol"] == "https" and b["binding_information"] == f"*:{host.iis.port}:"
    ]
    assert bound == [cert["Thumbprint"]]  # the PACertificate went down the pipeline on the host
    # the Secret reached the host as its real value, and the switch was bound (-NoNewline)
    assert twin.real_path(secret_file).read_bytes() == HMAC.encode()
    assert result.output("secret") == [] and HMAC not in repr(result)
    assert not result.had_errors and result.failed_statement is None
    assert all(s.ran for s in result.statements)


def test_secure_strings_and_private_keys_never_come_back(lab: LabHandle, prepared: Prepared) -> None:
    host = prepared.host
    twin = lab.twin(prepared.name)
    with open_session(lab, host) as session:  # another pool: nothing below can scrub the sentinel
        set_pass = session.run(
            posh_acme_batch(host).add(
                Cmd.of("Set-PAOrder", MainDomain=host.domains[0], PfxPass=Secret(PFX_PASSWORD))
            )
        )
    assert not set_pass.had_errors and not set_pass.errors, set_pass
    home = twin.real_path(host.acme.poshacme_home)
    (order_file,) = home.rglob("order.json")
    assert json.loads(order_file.read_text("utf-8-sig"))["PfxPassB64U"] == b64url(PFX_PASSWORD)
    (account_file,) = home.rglob("acct.json")
    private_d = json.loads(account_file.read_text("utf-8-sig"))["key"]["d"]
    assert private_d

    batch = posh_acme_batch(host)
    batch.add(Cmd.of("Get-PACertificate", MainDomain=host.domains[0]), label="cert")
    batch.add(Cmd.of("Get-PAAccount"), label="account")
    with open_session(lab, host) as session:
        result = session.run(batch)
    assert not result.errors, result.errors
    (cert,) = result.output("cert")
    assert "PfxPass" not in cert
    assert PFX_PASSWORD not in repr(result)
    assert "PoshACME.PACertificate" in cert["_types"]
    typed = PACertificate.from_obj(cert)
    leaf = x509.load_pem_x509_certificate(twin.real_path(cert["CertFile"]).read_bytes())
    assert typed.thumbprint == thumbprint(leaf)
    assert typed.not_after is not None and typed.not_after == leaf.not_valid_after_utc
    offset = typed.not_after.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    (account,) = result.output("account")
    assert "PoshACME.PAAccount" in account["_types"]
    assert "key" not in account and private_d not in repr(result)
    assert PAAccount.from_obj(account).contacts_match(list(host.acme.contacts))


def test_errors_are_attributed_and_a_terminating_error_stops_the_batch(
    lab: LabHandle, prepared: Prepared
) -> None:
    missing = "C:\\poshbridge\\no-such-file.txt"
    batch = Batch()
    batch.add(Cmd.of("Write-Output", InputObject="a"), label="a")
    batch.add(Cmd.of("Write-Error", Message="soft failure"), label="soft")
    batch.add(Cmd.of("Get-Content", LiteralPath=missing, ErrorAction="Stop"), label="read")
    batch.add(Cmd.of("Write-Output", InputObject="never"), label="after")
    with open_session(lab, prepared.host) as session:
        result = session.run(batch)
    assert result.had_errors
    assert result.failed_statement == 2
    assert result.output("a") == ["a"]
    soft = result.by_label("soft")
    assert soft is not None and [e.message for e in soft.errors] == ["soft failure"]
    assert not soft.errors[0].terminating and soft.errors[0].statement == 1
    read = result.by_label("read")
    assert read is not None and len(read.errors) == 1
    error = read.errors[0]
    assert error.terminating and error.statement == 2
    assert error.command == "Get-Content" and missing in error.message
    assert error.fq_error_id is not None and error.fq_error_id.startswith("PathNotFound,")
    after = result.by_label("after")
    assert after is not None and not after.ran and after.output == []


def test_a_failed_new_account_does_not_stop_new_certificate_in_the_same_batch(
    lab: LabHandle, lab_host: str
) -> None:
    """Issue 8 item 1, the real rule (PowerShell.cs BatchInvocationWorkItem / BatchInvocationCallback):
    New-PAAccount's throw goes to the error stream and New-PACertificate runs with the account that is
    current (here another valid one); only a command run with -ErrorAction Stop that writes an error
    (ActionPreferenceStopException) stops the rest."""
    host = host_config(lab, lab_host)
    home = host.acme.poshacme_home
    prep = Batch()
    prep.add(calls.new_directory(home), label="home")
    prep.add(calls.set_poshacme_home(home), label="env")
    prep.add(calls.set_pa_server(host.acme.directory), label="server")
    prep.add(
        calls.new_pa_account(
            eab_kid=Secret(lab.secret("eab-kid")),
            eab_hmac=Secret(lab.secret("eab-hmac")),
            contacts=["other@poshbridge.test"],
        ),
        label="other",
    )
    batch = posh_acme_batch(host)
    batch.add(
        calls.new_pa_account(
            eab_kid=Secret(lab.secret("eab-kid")), eab_hmac=Secret(WRONG_EAB_HMAC), contacts=["a@b.test"]
        ),
        label="account",
    )
    batch.add(
        calls.new_pa_certificate(list(host.domains), webroot=host.webroot, order_name=host.domains[0]),
        label="issue",
    )
    batch.add(Cmd.of("Get-PAOrder", List=SWITCH), label="orders")
    batch.add(Cmd.of("Get-Item", LiteralPath="C:\\no\\such\\item", ErrorAction="Stop"), label="stop")
    batch.add(Cmd.of("Write-Output", InputObject="never"), label="after")
    with open_session(lab, host) as session:
        assert not session.run(prep).errors
        result = session.run(batch)
    account = result.by_label("account")
    assert account is not None and account.ran and len(account.errors) == 1
    assert not account.errors[0].terminating and account.errors[0].command == "New-PAAccount"
    issue = result.by_label("issue")
    assert issue is not None and issue.ran  # Windows runs it: the client must never send it so
    orders = result.by_label("orders")
    assert orders is not None and orders.ran and len(orders.output) == 1  # made with the other account
    stop = result.by_label("stop")
    assert stop is not None and stop.ran and len(stop.errors) == 1 and stop.errors[0].terminating
    assert result.had_errors and result.failed_statement == 4
    after = result.by_label("after")
    assert after is not None and not after.ran


def test_real_posh_acme_failures_are_classified(lab: LabHandle, lab_host: str) -> None:
    """A fresh twin has no challenge web.config, so Pebble's http-01 validation gets IIS's 404."""
    host = host_config(lab, lab_host)
    server = Batch().add(calls.set_pa_server(host.acme.directory), label="server")
    wrong_eab = Batch().add(
        calls.new_pa_account(
            eab_kid=Secret(lab.secret("eab-kid")), eab_hmac=Secret(WRONG_EAB_HMAC), contacts=["a@b.test"]
        ),
        label="account",
    )
    right_eab = Batch().add(
        calls.new_pa_account(
            eab_kid=Secret(lab.secret("eab-kid")),
            eab_hmac=Secret(lab.secret("eab-hmac")),
            contacts=list(host.acme.contacts),
        ),
        label="account",
    )
    issue = Batch()
    issue.add(Cmd.of("Write-Output", InputObject="a"), label="a")
    issue.add(
        calls.new_pa_certificate(list(host.domains), webroot=host.webroot, order_name=host.domains[0]),
        label="issue",
    )
    issue.add(Cmd.of("Write-Output", InputObject="never"), label="after")  # runs all the same
    with open_session(lab, host) as session:
        assert not session.run(server).had_errors
        refused = session.run(wrong_eab)
        registered = session.run(right_eab)
        result = session.run(issue)

    # the CA's problem document travels in Exception.Data: the type comes from there. A Posh-ACME
    # throw does not fail the invocation: PowerShell.cs BatchInvocationCallback appends it to the
    # error stream (pypsrp's had_errors stays False) - only the error stream tells.
    (eab_error,) = refused.errors
    assert not eab_error.terminating and refused.failed_statement is None and not refused.had_errors
    eab_problem = problem_from_exception_data(eab_error.exception_data, eab_error.message)
    assert eab_problem.type == "unauthorized" and eab_problem.status == 403
    assert WRONG_EAB_HMAC not in repr(refused)
    assert not registered.errors and registered.output("account")[0]["status"] == "valid"

    # New-PACertificate throws; the batch goes on (only ActionPreferenceStopException stops it)
    assert not result.had_errors and result.failed_statement is None
    assert result.output("a") == ["a"]
    issue_result = result.by_label("issue")
    assert issue_result is not None and len(issue_result.errors) == 1
    error = issue_result.errors[0]
    assert not error.terminating and error.statement == 1 and error.command == "New-PACertificate"
    after = result.by_label("after")
    assert after is not None and after.ran and after.output == ["never"]
    problem = problem_from_exception_data(error.exception_data, error.message)
    assert problem.fqdn in host.domains
    # Posh-ACME's `Authorization invalid for <fqdn>: <detail>` throw carries no ACME type
    assert problem.type is None and problem.detail is not None and "404" in problem.detail
    assert problem.hint is not None and "web.config" in problem.hint


# ----- connection failures against real twins -------------------------------------------------------------
def test_wrong_password_is_an_auth_error_without_the_password(lab: LabHandle, prepared: Prepared) -> None:
    wrong = "Wrong-Sentinel-Pw-123"
    with (
        pytest.raises(RemoteConnectionError) as caught,
        open_session(lab, prepared.host, password=Secret(wrong)),
    ):
        pass
    assert caught.value.kind == "auth"
    assert wrong not in str(caught.value) and lab.secret("winrm-password") not in str(caught.value)
    assert caught.value.host == prepared.name


def test_closed_port_is_unreachable(lab: LabHandle, prepared: Prepared) -> None:
    host = host_config(lab, prepared.name, port=closed_port())
    with pytest.raises(RemoteConnectionError) as caught, open_session(lab, host):
        pass
    assert caught.value.kind == "unreachable"
    assert caught.value.host == prepared.name


def test_basic_over_http_needs_insecure(lab: LabHandle, prepared: Prepared) -> None:
    http_port = int(lab.host(prepared.name)["winrm_http_port"])
    host = host_config(lab, prepared.name, transport="http", port=http_port, auth="basic")
    with pytest.raises(RemoteConnectionError) as caught, open_session(lab, host):
        pass
    assert caught.value.kind == "config" and "--insecure" in str(caught.value)


def test_a_dropped_connection_is_classified(lab: LabHandle, lab_host: str) -> None:
    # with retries (the default) a dropped Receive is polled again: tests/remote/test_faults_lab.py
    no_retries = HostControl(policy=RetryPolicy(retries=0))
    try:
        with open_session(lab, host_config(lab, lab_host), control=no_retries) as session:
            lab.faults(lab_host, drop_next_receive=True)
            with pytest.raises(RemoteConnectionError) as caught:
                session.run(Batch().add(Cmd.of("Write-Output", InputObject="x")))
    finally:
        lab.faults(lab_host, drop_next_receive=False)
    assert caught.value.kind == "dropped"
    assert caught.value.host == lab_host


def test_a_missing_ca_bundle_is_a_config_error_naming_the_key(
    lab: LabHandle, prepared: Prepared, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    host = host_config(lab, prepared.name, verify=str(missing))
    with pytest.raises(RemoteConnectionError) as caught, open_session(lab, host):
        pass
    assert caught.value.kind == "config"
    assert "winrm.verify" in caught.value.message and str(missing) in caught.value.message


def test_an_unresolvable_password_is_a_config_error(
    lab: LabHandle, prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSHBRIDGE_TEST_UNSET_PW", raising=False)
    host = host_config(lab, prepared.name, password=SecretRef("env", "POSHBRIDGE_TEST_UNSET_PW"))
    with pytest.raises(RemoteConnectionError) as caught, HostSession(host, base_dir=tmp_path):
        pass
    assert caught.value.kind == "config"
    assert "winrm.password" in caught.value.message and "POSHBRIDGE_TEST_UNSET_PW" in caught.value.message


# ----- the one stand-in ---------------------------------------------------------------------------------
# STAND-IN, on purpose: the scrubbing check needs a host error that quotes a bound Secret in EVERY field
# at once (message, FullyQualifiedErrorId, command name, target, nested Exception.Data keys and values)
# plus warning and verbose records. No real cmdlet writes such a record (the real engine's binding error
# quotes a value in its message only; tests/remote/test_secrets_never_leak.py covers that real case).
# So this test alone runs the lab's real WinRM listener (WSMan + PSRP + NTLM) with a stand-in engine.
USER = "certadmin"
PASSWORD = "Sentinel-WinRM-Pw-7731"


def _echo_error_engine(
    host: Any, runspace: Any, statements: list[list[Any]], input_objects: list[Any], sink: Any
) -> None:
    from poshbridge.lab.engine.contract import LabErrorRecord, TerminatingError

    for statement in statements:
        for call in statement:
            params = {(n or "").lower(): v for n, v in call.parameters}
            name = call.name.lower()
            if name == "write-output":  # the session's statement markers
                sink.output(params.get("inputobject"))
            elif name == "echo-error":
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
            else:
                raise TerminatingError(
                    LabErrorRecord(f"not recognized: {call.name}", "CommandNotFoundException")
                )


@pytest.fixture
def echo_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostConfig]:
    from poshbridge.lab.auth import write_ntlm_user_file
    from poshbridge.lab.host import TwinHost
    from poshbridge.lab.server import WinRMListener

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
    listener = WinRMListener(twin, 0, tls=None, username=USER, password=PASSWORD, invoke=_echo_error_engine)
    listener.start()
    try:
        yield HostConfig(
            name="host01",
            address="127.0.0.1",
            domains=("host01.poshbridge.test",),
            webroot="C:\\inetpub\\wwwroot",
            winrm=WinRMConfig(
                transport="http",
                port=listener.port,
                auth="ntlm",
                username=USER,
                operation_timeout=5,
                read_timeout=10,
                connection_timeout=5,
            ),
        )
    finally:
        listener.stop()


def test_a_bound_secret_echoed_in_an_error_record_is_scrubbed_everywhere(echo_endpoint: HostConfig) -> None:
    batch = Batch().add(Cmd.of("Echo-Error", Value=Secret(HMAC)), label="echo")
    with HostSession(echo_endpoint, password=Secret(PASSWORD)) as session:
        result = session.run(batch)
    (error,) = result.errors
    assert "Cannot process" in error.message and error.exception_data is not None
    assert error.target is not None and error.command is not None and error.fq_error_id is not None
    assert result.warnings and result.verbose
    assert HMAC not in repr(result), repr(result)
    assert HMAC not in str(error.to_json()) and HMAC not in str(error.target)
